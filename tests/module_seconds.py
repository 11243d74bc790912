"""Write tests/module_seconds.json, the seconds each test module takes, from a whole run's durations report:

    pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=0 | python -m tests.module_seconds

The suite orders modules longest first with it (conftest.pytest_collection_modifyitems)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

LINE = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S+?)::")


def module_seconds(report: str) -> dict[str, int]:
    """Seconds per module (setup, call and teardown of its tests summed), from a --durations=0 report."""
    seconds: dict[str, float] = {}
    for line in report.splitlines():
        found = LINE.match(line)
        if found:
            seconds[found[2]] = seconds.get(found[2], 0.0) + float(found[1])
    return {module: round(total) for module, total in sorted(seconds.items())}


if __name__ == "__main__":
    measured = module_seconds(sys.stdin.read())
    if not measured:
        sys.exit("no durations in the report: run pytest with --durations=0")
    target = Path(__file__).with_name("module_seconds.json")
    target.write_text(json.dumps(measured, indent=1) + "\n", encoding="utf-8")
    print(f"{target}: {len(measured)} modules, {sum(measured.values())} s")
