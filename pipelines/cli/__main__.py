"""`python -m pipelines.cli`: the computeflow command line."""

from pipelines.cli import main

main()
