"""Run the FinOps Foundation's FOCUS validator (focus-validator 2.2.1, rule model 1.2) on the lakehouse's export.

On demand, not part of the test suite: the validator needs Python 3.12+ and is installed from PyPI into a
virtual environment of its own (default ~/.cache/computeflow/focus-validator). It validates the file written by
`computeflow export focus --format csv` (the city's charges; `--samples` adds the reference samples) and
prints how many rules passed, failed and were skipped, and each failure.

    COMPUTEFLOW_HOME=data .venv/bin/python tests/benchmarks/focus_validator.py [--python python3.12]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VALIDATOR = "focus-validator==2.2.1"


def validator_env(python: str, where: Path) -> Path:
    """The validator's virtual environment (made once); its site-packages holds the rule model it reads."""
    bin_dir = where / "bin"
    if not (bin_dir / "focus-validator").exists():
        subprocess.run([python, "-m", "venv", str(where)], check=True)
        # numpy 2 beside the validator's pin: pyarrow, which it loads for CSV, needs it.
        pip = [str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, VALIDATOR], check=True)
        subprocess.run([*pip, "numpy>=2"], check=True)
    return where


def main() -> int:
    """Export, validate, summarise; exit 1 when a rule fails."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", default=shutil.which("python3.12") or shutil.which("python3.13"))
    parser.add_argument(
        "--env", type=Path, default=Path.home() / ".cache" / "computeflow" / "focus-validator"
    )
    parser.add_argument("--samples", action="store_true", help="include the reference samples' rows")
    args = parser.parse_args()
    if not args.python:
        print("focus-validator needs Python 3.12 or newer: pass --python", file=sys.stderr)
        return 2
    env = validator_env(args.python, args.env)
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "focus.csv"
        command = [sys.executable, "-m", "pipelines.cli", "export", "focus", "--format", "csv"]
        subprocess.run(
            [*command, "--output", str(export), *(["--samples"] if args.samples else [])], check=True
        )
        package = next(env.glob("lib/python3*/site-packages"))
        run = subprocess.run(
            [str(env / "bin" / "focus-validator"), "--data-file", str(export), "--validate-version", "1.2",
             "--block-download", "--rule-set-path", "focus_validator/rules"],
            cwd=package, capture_output=True, text=True,
        )  # fmt: skip
    lines = run.stdout.splitlines()
    counts = {word: sum(bool(re.search(rf": {word}\b", line)) for line in lines) for word in ("PASS", "FAIL")}
    counts["SKIPPED"] = sum(": SKIPPED" in line for line in lines)
    print(f"focus-validator 2.2.1, FOCUS 1.2: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIPPED']} skipped")  # fmt: skip
    for line in lines:
        if ": FAIL" in line:
            print(line.strip())
    if run.returncode not in (0, 1):
        print(run.stderr[-2000:], file=sys.stderr)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
