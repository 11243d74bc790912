"""docs/SOURCES.md, generated: every spec key (from the spec models), the canonical columns, the expression
language and the quarantine rules, around the hand-written guide of spec_reference.md.

It lives outside assets/ so that editing the guide does not change the code version of every asset.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from assets.ingest.compile import FILE_DAY
from assets.ingest.enrich import DERIVED
from assets.ingest.expressions import EXAMPLES, FUNCTIONS, MAX_DEPTH, MAX_LENGTH
from assets.ingest.spec import SourceSpec
from assets.ingest.targets import TARGETS
from pipelines.spec_terms import FILLED_IN, FUNCTION_MEANINGS, QUARANTINE_RULES
from warehouse.settings import CONTRACTS_DIR

TEMPLATE = Path(__file__).with_name("spec_reference.md")

_SHIPPED = ("azure_llm_trace", "alibaba_pai", "nersc_hpss")  # the worked examples, included verbatim
_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Key:
    """One key of a spec model as the reference lists it."""

    name: str
    type: str
    default: str
    allowed: str
    description: str


def documented_models() -> dict[type[BaseModel], list[str]]:
    """Every model a spec is made of, from SourceSpec down, with the paths where it occurs (first seen first)."""
    found: dict[type[BaseModel], list[str]] = {SourceSpec: [""]}
    queue: list[tuple[type[BaseModel], str]] = [(SourceSpec, "")]
    while queue:
        model, path = queue.pop(0)
        for name, field in model.model_fields.items():
            for child, suffix in _nested(field.annotation):
                child_path = f"{path}{name}{suffix}"
                if child not in found:
                    found[child] = []
                    queue.append((child, f"{child_path}."))
                if child_path not in found[child]:
                    found[child].append(child_path)
    return found


def _nested(annotation: object, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """Models inside an annotation, with the path suffix that reaches them (`[]` for lists, `.<name>` maps)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        yield from _nested(args[0], suffix + "[]")
    elif origin is dict:
        yield from _nested(args[1], suffix + ".<name>")
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _nested(arg, suffix)


def own_fields(model: type[BaseModel]) -> list[str]:
    """The fields a model adds to the documented model it extends (all of them for the others)."""
    base = next((b for b in model.__mro__[1:] if b in documented_models()), None)
    inherited = set(base.model_fields) if base else set()
    return [name for name in model.model_fields if name not in inherited]


def model_keys(model: type[BaseModel]) -> list[Key]:
    """The keys of a model, in declaration order."""
    keys = []
    for name in own_fields(model):
        field = model.model_fields[name]
        type_text, allowed = _type_of(field.annotation)
        allowed = ", ".join(filter(None, [allowed, *(_constraint(m) for m in field.metadata)]))
        keys.append(Key(name, type_text, _default_of(field), allowed, field.description or ""))
    return keys


def _type_of(annotation: object) -> tuple[str, str]:
    """A type in words, and the values a Literal allows."""
    if typing.get_origin(annotation) is typing.Literal:
        return "string", ", ".join(f"`{v}`" for v in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})", ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        inner, allowed = _type_of(args[0])
        return f"list of {inner}", allowed
    if origin is dict:
        inner, allowed = _type_of(args[1])
        return f"map of {_type_of(args[0])[0]} to {inner}", allowed
    if origin in (typing.Union, types.UnionType):
        parts = [_type_of(a) for a in args if a is not type(None)]
        names = [p[0] for p in parts]
        text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return text, ", ".join(p[1] for p in parts if p[1])
    return _SCALARS[typing.cast(type, annotation)], ""


def _constraint(meta: object) -> str:
    if isinstance(meta, annotated_types.Ge):
        return f">= {meta.ge}"
    if isinstance(meta, annotated_types.Gt):
        return f"> {meta.gt}"
    if isinstance(meta, annotated_types.Le):
        return f"<= {meta.le}"
    pattern = getattr(meta, "pattern", None)
    return f"matches `{pattern}`" if pattern else ""


def _default_of(field: typing.Any) -> str:
    if field.default_factory is not None:
        factory = field.default_factory
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return "its keys' defaults"
        return f"`{factory()!r}`".replace("'", "")
    if field.default is PydanticUndefined:
        return "**required**"
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`" if value != "" else '`""`'


def _md(text: str) -> str:
    """Text for a table cell: pipes escaped, and < > escaped outside code spans."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def keys_markdown() -> str:
    """A section per spec model: where it occurs and a table of its keys."""
    out = []
    models = documented_models()
    for model, paths in models.items():
        where = "the top level of a spec file" if paths == [""] else ", ".join(f"`{p}`" for p in paths)
        doc = " ".join((model.__doc__ or "").split())
        out.append(f"### {model.__name__}\n\nAt {where}. {_md(doc)}\n")
        base = next((b for b in model.__mro__[1:] if b in models), None)
        if base is not None:
            out.append(f"Every key of [{base.__name__}](#{base.__name__.lower()}), and:\n")
        out.append("| key | type | default | allowed | description |\n|---|---|---|---|---|")
        out += [
            f"| `{k.name}` | {k.type} | {k.default} | {_md(k.allowed)} | {_md(k.description)} |"
            for k in model_keys(model)
        ]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def columns_markdown() -> str:
    """A table per kind: the columns a spec maps into, then the columns ingest derives."""
    out = []
    for kind, target in TARGETS.items():
        out.append(f"### {kind}\n\nRequired: {', '.join(f'`{c}`' for c in target.required)}.\n")
        out.append("| column | type | required | when unmapped |\n|---|---|---|---|")
        for column, sql_type in target.inputs.items():
            default = FILLED_IN.get(kind, {}).get(column) or (
                f"`{target.defaults[column].strip(chr(39))}`" if column in target.defaults else "NULL"
            )
            required = "yes" if column in target.required else ""
            out.append(f"| `{column}` | {sql_type} | {required} | {_md(default)} |")
        derived = DERIVED[kind]
        if derived:
            listed = ", ".join(f"`{c}` ({t})" for c, t in derived.items())
            out.append(f"\nDerived by ingest (readable by rules, not mappable): {listed}.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def functions_markdown() -> str:
    """Every function of the expression language with its arity, meaning and a worked example."""
    missing = sorted(set(FUNCTIONS) - set(EXAMPLES) | set(FUNCTIONS) - set(FUNCTION_MEANINGS))
    if missing:
        raise KeyError(f"functions without an example or a meaning: {', '.join(missing)}")
    out = [
        "| function | arguments | what it gives | example | fields | result |",
        "|---|---|---|---|---|---|",
    ]
    for name, (_, low, high) in FUNCTIONS.items():
        expression, fields, result = EXAMPLES[name]
        arity = str(low) if low == high else f"{low} to {high}"
        given = ", ".join(f"{k} = {'NULL' if v is None else repr(v)}" for k, v in fields.items())
        shown = "NULL" if result is None else result
        out.append(
            f"| `{name}` | {arity} | {_md(FUNCTION_MEANINGS[name])} | `{_md(expression)}` | "
            f"`{_md(given)}` | `{shown}` |"
        )
    return "\n".join(out) + "\n"


def names_markdown() -> str:
    """The names an expression can read besides the raw fields."""
    rows = [
        ("a raw field", "`gpu_milli`", "a field of the record, as text (see `column` for what a field is)"),
        (
            '`col("...")`',
            '`col("计费时长(卡时)")`',
            "a raw field whose name is not an identifier (spaces, brackets, Chinese, a JSON path)",
        ),
        (
            "a named value",
            "`requested_at`",
            "a key of `values`: computed once per record, typed; later values may read earlier ones",
        ),
        (
            f"`{FILE_DAY}`",
            f"`concat({FILE_DAY}, ' 00:00:00')`",
            "the day the file's path names (its partition), as text YYYY-MM-DD; NULL for an undated source",
        ),
        (
            "`record_type`",
            "`record_type == 'user'`",
            "regex formats: the name of the pattern the line matched",
        ),
        (
            "a canonical or derived column",
            "`consumed_quantity == 0`",
            "in `rules[].when` only: the row's typed column (of the line, for specs with `lines`)",
        ),
    ]
    out = ["| name | example | what it reads |", "|---|---|---|"]
    out += [f"| {name} | {example} | {_md(meaning)} |" for name, example, meaning in rows]
    limits = f"An expression has at most {MAX_LENGTH:,} characters and {MAX_DEPTH} levels of nesting."
    return "\n".join(out) + f"\n\n{limits}\n"


def quarantine_markdown() -> str:
    """Every rule a row can be quarantined (or skipped) under, with its meaning."""
    out = ["| rule | meaning |", "|---|---|"]
    out += [f"| `{name}` | {_md(meaning)} |" for name, meaning in QUARANTINE_RULES]
    return "\n".join(out) + "\n"


def _shipped_spec(name: str) -> str:
    text = (CONTRACTS_DIR / "sources" / f"{name}.yaml").read_text(encoding="utf-8")
    return f"```yaml\n{text.rstrip()}\n```\n"


SECTIONS = {
    "keys": keys_markdown,
    "columns": columns_markdown,
    "names": names_markdown,
    "functions": functions_markdown,
    "quarantine": quarantine_markdown,
    **{f"spec:{name}": (lambda name=name: _shipped_spec(name)) for name in _SHIPPED},
}


def reference_markdown() -> str:
    """docs/SOURCES.md: the guide with each `{{section}}` replaced by its generated text."""
    template = TEMPLATE.read_text(encoding="utf-8")
    return re.sub(r"\{\{([a-z_:]+)\}\}\n", lambda m: SECTIONS[m.group(1)](), template)
