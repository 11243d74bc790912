"""The module seconds that order the suite are summed per module from a pytest durations report."""

from tests.module_seconds import module_seconds

REPORT = """============================= slowest durations ==============================
124.92s setup    tests/test_focus_export.py::test_every_requirement_holds_on_the_exported_files
3.50s call     tests/test_focus_export.py::test_export_of_a_span_and_with_samples[with samples]
0.40s teardown tests/test_focus_export.py::test_export_of_a_span_and_with_samples[with samples]
2.00s call     tests/test_bad_input.py::test_gzip_declared_but_plain_text
(4 durations < 0.005s hidden.  Use -vv to show these durations.)
541 passed in 933.38s (0:15:33)
"""


def test_setup_call_and_teardown_of_a_modules_tests_are_summed() -> None:
    assert module_seconds(REPORT) == {"tests/test_bad_input.py": 2, "tests/test_focus_export.py": 129}


def test_a_report_without_durations_gives_nothing() -> None:
    assert module_seconds("541 passed in 933.38s (0:15:33)\n") == {}
