"""Lookup of the raw licence, modality, language and task values of dataset catalogs to normalised terms.

Licences map through ref.licenses (SPDX ids), modalities through ref.modalities, tasks through the first
matching pattern of ref.task_categories. A language value that ref.programming_languages names (`JavaScript`,
`CSS`, `Lua`) is a programming language (facet `programming_language`); any other maps through the IETF/ISO 639
data of `langcodes` only on an exact code (two letters, or three written in lower case) or an exact name in some
language ('Mandarin Chinese', '中文', 'français', 'English (Accented)' without its qualifier). A value that
nothing maps keeps a NULL normalised value, so it stays visible in core.dataset_terms.
"""

from __future__ import annotations

import re
from functools import lru_cache

import duckdb
import langcodes
import pyarrow as pa

# Facet -> the catalog columns holding its raw values (a list column, then an optional scalar fallback).
FACETS = {
    "license": ("licenses", "license"),
    "modality": ("modality", None),
    "language": ("languages", None),
    "task": ("tasks", None),
}
_QUALIFIER = re.compile(r"\s*\([^)]*\)?\s*$")


def _candidates(raw: str) -> list[str]:
    """Spellings to try: as given, without a trailing '(...)' qualifier, and name parts turned around."""
    text = raw.strip()
    bare = _QUALIFIER.sub("", text).strip()
    turned = [", ".join(reversed(bare.split(", ")))] if ", " in bare else []
    words = bare.split(" ")
    if len(words) == 2:
        turned.append(f"{words[1]} {words[0]}")
    return [c.replace(", ", " ") for c in dict.fromkeys([text, bare, *turned]) if c]


def _is_code(text: str) -> bool:
    """A language tag as catalogs write one (`zh`, `pt-BR`, `yue`): its language two letters, or three in lower
    case (upper-case three-letter words such as CSS or XML are acronyms, not ISO 639-3 codes)."""
    language = re.split(r"[-_]", text, maxsplit=1)[0]
    return langcodes.tag_is_valid(text) and (
        len(language) == 2 or (len(language) == 3 and language.islower())
    )


def _named_exactly(text: str) -> langcodes.Language | None:
    """The language whose name is `text` exactly (case aside): its English or Chinese name, or its own name."""
    for language in ("en", "zh"):
        try:
            return langcodes.Language.find_name("language", text, language)
        except LookupError:
            continue
    found = langcodes.find(text)  # also matches names loosely: kept only when it is the language's own name
    return found if found.autonym().casefold() == text.casefold() else None


@lru_cache(maxsize=4096)
def language_code(raw: str) -> tuple[str, str] | None:
    """ISO 639 code and English name of a language as catalogs write it, or None when it is not exactly one."""
    for candidate in _candidates(raw):
        try:
            found = langcodes.Language.get(candidate) if _is_code(candidate) else _named_exactly(candidate)
        except (LookupError, ValueError):
            continue
        if found is None:
            continue
        base = langcodes.Language.get(langcodes.standardize_tag(found.to_tag(), macro=True)).language
        if base:
            return base, langcodes.Language.get(base).display_name()
    return None


def raw_terms_query(history: str) -> str:
    """Every distinct raw value per facet in the catalog table `history`, with how many datasets carry it."""
    parts = []
    for facet, (listed, scalar) in FACETS.items():
        values = f"coalesce({listed}, [{scalar}])" if scalar else listed
        parts.append(
            f"SELECT '{facet}' AS facet, trim(v) AS raw_value, source_name, dataset_id "
            f"FROM (SELECT source_name, dataset_id, unnest({values}) AS v FROM {history})"
        )
    return (
        "SELECT facet, raw_value, count(DISTINCT (source_name, dataset_id)) AS datasets "
        f"FROM ({' UNION ALL '.join(parts)}) WHERE raw_value <> '' GROUP BY ALL"
    )


def build_terms(con: duckdb.DuckDBPyConnection, history: str, table: str) -> None:
    """Create temp table `table`: facet, raw_value, normalised_value, detail, method, datasets."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __raw_terms AS {raw_terms_query(history)}")
    con.execute(
        "UPDATE __raw_terms SET facet = 'programming_language' WHERE facet = 'language' "
        "AND lower(raw_value) IN (SELECT lower(raw_name) FROM ref_programming_languages)"
    )
    raw_languages = [
        r[0] for r in con.execute("SELECT raw_value FROM __raw_terms WHERE facet = 'language'").fetchall()
    ]
    coded = [(raw, language_code(raw)) for raw in raw_languages]
    languages = pa.table(
        {
            "raw_value": [raw for raw, _ in coded],
            "code": [c[0] if c else None for _, c in coded],
            "name": [c[1] if c else None for _, c in coded],
        },
        schema=pa.schema([("raw_value", pa.string()), ("code", pa.string()), ("name", pa.string())]),
    )
    con.register("__language_codes", languages)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH tasks AS (
            SELECT t.raw_value, c.task_category
            FROM __raw_terms t JOIN ref_task_categories c ON regexp_matches(t.raw_value, c.pattern)
            WHERE t.facet = 'task'
            QUALIFY row_number() OVER (PARTITION BY t.raw_value ORDER BY c.priority) = 1
        ),
        resolved AS (
            SELECT t.facet, t.raw_value, t.datasets,
                   CASE t.facet WHEN 'license' THEN l.spdx_id WHEN 'modality' THEN m.modality
                        WHEN 'language' THEN g.code WHEN 'programming_language' THEN p.language
                        ELSE k.task_category END AS normalised_value,
                   CASE t.facet WHEN 'license' THEN l.note WHEN 'language' THEN g.name
                        WHEN 'programming_language' THEN p.note END AS detail,
                   CASE t.facet WHEN 'license' THEN 'ref.licenses' WHEN 'modality' THEN 'ref.modalities'
                        WHEN 'language' THEN 'iso639' WHEN 'programming_language' THEN 'ref.programming_languages'
                        ELSE 'ref.task_categories' END AS lookup
            FROM __raw_terms t
            LEFT JOIN ref_licenses l ON t.facet = 'license' AND lower(t.raw_value) = lower(l.raw_license)
            LEFT JOIN ref_modalities m ON t.facet = 'modality' AND lower(t.raw_value) = lower(m.raw_modality)
            LEFT JOIN __language_codes g ON t.facet = 'language' AND t.raw_value = g.raw_value
            LEFT JOIN ref_programming_languages p
                ON t.facet = 'programming_language' AND lower(t.raw_value) = lower(p.raw_name)
            LEFT JOIN tasks k ON t.facet = 'task' AND t.raw_value = k.raw_value
        )
        SELECT facet, raw_value, normalised_value, detail,
               CASE WHEN normalised_value IS NULL THEN 'unmapped' ELSE lookup END AS method, datasets
        FROM resolved ORDER BY facet, raw_value
        """
    )
    con.unregister("__language_codes")


def normalised_lists_sql(terms: str) -> tuple[str, str]:
    """A FROM item of per-facet lookup maps built from `terms`, and the select-list items that turn the raw
    list columns into sorted lists of distinct normalised terms through them."""
    lists = (("modality", "modality", "modality_norm"), ("language", "languages", "language_codes"))
    lists += (
        ("programming_language", "languages", "programming_languages"),
        ("task", "tasks", "task_categories"),
    )
    maps = ", ".join(
        f"map_from_entries(list((raw_value, normalised_value)) FILTER (WHERE facet = '{facet}' "
        f"AND normalised_value IS NOT NULL)) AS __{facet}_map"
        for facet, _, _ in lists
    )
    items = ", ".join(
        f"list_sort(list_distinct(list_filter(list_transform({column}, lambda v: __{facet}_map[trim(v)]), "
        f"lambda v: v IS NOT NULL))) AS {alias}"
        for facet, column, alias in lists
    )
    return f"(SELECT {maps} FROM {terms})", items
