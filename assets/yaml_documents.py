"""Load a YAML file into a strict pydantic model, with errors that name the file and every bad key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)
MAX_BYTES = 1 << 20  # a spec or policy file
MAX_DEPTH = 32  # levels of nested mappings and lists
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


class Strict(BaseModel):
    """A model of a YAML file (or a part of one): unknown keys are refused, and a loaded model does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


def _check_depth(document: object, path: Path, error: type[Exception]) -> None:
    """Refuse a document nested more than MAX_DEPTH levels (walked without recursion)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error(f"{path}: nested more deeply than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)


def load_yaml_model(path: Path, model: type[Model], error: type[Exception], what: str) -> Model:
    """Parse `path` as YAML and validate it as `model`; raise `error` naming the file (and each bad key)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise error(
                f"{path}: a {what} is at most {MAX_BYTES:,} bytes, this file has {path.stat().st_size:,}"
            )
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
        _check_depth(raw, path, error)
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    except RecursionError:
        raise error(f"{path}: nested more deeply than {MAX_DEPTH} levels") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} is a mapping of keys, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(_format_errors(path, exc)) from None
