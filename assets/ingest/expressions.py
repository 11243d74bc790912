"""A small, safe expression language for source specs, compiled to DuckDB SQL.

Specs never carry SQL. An expression is parsed as a Python expression and only these forms are allowed:
names (and col("any name") for names that are not identifiers), numbers, strings, None, True/False,
+ - * / % (arithmetic on numbers), comparisons, `and`/`or`/`not`, `x in (...)`, `a if cond else b`,
and calls to the functions in FUNCTIONS. Names are resolved by the caller, so an expression can only
read columns it is given; every identifier and literal is quoted, so nothing can be injected.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable

from warehouse.lake import sql_str

FUNCTIONS: dict[str, tuple[str, int, int]] = {
    # name: (SQL function, min args, max args)
    "coalesce": ("coalesce", 1, 16),
    "concat": ("concat", 1, 16),
    "lower": ("lower", 1, 1),
    "upper": ("upper", 1, 1),
    "trim": ("trim", 1, 1),
    "replace": ("replace", 3, 3),
    "round": ("round", 1, 2),
    "abs": ("abs", 1, 1),
    "least": ("least", 2, 16),
    "greatest": ("greatest", 2, 16),
    "nullif": ("nullif", 2, 2),
    "substr": ("substr", 2, 3),
    "split_part": ("split_part", 3, 3),
    "regexp_extract": ("regexp_extract", 2, 3),
    "length": ("length", 1, 1),
    "number": ("TRY_CAST", 1, 1),
    "hours_between": ("", 2, 2),
    "add_seconds": ("", 2, 2),
    "integer": ("BIGINT", 1, 1),
    "double": ("DOUBLE", 1, 1),
    "text": ("VARCHAR", 1, 1),
    "timestamp": ("TIMESTAMPTZ", 1, 1),
    "date": ("DATE", 1, 1),
    "truncate": ("date_trunc", 2, 2),
}
# Casts: integer(x), double(x), text(x), timestamp(x) and date(x) give NULL where x does not convert.
_CASTS = ("integer", "double", "text", "timestamp", "date")
NUMERIC_CASTS = ("number", "integer", "double")  # a name they read must hold a number
# One worked example per function: (expression, the raw fields it reads, its result as DuckDB's text in a UTC
# session; None is NULL). docs/SOURCES.md shows them and tests/test_spec_reference.py runs them.
EXAMPLES: dict[str, tuple[str, dict[str, str | None], str | None]] = {
    "coalesce": ('coalesce(nickname, user, "anonymous")', {"nickname": None, "user": "u042"}, "u042"),
    "concat": (
        'concat(report_date, "/", user)',
        {"report_date": "2018-08-09", "user": "user001"},
        "2018-08-09/user001",
    ),
    "lower": ("lower(system)", {"system": "Archive"}, "archive"),
    "upper": ("upper(region)", {"region": "cn-sh"}, "CN-SH"),
    "trim": ("trim(host)", {"host": "  dtn11 "}, "dtn11"),
    "replace": ('replace(amount, ",", "")', {"amount": "1,656.00"}, "1656.00"),
    "round": ("round(gpu_milli / 1000, 2)", {"gpu_milli": "460"}, "0.46"),
    "abs": ("abs(number(amount))", {"amount": "-12.5"}, "12.5"),
    "least": ("least(number(gpu_milli), 1000)", {"gpu_milli": "1500"}, "1000.0"),
    "greatest": (
        "greatest(number(read_gb), number(write_gb))",
        {"read_gb": "67.3", "write_gb": "29471.4"},
        "29471.4",
    ),
    "nullif": ('nullif(gpu_spec, "N/A")', {"gpu_spec": "N/A"}, None),
    "substr": ("substr(day, 1, 7)", {"day": "2025-08-02"}, "2025-08"),
    "split_part": ('split_part(gpu_spec, "|", 1)', {"gpu_spec": "V100M16|V100M32"}, "V100M16"),
    "regexp_extract": ('regexp_extract(name, "[0-9]+$")', {"name": "openb-pod-0042"}, "0042"),
    "length": ("length(job_id)", {"job_id": "job-17"}, "6"),
    "number": ("number(cards) * 8", {"cards": "2"}, "16.0"),
    "hours_between": (
        "hours_between(start, end)",
        {"start": "2025-08-01 08:00:00", "end": "2025-08-01 09:30:00"},
        "1.5",
    ),
    "add_seconds": (
        "add_seconds(start, duration_s)",
        {"start": "2025-08-01T08:00:00+08:00", "duration_s": "5400"},
        "2025-08-01 01:30:00+00",
    ),
    "integer": ("integer(streams)", {"streams": "8"}, "8"),
    "double": ("double(gpu_hours)", {"gpu_hours": "2.5"}, "2.5"),
    "text": ("text(number(cards) * 2)", {"cards": "4"}, "8.0"),
    "timestamp": ("timestamp(created)", {"created": "2025-08-01T08:00:00+08:00"}, "2025-08-01 00:00:00+00"),
    "date": ("date(day)", {"day": "2025-08-02"}, "2025-08-02"),
    "truncate": (
        'truncate(requested_at, "hour")',
        {"requested_at": "2023-11-16 18:15:46.6805900"},
        "2023-11-16 18:00:00+00",
    ),
}
TRUNCATE_UNITS = ("second", "minute", "hour", "day", "month")

MAX_LENGTH = 4_000  # characters of one expression
MAX_DEPTH = 64  # nesting of its syntax tree

# CPython 3.11 builds a syntax tree's objects with one interpreter-wide recursion counter: two threads parsing at
# once (staging threads compile specs) can meet when a garbage collection inside one runs Python code, and the
# first then fails with "SystemError: AST constructor recursion depth mismatch". Parsing is serialised.
_PARSING = threading.Lock()
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_CMPOPS = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class ExpressionError(ValueError):
    """An expression that is not allowed or does not parse."""


def referenced_names(expression: str) -> set[str]:
    """Names an expression reads (including col("...") references)."""
    names: set[str] = set()
    compile_expression(expression, lambda n: (names.add(n), "NULL")[1])
    return names


def parse(expression: str) -> ast.Expression:
    """The syntax tree of an expression, within MAX_LENGTH characters and MAX_DEPTH levels of nesting."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression of {len(expression)} characters is longer than {MAX_LENGTH}")
    try:
        with _PARSING:
            tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {expression!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression nested more deeply than {MAX_DEPTH} levels") from None
    stack = [(tree.body, 1)]
    while stack:  # iterative, so that the depth check itself cannot overflow
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression nested more deeply than {MAX_DEPTH} levels: {expression[:80]!r}..."
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def numeric_operands(expression: str) -> set[str]:
    """Names used directly as numbers (arithmetic operands, number(), integer(), double()): their text must parse
    as a number."""
    tree = parse(expression)
    found: set[str] = set()

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "col"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
        return None

    for node in ast.walk(tree):
        operands: list[ast.AST] = []
        if isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operands = [node.operand]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NUMERIC_CASTS:
            operands = list(node.args)
        found |= {n for n in map(name_of, operands) if n is not None}
    return found


def compile_expression(expression: str, resolve: Callable[[str], str]) -> str:
    """Compile an expression to SQL; `resolve` turns a name into the SQL that reads it."""
    return _Compiler(resolve, expression).visit(parse(expression).body)


def _number(sql: str) -> str:
    return f"TRY_CAST({sql} AS DOUBLE)"


class _Compiler:
    def __init__(self, resolve: Callable[[str], str], source: str) -> None:
        self.resolve = resolve
        self.source = source

    def fail(self, node: ast.AST, why: str) -> ExpressionError:
        return ExpressionError(f"{why} in expression {self.source!r}")

    def visit(self, node: ast.AST) -> str:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"{type(node).__name__} is not allowed")
        return method(node)

    def visit_Name(self, node: ast.Name) -> str:
        return self.resolve(node.id)

    def visit_Constant(self, node: ast.Constant) -> str:
        value = node.value
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return sql_str(value)
        raise self.fail(node, f"constant {value!r} is not allowed")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        if isinstance(node.op, ast.USub):
            return f"(-{_number(self.visit(node.operand))})"
        if isinstance(node.op, ast.Not):
            return f"(NOT {self.visit(node.operand)})"
        raise self.fail(node, "unary operator not allowed")

    def visit_BinOp(self, node: ast.BinOp) -> str:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(node, "operator not allowed")
        return f"({_number(self.visit(node.left))} {op} {_number(self.visit(node.right))})"

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        joiner = " AND " if isinstance(node.op, ast.And) else " OR "
        return "(" + joiner.join(self.visit(v) for v in node.values) + ")"

    def visit_Compare(self, node: ast.Compare) -> str:
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            lhs = self.visit(left)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.Tuple | ast.List):
                    raise self.fail(node, "`in` needs a literal list")
                items = ", ".join(self.visit(e) for e in right.elts)
                parts.append(f"({lhs} {'NOT ' if isinstance(op, ast.NotIn) else ''}IN ({items}))")
            elif isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    raise self.fail(node, "`is` compares with None only")
                parts.append(f"({lhs} IS {'NOT ' if isinstance(op, ast.IsNot) else ''}NULL)")
            else:
                sql_op = _CMPOPS.get(type(op))
                if sql_op is None:
                    raise self.fail(node, "comparison not allowed")
                parts.append(f"({lhs} {sql_op} {self.visit(right)})")
            left = right
        return "(" + " AND ".join(parts) + ")"

    def visit_IfExp(self, node: ast.IfExp) -> str:
        return f"(CASE WHEN {self.visit(node.test)} THEN {self.visit(node.body)} ELSE {self.visit(node.orelse)} END)"

    def visit_Call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.fail(node, "only plain calls of known functions are allowed")
        name = node.func.id
        if name == "col":
            if (
                len(node.args) != 1
                or not isinstance(node.args[0], ast.Constant)
                or not isinstance(node.args[0].value, str)
            ):
                raise self.fail(node, 'col() takes one string, as in col("计费时长(卡时)")')
            return self.resolve(node.args[0].value)
        if name not in FUNCTIONS:
            raise self.fail(node, f"unknown function {name}()")
        sql_name, lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            raise self.fail(node, f"{name}() takes {lo}..{hi} arguments")
        args = [self.visit(a) for a in node.args]
        if name == "number":
            return _number(args[0])
        if name == "hours_between":
            return f"(epoch(TRY_CAST({args[1]} AS TIMESTAMPTZ)) - epoch(TRY_CAST({args[0]} AS TIMESTAMPTZ))) / 3600.0"
        if name == "add_seconds":
            return f"(TRY_CAST({args[0]} AS TIMESTAMPTZ) + to_seconds({_number(args[1])}))"
        if name in _CASTS:
            return f"TRY_CAST({args[0]} AS {sql_name})"
        if name == "truncate":
            unit = node.args[1]
            if not (isinstance(unit, ast.Constant) and unit.value in TRUNCATE_UNITS):
                raise self.fail(node, f"truncate() takes a unit among {', '.join(TRUNCATE_UNITS)}")
            return f"date_trunc({args[1]}, TRY_CAST({args[0]} AS TIMESTAMPTZ))"
        return f"{sql_name}({', '.join(args)})"
