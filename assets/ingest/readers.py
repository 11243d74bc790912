"""Turn a landed file into a DuckDB relation of raw text fields, one row per record, numbered.

Every reader yields the columns `__row` (1-based record number in the file), one VARCHAR per raw field,
and `__raw` (the record as it was, for quarantine). CSV structural failures are kept in a DuckDB rejects
table and read back with `rejects_sql`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass

import duckdb

from assets.ingest.spec_files import FormatSpec
from warehouse.lake import sql_array, sql_ident, sql_str

CHUNK = 8 << 20
MAX_LINE = 2_000_000  # bytes of one line: DuckDB's CSV reader's limit (max_line_size)
ESCAPE_SCAN = 4 << 20  # bytes of a CSV file looked through for escape sequences before it is sniffed


class SourceFileError(ValueError):
    """A landed file that cannot be read at all; the message names the file and what is wrong."""


@dataclass(frozen=True)
class CsvScan:
    """How a sniffed CSV file is read: the reader's options (dialect and columns, no path) and the number of
    lines before its first record. Files with the same scan and fields can be read by one scan."""

    options: str
    header_lines: int


@dataclass
class RawRelation:
    """SQL reading one landed file as raw text fields.

    `select_sql` yields `__row` (the record's line number, or NULL when rows are numbered by their position
    in the written output), one VARCHAR `__f<i>` per entry of `fields`, and `__broken`; `raw_sql` renders a
    record as it was (evaluated only for rows that go to quarantine); `rejects_sql` yields the records the
    reader could not split into fields, with `__row`, `__raw` and `__detail`.
    """

    select_sql: str
    fields: list[str]
    raw_sql: str
    rejects_sql: str | None = None
    header_sql: str | None = None  # holds for a record that repeats the header line
    csv: CsvScan | None = None  # of a CSV file: how it is read (see csv_relations)
    csv_path: str | None = None  # of a CSV file: the file it reads (in UTF-8, transcoded if need be)


def _aliases(fields: list[str]) -> dict[str, str]:
    return {f: f"__f{i}" for i, f in enumerate(fields)}


def _json_of_fields(fields: list[str]) -> str:
    aliases = _aliases(fields)
    struct = ", ".join(f"{sql_str(f)}: {sql_ident(aliases[f])}" for f in fields)
    return f"CAST(to_json({{{struct}}}) AS VARCHAR)"


def _is_gzip(path: str, fmt: FormatSpec) -> bool:
    if fmt.compression == "gzip":
        return True
    if fmt.compression == "none":
        return False
    return path.endswith(".gz")


def _open_bytes(path: str, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32, little-endian",
    b"\x00\x00\xfe\xff": "UTF-32, big-endian",
    b"\xff\xfe": "UTF-16, little-endian",
    b"\xfe\xff": "UTF-16, big-endian",
}
_UTF8_BOM = b"\xef\xbb\xbf"


def refuse_wrong_encoding(head: bytes, fmt: FormatSpec) -> None:
    """Name the real encoding of a text file's first bytes when it cannot be the spec's: UTF-16 or UTF-32 (with
    or without a byte-order mark), or a UTF-8 byte-order mark in front of a GBK file."""
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise SourceFileError(
                f"the file is {name} (it starts with the byte-order mark {bom.hex(' ').upper()}), not "
                f"{fmt.encoding} as the spec says: ask for {fmt.encoding}, or convert it"
            )
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) * 4 >= len(sample):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        layout = "little-endian" if odd > even else "big-endian"
        raise SourceFileError(
            f"the file looks like UTF-16 ({layout}, without a byte-order mark: every other byte is NUL), not "
            f"{fmt.encoding} as the spec says: ask for {fmt.encoding}, or convert it"
        )
    if head.startswith(_UTF8_BOM) and fmt.encoding not in ("utf-8", "utf-8-sig"):
        raise SourceFileError(
            f"the file starts with a UTF-8 byte-order mark (EF BB BF) but the spec says {fmt.encoding}: it is "
            f"UTF-8 (set encoding: utf-8), or {fmt.encoding} with a stray mark in front (ask for a clean file)"
        )


def transcode_to_utf8(path: str, fmt: FormatSpec, scratch: str, display: str) -> tuple[str, bool]:
    """Return a UTF-8 file DuckDB can read (streaming transcode when needed) and whether it is gzip."""
    gz = _is_gzip(path, fmt)
    if gz:
        with open(path, "rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                raise SourceFileError(f"{display}: declared gzip but is not a gzip file (bad magic bytes)")
    try:
        with _open_bytes(path, gz) as handle:
            head = handle.read(1 << 16)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceFileError(f"{display}: cannot decompress: {exc}") from None
    refuse_wrong_encoding(head, fmt)
    if fmt.encoding in ("utf-8", "utf-8-sig") and fmt.type != "json":
        return path, gz
    target = os.path.join(scratch, f"{uuid.uuid4().hex}.txt")
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="strict")
    offset = 0
    try:
        with _open_bytes(path, gz) as src, open(target, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(CHUNK):
                dst.write(decoder.decode(chunk))
                offset += len(chunk)
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise SourceFileError(
            f"{display}: not valid {fmt.encoding} at byte {offset + exc.start}: {exc.reason}"
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceFileError(f"{display}: cannot decompress: {exc}") from None
    return target, False


def _csv_options(fmt: FormatSpec, gz: bool) -> str:
    opts = [
        "all_varchar = true",
        f"header = {str(fmt.header).lower()}",
        f"delim = {sql_str(fmt.delimiter)}",
        f"quote = {sql_str(fmt.quote)}",
        f"skip = {fmt.skip_rows}",
        "null_padding = false",
        f"compression = {sql_str('gzip' if gz else 'none')}",
        "hive_partitioning = false",  # a landed file's columns are its own, never its folder names
    ]
    return ", ".join(opts)


def _sniffed(value: str) -> str:
    """A dialect setting as sniff_csv reports it, as read_csv takes it."""
    return "" if value == "(empty)" else value


def header_names(path: str, fmt: FormatSpec, gz: bool) -> list[str]:
    """The names of a CSV file's header line as written (after `skip_rows` lines; empty without a header)."""
    if not fmt.header:
        return []
    with _open_bytes(path, gz) as handle, io.TextIOWrapper(handle, encoding="utf-8-sig", newline="") as text:
        try:
            for _ in range(fmt.skip_rows):
                text.readline(MAX_LINE)
            quoting = csv.QUOTE_MINIMAL if fmt.quote else csv.QUOTE_NONE
            return next(
                csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quote or None, quoting=quoting), []
            )
        except UnicodeDecodeError as exc:
            raise SourceFileError(f"the header is not valid {fmt.encoding}: {exc.reason}") from None


def refuse_ambiguous_header(names: list[str], wanted: list[str]) -> None:
    """Refuse a header that names a column the spec reads more than once (compared without case): which of
    them holds the values cannot be known, and reading either could load the wrong amounts."""
    positions: dict[str, list[int]] = defaultdict(list)
    for position, name in enumerate(names, start=1):
        positions[name.strip().casefold()].append(position)
    for field in wanted:
        found = positions.get(field.strip().casefold(), [])
        if len(found) > 1:
            columns = ", ".join(str(p) for p in found)
            raise SourceFileError(
                f"the header names column {field!r} {len(found)} times (columns {columns}); which one holds "
                "the values is ambiguous, so the file was not loaded"
            )


def reader_error(exc: duckdb.Error, path: str) -> str:
    """The cause of a DuckDB reader error in words: the message without the offending line's text, the
    reader's settings or SQL, and for a line over the reader's limit the number of the first such line."""
    lines = [line.strip() for line in str(exc).splitlines()]
    keep = [
        line[:300]
        for line in lines
        if line
        and not line.startswith(("Original Line", "Possible Solution", "LINE ", "^", "file ="))
        and " = " not in line
    ]
    if any("Maximum line size" in line for line in lines):
        number, size = _first_long_line(path)
        where = f"line {number} has {size:,} bytes" if number else "a line is too long"
        return (
            f"{where}, more than the reader's limit of {MAX_LINE:,} bytes: a file without line breaks, "
            "a binary file, or a quote that is never closed"
        )
    return ": ".join(keep[:2]) or "the reader failed"


def _first_long_line(path: str) -> tuple[int | None, int]:
    """The number (1-based, header included) and size of the first line longer than MAX_LINE bytes."""
    number, size = 1, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            start = 0
            while (end := chunk.find(b"\n", start)) != -1:
                if size + end - start > MAX_LINE:
                    return number, size + end - start
                number, size, start = number + 1, 0, end + 1
            size += len(chunk) - start
    return (number, size) if size > MAX_LINE else (None, 0)


def _without_escapes(path: str, gz: bool, quote: str) -> bool:
    """Whether a small file holds no escape sequence a CSV reader could see: no backslash and no doubled quote.
    In such a file every choice of escape character reads the same records (an escape only acts before a
    quote inside a quoted value). Files over ESCAPE_SCAN bytes are not looked at (False)."""
    with _open_bytes(path, gz) as handle:
        data = handle.read(ESCAPE_SCAN + 1)
    return len(data) <= ESCAPE_SCAN and b"\\" not in data and (not quote or (quote * 2).encode() not in data)


def read_csv_relation(
    con: duckdb.DuckDBPyConnection, path: str, fmt: FormatSpec, gz: bool, wanted: list[str]
) -> RawRelation:
    """A CSV file with a header: fields are its header names; rows are numbered by position."""
    refuse_ambiguous_header(header_names(path, fmt, gz), wanted)
    options = _csv_options(fmt, gz)
    # Searching for the escape character is most of a small file's sniff; in a file without one it changes nothing
    known = f", escape = {sql_str(fmt.quote)}" if _without_escapes(path, gz, fmt.quote) else ""
    try:  # the file's dialect and columns, sniffed once: the scan then binds without sniffing again
        escape, new_line, comment, columns = con.execute(
            f"SELECT Escape, NewLineDelimiter, Comment, Columns FROM sniff_csv({sql_str(path)}, {options}{known}, "
            "store_rejects = true)"  # as the scan sniffs: records it cannot parse do not stop it
        ).fetchone()
    except duckdb.Error as exc:
        raise SourceFileError(f"cannot read as CSV: {reader_error(exc, path)}") from None
    fields = [column["name"] for column in columns]
    typed = ", ".join(f"{sql_str(f)}: 'VARCHAR'" for f in fields)
    scan = CsvScan(
        f"{options}, auto_detect = false, escape = {sql_str(_sniffed(escape))}, "
        f"new_line = {sql_str(_sniffed(new_line))}, comment = {sql_str(_sniffed(comment))}, columns = {{{typed}}}",
        (1 if fmt.header else 0) + fmt.skip_rows,
    )
    return csv_relations([path], scan, fields, fmt.header)[1][0]


def csv_relations(
    paths: list[str], scan: CsvScan, fields: list[str], header: bool
) -> tuple[RawRelation, list[RawRelation]]:
    """One scan of CSV files read alike: a relation over all of them (with `__file`, the index of a record's
    file, when there are several) and each file's own relation, whose `rejects_sql` reads its records the
    reader could not split from the rejects table the scan fills."""
    rejects = f"rej_{uuid.uuid4().hex[:12]}"
    several = len(paths) > 1
    read = (
        f"read_csv({sql_array(paths) if several else sql_str(paths[0])}, {scan.options}, "
        f"{'filename = true, ' if several else ''}store_rejects = true, "
        f"rejects_table = {sql_str(rejects + '_errors')}, rejects_scan = {sql_str(rejects + '_scans')})"
    )
    renamed = ", ".join(f"{sql_ident(f)} AS {sql_ident(a)}" for f, a in _aliases(fields).items())
    file = f"CAST(list_position({sql_array(paths)}, filename) - 1 AS INTEGER) AS __file, " if several else ""
    select = f"SELECT {file}CAST(NULL AS BIGINT) AS __row, {renamed}, FALSE AS __broken FROM {read}"
    repeated = (
        " AND ".join(f"{sql_ident(a)} = {sql_str(f)}" for f, a in _aliases(fields).items())
        if header
        else None
    )
    raw_sql = _json_of_fields(fields)
    own = [
        RawRelation(
            select,
            fields,
            raw_sql,
            f"SELECT line - {scan.header_lines} AS __row, trim(any_value(csv_line), chr(13) || chr(10)) AS __raw, "
            f"min(error_type || ': ' || error_message) AS __detail FROM {rejects}_errors WHERE file_id = {n} "
            "GROUP BY line",
            repeated,
            scan,
            path,
        )
        for n, path in enumerate(paths)
    ]
    return RawRelation(select, fields, raw_sql, None, repeated, scan), own


def read_lines_relation(path: str, gz: bool) -> str:
    """Numbered non-blank lines of a text file, as `__row, __line`."""
    scan = (
        f"read_csv({sql_str(path)}, columns = {{'__line': 'VARCHAR'}}, header = false, delim = E'\\x1f', "
        f"quote = '', escape = '', auto_detect = false, hive_partitioning = false, "
        f"compression = {sql_str('gzip' if gz else 'none')})"
    )
    return (
        f"SELECT * FROM (SELECT row_number() OVER () AS __row, __line FROM {scan}) "
        f"WHERE __line IS NOT NULL AND trim(__line) <> ''"
    )


def _json_field(line: str, key: str) -> str:
    """SQL extracting a field as text: a top-level key, or a JSON path when the name starts with '$'.

    A path with a wildcard ([*]) yields a JSON array text (which list columns parse); other values yield their
    text (strings unquoted, arrays and objects as JSON).
    """
    if key.startswith("$") and "[*]" in key:
        return f"CAST(json_extract({line}, {sql_str(key)}) AS VARCHAR)"
    if not key.startswith("$"):
        escaped = key.replace('"', '\\"')
        key = f'$."{escaped}"'
    return f"json_extract_string({line}, {sql_str(key)})"


def read_jsonl_relation(path: str, gz: bool, fields: list[str]) -> RawRelation:
    """JSON lines: each referenced field (a key, or a JSON path starting with '$') is extracted as text;
    non-JSON lines are rejected."""
    lines = read_lines_relation(path, gz)
    extracted = "".join(
        f"CASE WHEN __ok THEN {_json_field('__line', f)} END AS {sql_ident(a)}, "
        for f, a in _aliases(fields).items()
    )
    select = (
        f"SELECT __row, {extracted}__line, NOT __ok AS __broken "
        f"FROM (SELECT *, coalesce(json_valid(__line) AND starts_with(ltrim(__line), '{{'), false) AS __ok "
        f"FROM ({lines}))"
    )
    return RawRelation(select, fields, "__line")


KV_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*"
KV_LINE = rf"^\s*{KV_KEY}="


def read_kv_relation(path: str, gz: bool, fields: list[str]) -> RawRelation:
    """key=value log lines: each referenced key is extracted; lines that do not start with key= are rejected.

    A value is quoted, or runs to the next whitespace-separated `key=` (so unquoted values may hold spaces
    and '=' signs, as file paths in real transfer logs do).
    """
    lines = read_lines_relation(path, gz)
    parts = []
    for f, alias in _aliases(fields).items():
        pattern = r"(?:^|\s)" + re.escape(f) + rf"=(\"[^\"]*\"|.*?)(?:\s+{KV_KEY}=|\s*$)"
        value = f"regexp_extract(__line, {sql_str(pattern)}, 1)"
        parts.append(f"nullif(trim({value}, '\"'), '') AS {sql_ident(alias)}, ")
    select = (
        f"SELECT __row, {''.join(parts)}__line, "
        f"NOT regexp_matches(__line, {sql_str(KV_LINE)}) AS __broken FROM ({lines})"
    )
    return RawRelation(select, fields, "__line")


def read_regex_relation(path: str, gz: bool, fmt: FormatSpec, fields: list[str]) -> RawRelation:
    """Log lines of several kinds: each line takes the first of the format's patterns that matches it (its
    `__pattern`, NULL when none does); a field is the pattern's group of that name (NULL when the pattern has
    none), and `record_type` is the pattern's name."""
    lines = read_lines_relation(path, gz)
    patterns = [  # (number, name, the regex anchored at the line's start as SQL, its groups)
        (no, p.name, sql_str(f"^(?:{p.regex})"), re.compile(p.regex).groupindex)
        for no, p in enumerate(fmt.patterns)
    ]
    which = " ".join(f"WHEN regexp_matches(__line, {regex}) THEN {no}" for no, _, regex, _ in patterns)
    parts = []
    for field, alias in _aliases(fields).items():
        if field == "record_type":
            branches = [f"WHEN {no} THEN {sql_str(name)}" for no, name, _, _ in patterns]
        else:
            branches = [
                f"WHEN {no} THEN nullif(regexp_extract(__line, {regex}, {groups[field]}), '')"
                for no, _, regex, groups in patterns
                if field in groups
            ]
        value = f"CASE __pattern {' '.join(branches)} END" if branches else "CAST(NULL AS VARCHAR)"
        parts.append(f"{value} AS {sql_ident(alias)}, ")
    select = (
        f"SELECT __row, {''.join(parts)}__line, __pattern, FALSE AS __broken "
        f"FROM (SELECT *, CASE {which} END AS __pattern FROM ({lines}))"
    )
    carried = [a for f, a in _aliases(fields).items() if f in fmt.carry]
    if carried:  # the last value a line above set, for lines that do not set it themselves
        window = "OVER (ORDER BY __row ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        filled = ", ".join(
            f"last_value({sql_ident(a)} IGNORE NULLS) {window} AS {sql_ident(a)}" for a in carried
        )
        select = f"SELECT * REPLACE ({filled}) FROM ({select}) ORDER BY __row"
    return RawRelation(select, fields, "__line")


def json_document_to_lines(path: str, fmt: FormatSpec, scratch: str, display: str) -> str:
    """Flatten a JSON document's records into a JSON-lines scratch file, one record per line."""
    gz = _is_gzip(path, fmt)
    try:
        with _open_bytes(path, gz) as handle:
            document = json.loads(handle.read().decode(fmt.encoding))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFileError(f"{display}: not a valid {fmt.encoding} JSON document: {exc}") from None
    records = document
    for key in (fmt.records_path or "").split(".") if fmt.records_path else []:
        if not isinstance(records, dict) or key not in records:
            raise SourceFileError(f"{display}: records_path {fmt.records_path!r}: key {key!r} not found")
        records = records[key]
    if fmt.records_are_values:
        if not isinstance(records, dict):
            raise SourceFileError(
                f"{display}: records_are_values needs an object, got {type(records).__name__}"
            )
        items = []
        for key, value in records.items():
            record = dict(value) if isinstance(value, dict) else {"value": value}
            if fmt.record_key_field:
                record[fmt.record_key_field] = key
            items.append(record)
        records = items
    if isinstance(records, dict) and not fmt.records_are_values:
        records = [records]  # a document describing one record (e.g. a Croissant dataset description)
    if not isinstance(records, list):
        raise SourceFileError(f"{display}: expected a list of records, got {type(records).__name__}")
    target = os.path.join(scratch, f"{uuid.uuid4().hex}.jsonl")
    with open(target, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def read_parquet_relation(con: duckdb.DuckDBPyConnection, path: str) -> RawRelation:
    """A Parquet file: every column cast to text; rows are numbered by position."""
    scan = f"read_parquet({sql_str(path)}, hive_partitioning = false)"
    try:
        fields = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    except duckdb.Error as exc:
        raise SourceFileError(f"cannot read as Parquet: {str(exc).splitlines()[0]}") from None
    casts = ", ".join(
        f"CAST({sql_ident(f)} AS VARCHAR) AS {sql_ident(a)}" for f, a in _aliases(fields).items()
    )
    select = f"SELECT CAST(NULL AS BIGINT) AS __row, {casts}, FALSE AS __broken FROM {scan}"
    return RawRelation(select, fields, _json_of_fields(fields))


def open_raw(
    con: duckdb.DuckDBPyConnection, path: str, fmt: FormatSpec, fields: list[str], scratch: str, display: str
) -> RawRelation:
    """Open any supported format as a RawRelation; `fields` are the raw names the spec reads."""
    try:
        if fmt.type == "parquet":
            return read_parquet_relation(con, path)
        if fmt.type == "json":
            return read_jsonl_relation(json_document_to_lines(path, fmt, scratch, display), False, fields)
        local, gz = transcode_to_utf8(path, fmt, scratch, display)
        if fmt.type == "csv":
            return read_csv_relation(con, local, fmt, gz, fields)
        if fmt.type == "jsonl":
            return read_jsonl_relation(local, gz, fields)
        if fmt.type == "regex":
            return read_regex_relation(local, gz, fmt, fields)
        return read_kv_relation(local, gz, fields)
    except SourceFileError as exc:
        message = str(exc)
        raise SourceFileError(message if message.startswith(display) else f"{display}: {message}") from None


def make_scratch(base: str) -> str:
    """A fresh scratch directory, named after this process so that a killed run's leftovers can be found."""
    path = os.path.join(base, f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    os.makedirs(path)
    return path


def drop_scratch(path: str) -> None:
    """Remove a scratch directory."""
    shutil.rmtree(path, ignore_errors=True)
