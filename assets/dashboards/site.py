"""Write the static dashboard site from the published warehouse: one HTML page per dashboard plus an index.

Everything the pages need is local (plotly.js is copied from the plotly package), so the site works offline.
Text from data reaches the HTML only through Jinja2's autoescaping or as JSON with <, > and & escaped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import duckdb
import jinja2
from markupsafe import Markup

from assets.dashboards.page_model import NAMED_COLUMNS, Dataset, Page
from assets.dashboards.pages import OVERVIEW, PAGES
from assets.dictionary.sources import SampleKey, is_sample, sample_keys
from warehouse.ducklake import LakeConfig, connect_reader
from warehouse.lake import sql_ident

HERE = Path(__file__).parent
# The Chinese names of ids, from the reference tables: (kind, table, id column, name column).
NAMES = (
    ("tenant", "ref.tenants", "tenant_id", "tenant_name"),
    ("provider", "ref.providers", "provider_id", "provider_name_zh"),
    ("site", "ref.sites", "site_id", "site_name_zh"),
)
FILTER_NAMES = {"date": "date range", "tenant": "tenant", "provider": "provider", "series": "series"}
FILTERS = tuple(FILTER_NAMES)
SAMPLE_COLUMN = "is_sample"
CHECK_COLUMNS = {
    "asset": "VARCHAR",
    "check_name": "VARCHAR",
    "passed": "BOOLEAN",
    "severity": "VARCHAR",
    "blocking": "BOOLEAN",
    "failed_expectations": "BIGINT",
    "evaluated_at": "TIMESTAMPTZ",
}
# Column types whose values JSON takes as they are, once _json_ready has converted numbers and days (the
# others go through _plain).
JSON_READY = frozenset(
    [
        "DOUBLE",
        "VARCHAR",
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    ]
)


@dataclass(frozen=True)
class PageOutcome:
    """What was written for a page: its file, rows embedded and the tables it lacked."""

    name: str
    path: Path
    rows: int
    missing: list[str]


def _plain(value: object) -> object:
    """A JSON-ready value (numbers as floats, NaN as null, days and times as ISO text, lists as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value


def script_json(document: object) -> Markup:
    """JSON safe inside a <script> element: no character of it can close the element or start markup."""
    text = json.dumps(document, ensure_ascii=False, default=_plain, allow_nan=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return Markup(text)


def published_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """schema.table of every table and view in the connection (the checks table included)."""
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, table_name FROM duckdb_tables() "
        "WHERE database_name IN (current_database(), 'temp') UNION ALL "
        "SELECT schema_name || '.' || view_name, view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return {name for row in rows for name in row}


def _sample_keys(con: duckdb.DuckDBPyConnection, key: SampleKey) -> str:
    """A temp table of the sample keys of one kind, read from the lake once per connection."""
    table = f"__sample_{key}s"
    try:  # looking in the temp catalog only: CREATE ... IF NOT EXISTS would bind its query on the lake each time
        con.execute(f"SELECT 1 FROM temp.main.{table} LIMIT 0")
    except duckdb.CatalogException:
        con.execute(f"CREATE TEMP TABLE {table} AS {sample_keys(key)}")
    return table


def _json_ready(column: str, sql_type: str) -> str:
    """A select-list item giving a column's values in a type JSON takes as it is, where DuckDB can convert it."""
    name = sql_ident(column)
    if sql_type.startswith("DECIMAL") or sql_type in ("DOUBLE", "FLOAT"):
        return f"CAST(CASE WHEN isfinite({name}) THEN {name} END AS DOUBLE) AS {name}"
    if sql_type == "DATE":
        return f"CAST({name} AS VARCHAR) AS {name}"
    return name


def _dataset(con: duckdb.DuckDBPyConnection, ds: Dataset) -> dict:
    """A dataset's rows (with the sample flag when it has one) and the columns its filters act on."""
    sql = ds.sql
    if ds.sample is not None:
        key, column = ds.sample
        flag = is_sample(key, column, _sample_keys(con, key))
        sql = f"SELECT *, {flag} AS {SAMPLE_COLUMN} FROM ({ds.sql}) ORDER BY ALL"
    relation = con.sql(sql)
    columns, types = relation.columns, [str(t) for t in relation.types]
    # Numbers leave DuckDB as doubles (no Decimal objects; NaN and infinities as null) and days as ISO text.
    relation = relation.project(", ".join(_json_ready(c, t) for c, t in zip(columns, types, strict=True)))
    rows = relation.fetchall()
    converted = [i for i, t in enumerate(relation.types) if str(t) not in JSON_READY]
    if rows and converted:  # column by column, only the columns whose values JSON cannot take as they are
        values = list(zip(*rows, strict=True))
        for i in converted:
            values[i] = tuple(map(_plain, values[i]))
        rows = list(zip(*values, strict=True))
    filters = {k: getattr(ds, k) for k in FILTERS}
    return {"columns": columns, "rows": rows, **filters, "sample": SAMPLE_COLUMN if ds.sample else None}


def reference_names(con: duckdb.DuckDBPyConnection, existing: set[str]) -> dict[str, dict[str, str]]:
    """The Chinese name of each tenant, provider and site id the reference tables have."""
    names = {}
    for kind, table, key, name in NAMES:
        if table in existing:
            rows = con.execute(f"SELECT {key}, {name} FROM {table} WHERE {name} IS NOT NULL").fetchall()
            names[kind] = dict(rows)
    return names


def page_filters(datasets: dict[str, dict]) -> dict[str, bool]:
    """The filters a page shows: those some dataset acts on, and the samples toggle."""
    shown = {k: any(d.get(k) for d in datasets.values()) for k in FILTERS}
    return {**shown, "samples": any(d["sample"] for d in datasets.values())}


def fixed_note(ignores: list[str]) -> str:
    """What a figure that cannot follow some of the page's filters says beside it ('' when it follows all)."""
    filters = [FILTER_NAMES[k] for k in ignores if k != "samples"]
    parts = [f"not filtered by {', '.join(filters)}"] if filters else []
    if "samples" in ignores:
        parts.append("the same with or without reference samples")
    return "; ".join(parts)


def page_document(
    con: duckdb.DuckDBPyConnection, page: Page, existing: set[str], names: dict[str, dict[str, str]]
) -> tuple[dict, list[str]]:
    """The page's embedded data (datasets, charts, tables, figures, names) and the tables it lacks."""
    missing = [t for t in page.needs if t not in existing]
    datasets = {
        name: _dataset(con, ds)
        for name, ds in page.datasets.items()
        if not any(t in missing for t in ds.tables)
    }
    filters = page_filters(datasets)
    figures = []
    for f in page.figures:
        ds = datasets.get(f.dataset, {})
        # the page's filters this figure cannot follow (said beside it)
        ignores = [k for k in FILTERS if filters[k] and not ds.get(k)]
        if filters["samples"] and not ds.get("sample"):
            ignores.append("samples")
        figures.append({**asdict(f), "ignores": ignores, "fixed": fixed_note(ignores)})
    charts = []
    for c in page.charts:
        chart = {k: v for k, v in asdict(c).items() if k != "extra"}
        charts.append({**chart, **c.extra})
    tables = [asdict(t) for t in page.tables]
    return {
        "page": page.name,
        "datasets": datasets,
        "filters": filters,
        "charts": charts,
        "tables": tables,
        "figures": figures,
        "names": names,
        "named_columns": NAMED_COLUMNS,
    }, missing


def _write(path: Path, text: str | bytes) -> None:
    """Replace a file atomically, so a browser never reads half a page."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    if isinstance(text, bytes):
        temp.write_bytes(text)
    else:
        temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def copy_static(out_dir: Path) -> None:
    """plotly.js, the page script and the style sheet into <out_dir>/assets."""
    target = out_dir / "assets"
    target.mkdir(parents=True, exist_ok=True)
    plotly = files("plotly") / "package_data" / "plotly.min.js"
    _write(target / "plotly.min.js", plotly.read_bytes())
    for name in ("dashboard.js", "dashboard.css"):
        shutil.copyfile(HERE / "static" / name, target / f".{name}.tmp")
        os.replace(target / f".{name}.tmp", target / name)


def build_site(lake: LakeConfig, out_dir: Path, checks: list[dict], built_at: datetime) -> list[PageOutcome]:
    """Write every page and the index from the lake's latest snapshot (read-only) and the latest check
    results."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_static(out_dir)
    common = {
        "pages": PAGES,
        "built_at": built_at.strftime("%Y-%m-%d %H:%M UTC"),
        "warehouse": f"the lakehouse {lake.catalog_url}",
    }
    outcomes = []
    with connect_reader(lake) as con:
        columns = ", ".join(f"{c} {t}" for c, t in CHECK_COLUMNS.items())
        con.execute(f"CREATE TEMP TABLE checks ({columns})")
        if checks:
            con.executemany(
                f"INSERT INTO checks VALUES ({', '.join('?' for _ in CHECK_COLUMNS)})",
                [[c[k] for k in CHECK_COLUMNS] for c in checks],
            )
        existing = published_tables(con)
        names = reference_names(con, existing)
        statuses = []
        for page in (*PAGES, OVERVIEW):  # the overview last: it lists the other pages and what they lack
            document, missing = page_document(con, page, existing, names)
            html = env.get_template("page.html.j2").render(
                **common,
                title=page.title,
                current=page.name,
                page=page,
                missing=missing,
                filters=document["filters"],
                figures=document["figures"],
                charts=document["charts"],
                tables=document["tables"],
                statuses=statuses if page is OVERVIEW else [],
                data_json=script_json(document),
            )
            path = out_dir / f"{page.name}.html"
            _write(path, html)
            rows = sum(len(d["rows"]) for d in document["datasets"].values())
            outcomes.append(PageOutcome(page.name, path, rows, missing))
            statuses.append(
                {
                    "name": page.name,
                    "title": page.title,
                    "summary": page.summary,
                    "tables": page.needs,
                    "missing": missing,
                }
            )
    return outcomes
