"""docs/ANALYSTS.md and the notebook run against the demo warehouse: every question's SQL, every Python example."""

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Deployment
from warehouse.settings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "ANALYSTS.md"
NOTEBOOK = REPO_ROOT / "docs" / "analyst_notebook.ipynb"
QUESTION = re.compile(r"^### (\d+)\. (.+?)\n(.*?)```sql\n(.*?)```", re.M | re.S)


def questions() -> list[tuple[int, str, str]]:
    """(number, question, SQL) of each question in the doc."""
    return [(int(m[1]), m[2], m[4]) for m in QUESTION.finditer(DOC.read_text(encoding="utf-8"))]


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_asks_ten_questions() -> None:
    assert [n for n, _, _ in questions()] == list(range(1, 11))


@pytest.mark.parametrize(("number", "question", "sql"), questions(), ids=[f"q{n}" for n, _, _ in questions()])
def test_question_runs_on_the_demo_warehouse(demo: Deployment, number: int, question: str, sql: str) -> None:
    assert demo.query(sql), question


def test_python_examples_run(
    demo: Deployment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = code_blocks("python")
    assert blocks
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(demo.settings.home))
    for block in blocks:
        exec(compile(block, "ANALYSTS.md", "exec"), {})
    assert "cny_per_pflop_hour" in capsys.readouterr().out


def test_sql_examples_outside_the_questions_run(demo: Deployment) -> None:
    numbered = {sql for _, _, sql in questions()}
    for block in code_blocks("sql"):
        if block not in numbered:
            assert demo.query(block)


def test_the_notebook_is_valid_and_its_code_runs(
    demo: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4 and notebook["cells"]
    assert all(
        c["cell_type"] in ("markdown", "code") and isinstance(c["source"], list) for c in notebook["cells"]
    )
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    # The notebook opens the lakehouse of COMPUTEFLOW_HOME (./data when unset): the demo's, from elsewhere.
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(demo.settings.home))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, NOTEBOOK.name, "exec"), namespace)
    assert namespace["share"].height > 0 and namespace["monthly"].height > 0
    namespace["con"].close()
