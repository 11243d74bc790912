"""The spec expression language compiles to SQL that DuckDB runs, and refuses everything else."""

import gc
import threading
from collections.abc import Iterator

import duckdb
import pytest

from assets.ingest.expressions import (
    ExpressionError,
    compile_expression,
    numeric_operands,
    parse,
    referenced_names,
)
from warehouse.lake import sql_ident


def evaluate(expression: str, **row: str | None) -> object:
    con = duckdb.connect()
    columns = ", ".join(f"CAST(? AS VARCHAR) AS {sql_ident(k)}" for k in row) or "1 AS dummy"
    sql = compile_expression(expression, sql_ident)
    return con.execute(f"SELECT {sql} FROM (SELECT {columns})", list(row.values())).fetchone()[0]


def test_arithmetic_on_text_fields_converts_units() -> None:
    assert evaluate("amount_fen / 100", amount_fen="12345") == pytest.approx(123.45)
    assert evaluate("gpu_milli / 1000 * num_gpu", gpu_milli="250", num_gpu="1") == pytest.approx(0.25)


def test_names_that_are_not_identifiers_use_col() -> None:
    assert evaluate('col("计费时长(卡时)") * 2', **{"计费时长(卡时)": "1.5"}) == pytest.approx(3.0)


def test_conditionals_membership_and_functions() -> None:
    assert evaluate('"gpu" if kind in ("a", "b") else "cpu"', kind="a") == "gpu"
    assert evaluate('concat(upper(a), "-", b)', a="x", b="y") == "X-y"
    assert evaluate("coalesce(a, b)", a=None, b="z") == "z"
    assert evaluate("a is None", a=None) is True


def test_unparsable_numbers_become_null_not_errors() -> None:
    assert evaluate("a / 100", a="N/A") is None


def test_referenced_and_numeric_names() -> None:
    assert referenced_names('concat(a, col("b c"))') == {"a", "b c"}
    assert numeric_operands('x / 3600 + number(col("y z")) if s == "k" else 0') == {"x", "y z"}


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "a.__class__",
        "a[0]",
        "lambda: 1",
        "open('/etc/passwd')",
        "a; DROP TABLE x",
        "[x for x in a]",
        "col(a)",
    ],
)
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(expression, sql_ident)


def test_string_literals_cannot_break_out_of_quotes() -> None:
    assert evaluate('concat(a, "\'); DROP TABLE t; --")', a="x") == "x'); DROP TABLE t; --"


def test_identifiers_cannot_break_out_of_quotes() -> None:
    name = 'a" FROM (SELECT 1) --'
    assert evaluate(f"col({name!r})", **{name: "v"}) == "v"


@pytest.mark.parametrize(
    "expression", ["a" + " + a" * 5_000, "a" + " + a" * 200, "abs(" * 100 + "a" + ")" * 100]
)
def test_huge_or_deep_expressions_are_refused_clearly(expression: str) -> None:
    with pytest.raises(ExpressionError, match=r"longer than 4000|nested more deeply than 64 levels"):
        compile_expression(expression, lambda name: name)


@pytest.fixture
def collect_at_every_allocation() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.set_threshold(1)
    yield
    gc.set_threshold(*threshold)


def test_two_threads_parse_at_once(collect_at_every_allocation: None) -> None:
    """Staging threads compile specs at once: a garbage collection inside one thread's parse lets the other thread
    parse (from a different stack depth) before the first has finished; both parses must succeed."""
    expression = "coalesce(a, b) + round(x * 2, 1) if y > 0 else (z - 1) * ((w + 1) * (v + 2))"
    second_may_parse, second_done = threading.Event(), threading.Event()
    armed = threading.Event()
    errors: list[BaseException] = []

    def let_the_second_thread_parse(phase: str, info: dict) -> None:
        if phase == "start" and armed.is_set() and threading.current_thread().name == "first":
            armed.clear()
            second_may_parse.set()
            second_done.wait(timeout=1)  # it cannot finish while the first thread's parse holds the parser

    def first() -> None:
        armed.set()
        while armed.is_set():
            try:
                parse(expression)
            except Exception as exc:
                errors.append(exc)
                return

    def nested(levels: int) -> None:
        if levels:
            nested(levels - 1)
        else:
            parse(expression)

    def second() -> None:
        second_may_parse.wait(timeout=10)
        try:
            nested(10)
        except Exception as exc:
            errors.append(exc)
        second_done.set()

    gc.callbacks.append(let_the_second_thread_parse)
    try:
        threads = [
            threading.Thread(target=first, name="first"),
            threading.Thread(target=second, name="second"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.callbacks.remove(let_the_second_thread_parse)
    assert second_may_parse.is_set() and second_done.is_set()
    assert errors == []
