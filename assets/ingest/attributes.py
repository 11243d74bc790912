"""The kept attributes of catalog records: raw fields without a canonical column, as one JSON object."""

from __future__ import annotations

import json

from assets.ingest.spec import SourceSpec
from warehouse.lake import sql_ident, sql_str

JSON_RECORDS = ("json", "jsonl")  # formats whose readers keep each record's JSON text in `__line`


def attributes_sql(spec: SourceSpec, aliases: dict[str, str], mapped: set[str]) -> str:
    """SQL of a record's kept attributes (NULL when the spec keeps none, or the record is broken).

    `aliases` gives the column of each raw field the reader extracted; `mapped` are the fields read whole by
    the spec's columns and values, which `keep: unmapped` leaves out (with the spec's ignore_columns)."""
    if spec.attributes is None:
        return "CAST(NULL AS JSON)"
    keep, record = spec.attributes.keep, spec.format.type in JSON_RECORDS
    left_out = mapped | set(spec.ignore_columns)
    if keep == "unmapped" and record:
        patch = json.dumps(dict.fromkeys(sorted(left_out)), ensure_ascii=False)
        return f"CASE WHEN NOT __broken THEN json_merge_patch(__line, {sql_str(patch)}) END"
    names = [f for f in aliases if f not in left_out] if keep == "unmapped" else keep
    members = []
    for name in names:
        if record:
            value = f"json_extract(__line, {sql_str(json_path(name))})"
        elif name in aliases:
            value = f"to_json({sql_ident(aliases[name])})"
        else:
            continue  # an optional column the file lacks
        key = sql_str(json.dumps(name, ensure_ascii=False) + ":")
        members.append(f"CASE WHEN {value} IS NOT NULL THEN {key} || {value} END")
    body = f"'{{' || concat_ws(',', {', '.join(members)}) || '}}'" if members else "'{}'"
    return f"CASE WHEN NOT __broken THEN CAST({body} AS JSON) END"


def json_path(name: str) -> str:
    """The JSON path of a top-level key."""
    escaped = name.replace('"', '\\"')
    return f'$."{escaped}"'
