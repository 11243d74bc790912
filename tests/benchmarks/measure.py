"""Measure a command's wall time and the peak resident memory of its process tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": time.perf_counter() - start, "returncode": code,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024}))
"""


def measure(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a command in a fresh probe process; returns wall seconds, return code, CPU seconds (user + system)
    and peak RSS (MiB)."""
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *command],
        stdout=subprocess.PIPE,  # the probe's figures; the command's errors reach this process's stderr
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])
