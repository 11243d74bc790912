"""docs/SOURCES.md is what `computeflow sources reference` writes: every spec key with its description, every
expression function with an example that runs, and every quarantine rule the engine can give a row."""

import html
import inspect
import re
import typing
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import assets.ingest.compile as compile_module
from assets.ingest.compile import compile_source, raw_fields_of
from assets.ingest.enrich import SqlRuleName, usage_enrich
from assets.ingest.expressions import EXAMPLES, FUNCTIONS, compile_expression
from assets.ingest.readers import RawRelation
from assets.ingest.refdata import Rate, RefSnapshot
from assets.ingest.spec import SourceSpec, load_specs
from assets.ingest.targets import TARGETS
from pipelines.cli import main
from pipelines.spec_terms import FILLED_IN, QUARANTINE_RULES
from warehouse.lake import sql_ident, sql_str
from warehouse.settings import CONTRACTS_DIR, REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "SOURCES.md"


def test_the_committed_reference_is_current(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sources", "reference"])
    assert result.exit_code == 0, result.output
    committed = DOCUMENT.read_text(encoding="utf-8")
    assert result.output == committed, "regenerate it: computeflow sources reference --output docs/SOURCES.md"
    written = tmp_path / "SOURCES.md"
    assert CliRunner().invoke(main, ["sources", "reference", "--output", str(written)]).exit_code == 0
    assert written.read_text(encoding="utf-8") == committed


def spec_models() -> set[type[BaseModel]]:
    """SourceSpec and every model nested in it, found from the field annotations."""
    found: set[type[BaseModel]] = set()
    todo: list[object] = [SourceSpec]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item not in found:
                found.add(item)
                todo += [f.annotation for f in item.model_fields.values()]
        else:
            todo += typing.get_args(item)
    return found


def section(text: str, model: type[BaseModel]) -> str:
    """The reference's section of one model (up to the next heading)."""
    start = text.index(f"\n### {model.__name__}\n")
    return text[start : text.index("\n#", start + 1)]


def test_every_spec_key_is_listed_with_its_description() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    models = spec_models()
    assert len(models) >= 11
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description and field.description.strip(), (
                f"{model.__name__}.{name} has no description"
            )
            owner = next(m for m in reversed(model.__mro__) if m in models and name in m.model_fields)
            rows = [r for r in section(text, owner).splitlines() if r.startswith(f"| `{name}` |")]
            assert len(rows) == 1, f"{owner.__name__}.{name} is not listed once"
            assert words(field.description) in words(html.unescape(rows[0]))


def words(text: str) -> str:
    """Text reduced to its words, to compare it whatever markdown does to its punctuation."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def run_example(expression: str, fields: dict[str, str | None]) -> str | None:
    """An expression's result as text, over a one-row relation of text fields, in a UTC session."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    row = ", ".join(
        f"CAST({'NULL' if v is None else sql_str(v)} AS VARCHAR) AS {sql_ident(k)}" for k, v in fields.items()
    )
    sql = compile_expression(expression, sql_ident)
    return con.execute(f"SELECT CAST({sql} AS VARCHAR) FROM (SELECT {row})").fetchone()[0]


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_function_has_an_example_that_runs(function: str) -> None:
    expression, fields, result = EXAMPLES[function]
    assert re.search(rf"\b{function}\(", expression)
    assert run_example(expression, fields) == result
    shown = "NULL" if result is None else result
    assert any(
        line.startswith(f"| `{function}` |") and f"`{shown}` |" in line
        for line in DOCUMENT.read_text(encoding="utf-8").splitlines()
    )


def documented(name: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"<[a-z]+>", ".+", re.escape(name).replace("\\<", "<").replace("\\>", ">")))


def test_every_rule_the_engine_gives_a_row_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compile every shipped spec and collect the rule names of its judgement; each has a documented form, and
    each documented form comes from the compiler or the engine."""
    produced: set[str] = set()

    def record(name: str) -> str:
        match = re.match(r"'([a-z_]+):'", name) if isinstance(name, SqlRuleName) else None
        produced.add(f"{match.group(1)}:cur:day" if match else str(name))
        return "NULL"

    monkeypatch.setattr(compile_module, "rule_name", record)
    ref = RefSnapshot(
        {}, {}, {}, {}, (), (Rate(("USD",), date(2020, 1, 1), None, (7.1,)),), frozenset({"T1"})
    )
    own: set[str] = set()
    for spec in load_specs(CONTRACTS_DIR / "sources"):
        fields = sorted(raw_fields_of(spec))
        columns = ", ".join(f"NULL AS __f{i}" for i in range(len(fields)))
        raw = RawRelation(f"SELECT NULL AS __row, {columns}", fields, "NULL", header_sql="FALSE")
        compile_source(spec, raw, ref, "file.csv", "2025-08-02")
        own |= {r.name for r in spec.rules}
    forms = {
        name: documented(name) for name, _ in QUARANTINE_RULES if name not in ("<rule>", "duplicate_key")
    }
    undocumented = {n for n in produced - own if not any(f.fullmatch(n) for f in forms.values())}
    assert not undocumented
    assert {name for name, form in forms.items() if not any(form.fullmatch(n) for n in produced)} == set()
    engine = "".join(
        (REPO_ROOT / "assets" / "ingest" / name).read_text(encoding="utf-8")
        for name in ("engine.py", "staging.py")
    )
    assert "'duplicate_key'" in engine and "'unparsable_record'" in engine


def test_the_columns_said_to_be_filled_in_are_those_ingest_fills() -> None:
    for kind, columns in FILLED_IN.items():
        assert set(columns) <= set(TARGETS[kind].inputs)
    filled = set(re.findall(r'^\s+"([a-z_]+)": ', inspect.getsource(usage_enrich), re.M))
    assert set(FILLED_IN["usage"]) - {"billing_currency"} == filled
