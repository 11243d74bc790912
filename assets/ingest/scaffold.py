"""Draft a source spec from a sample file: format, encoding, delimiter, columns and suggested mappings."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from assets.ingest.readers import KV_LINE
from assets.ingest.scaffold_columns import ColumnDraft, draft_columns
from assets.ingest.spec import ValueSpec
from assets.ingest.targets import TARGETS

SAMPLE_BYTES = 1 << 20
DELIMITERS = ",;\t|"
_DAY_PATTERNS = (
    (r"(\d{4}-\d{2}-\d{2})", "%Y-%m-%d"),
    (r"(\d{4}_\d{2}_\d{2})", "%Y_%m_%d"),
    (r"(20\d{6})", "%Y%m%d"),
)
ALIGNED_TODO = (
    "TODO confirm: fields aligned with runs of spaces, read as a regex record format (a header line and records "
    "of whitespace-free fields); a field that may hold spaces needs its own group pattern"
)
# Parts of file names that vary between deliveries: dates (with times), versions, ids and sequence numbers.
_VARYING = (
    r"(19|20)\d{2}([-_.]?)\d{2}\2\d{2}(?:[T_ -]?\d{2}[-_:]?\d{2}(?:[-_:]?\d{2})?)?",
    r"(?<![A-Za-z])[vV]\d+",
    r"\d{4,}",
    r"(?<![A-Za-z0-9])\d+(?![A-Za-z0-9])",
)
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class SampleProfile:
    """What a sample file looks like."""

    format: str
    encoding: str = "utf-8"
    compression: str = "none"
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)
    records_path: str | None = None
    format_todo: str | None = None
    patterns: list[tuple[str, str]] = field(default_factory=list)  # regex format: (record type, pattern)


def _read_head(path: Path) -> tuple[bytes, bool]:
    raw = path.read_bytes()[:SAMPLE_BYTES]
    if raw[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES), True
    return raw, False


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    for encoding in ("utf-8", "gbk"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            if exc.start > len(data) - 4:  # a character cut at the end of the sample
                return data[: exc.start].decode(encoding), encoding
    return data.decode("latin-1"), "latin-1"


def profile_sample(path: Path) -> SampleProfile:
    """Detect format, encoding, compression, delimiter, columns and sample values of a file."""
    data, gz = _read_head(path)
    compression = "gzip" if gz else "none"
    if data[:4] == b"PAR1":
        table = pq.read_table(path).slice(0, 20)
        values = {
            c: [str(v) for v in table.column(c).to_pylist() if v is not None] for c in table.column_names
        }
        return SampleProfile("parquet", columns=table.column_names, values=values)
    text, encoding = _decode(data)
    lines = [line for line in text.splitlines() if line.strip()][:50]
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _profile_json(text, lines, encoding, compression)
    if lines and sum(bool(re.match(KV_LINE, line)) for line in lines) >= 0.9 * len(lines):
        records = [dict(re.findall(r'([^\s=]+)=("[^"]*"|\S*)', line)) for line in lines]
        return _profile_records("kv", records, encoding, compression)
    return _profile_delimited(lines, SampleProfile("csv", encoding, compression))


def _profile_delimited(lines: list[str], profile: SampleProfile) -> SampleProfile:
    """Delimited text; without a delimiter, fields aligned by spaces, else one column per line."""
    delimiter = _delimiter(lines)
    if delimiter:
        profile.delimiter = delimiter
        return _with_rows(profile, list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)))
    widths = {len(line.split()) for line in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return _aligned(lines, profile)
    profile.delimiter = next((d for d in DELIMITERS if not any(d in line for line in lines)), "\x1f")
    profile.format_todo = "TODO confirm: read as one column per line, as no delimiter splits the lines alike"
    return _with_rows(profile, [[line] for line in lines])


def _aligned(lines: list[str], profile: SampleProfile) -> SampleProfile:
    """Fields aligned by runs of spaces: a regex record format whose groups are the header's names (made
    identifiers), with the header line as a record type of its own."""
    names: list[str] = []
    for raw in lines[0].split():
        name = re.sub(r"\W+", "_", raw).strip("_").lower() or "field"
        name = f"f_{name}" if name[0].isdigit() else name
        while name in names:
            name += "_"
        names.append(name)
    record = r"\s*" + r"\s+".join(f"(?P<{n}>\\S+)" for n in names) + r"\s*$"
    header = r"\s*" + r"\s+".join(re.escape(raw) for raw in lines[0].split()) + r"\s*$"
    profile.format, profile.format_todo = "regex", ALIGNED_TODO
    profile.patterns = [("header", header), ("record", record)]
    return _with_rows(profile, [names, *(line.split() for line in lines[1:])])


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter the sniffer finds (when it splits the header), else the one that splits the header and most
    lines into as many fields."""
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=DELIMITERS).delimiter
        if len(next(csv.reader(lines[:1], delimiter=sniffed))) > 1:
            return sniffed
    except csv.Error:
        pass
    for delimiter in sorted(DELIMITERS, key=lambda d: -sum(line.count(d) for line in lines)):
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if widths and widths[0] > 1 and widths.count(widths[0]) >= 0.8 * len(widths):
            return delimiter
    return None


def _with_rows(profile: SampleProfile, rows: list[list[str]]) -> SampleProfile:
    """A profile with the columns (first row) and sample values (the other rows) of split lines."""
    profile.columns = rows[0] if rows else []
    profile.values = {
        c: [r[i] for r in rows[1:] if i < len(r) and r[i]] for i, c in enumerate(profile.columns)
    }
    return profile


def _profile_json(text: str, lines: list[str], encoding: str, compression: str) -> SampleProfile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return _profile_records("jsonl", records, encoding, compression)
    path = None
    if isinstance(document, dict):
        lists = [k for k, v in document.items() if isinstance(v, list | dict) and v]
        if not lists:  # one flat object: a JSON-lines file with one record
            return _profile_records("jsonl", [document], encoding, compression)
        path = lists[0]
        document = document[path] if isinstance(document[path], list) else list(document[path].values())
    profile = _profile_records(
        "json", [r for r in document if isinstance(r, dict)][:50], encoding, compression
    )
    profile.records_path = path
    return profile


def _profile_records(fmt: str, records: list[dict], encoding: str, compression: str) -> SampleProfile:
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    values = {c: [str(r[c]).strip('"') for r in records if r.get(c) not in (None, "")] for c in columns}
    return SampleProfile(fmt, encoding, compression, columns=columns, values=values)


def landing_glob(file_name: str) -> str:
    """A glob for the files of a source from one of its names: dates, versions and numbers become `*`."""
    stem, extension = _split_extension(file_name)
    for pattern in _VARYING:
        stem = re.sub(pattern, "*", stem)
    stem = re.sub(r"\*+", "*", stem)
    return (stem if "*" in stem else "*") + extension


def _split_extension(file_name: str) -> tuple[str, str]:
    """A file name without its extension(s) (`.csv`, `.csv.gz`), and the extension(s)."""
    path = Path(file_name)
    suffixes = [s for s in path.suffixes[-2:] if re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,4}", s)]
    if len(suffixes) == 2 and suffixes[1].lower() not in _COMPRESSED:
        suffixes = suffixes[1:]
    if suffixes and not file_name.endswith(suffixes[-1]):
        suffixes = []
    extension = "".join(suffixes)
    return file_name[: len(file_name) - len(extension)], extension


def _flow(value: object) -> str:
    """A value in YAML flow style: strings quoted, mapping keys plain when they are mapping fields."""
    if isinstance(value, dict):
        items = (f"{k if k in ValueSpec.model_fields else _flow(k)}: {_flow(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return _printable(json.dumps(str(value), ensure_ascii=False))


def _printable(text: str) -> str:
    """Text with the characters YAML does not allow (control characters) written as \\u escapes."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _comment(text: str) -> str:
    """A YAML comment on one line, whatever the text holds."""
    return "# " + _printable(" ".join(text.split()))


def _commented(line: str, note: str) -> str:
    return f"{line}  {_comment(note)}" if note else line


def _name(value: str) -> str:
    """A spec name as it is when it is a valid one, quoted otherwise (`sources check` then says why)."""
    return value if re.fullmatch(r"[a-z][a-z0-9_]*", value) else _flow(value)


def draft_spec(name: str, sample: Path, kind: str = "usage", landing_dir: str | None = None) -> str:
    """A commented YAML spec draft for a sample file; `sources check` then says what is left to do."""
    profile = profile_sample(sample)
    draft = draft_columns(profile.columns, profile.values, kind)
    lines = [
        _comment(f"Draft spec for {sample.name}: review every line and each TODO, run"),
        "# `computeflow sources check` on this file, and move it into the sources folder once the check passes.",
        f"name: {_name(name)}",
        f"kind: {kind}",
    ]
    if kind == "usage":
        lines.append(
            f"provider_id: {_name(name)}  # TODO confirm: it must exist in ref.providers (reference/providers.csv)"
        )
    lines += _landing_lines(sample.name, landing_dir or f"providers/{name}")
    lines += _format_lines(profile)
    lines += [_commented(f"timezone: {draft.timezone[0]}", draft.timezone[1])]
    if draft.values:
        lines.append("values:")
        lines += [_commented(f"  {name}: {_flow(p.mapping)}", p.note) for name, p in draft.values.items()]
    columns = _column_lines(draft, kind)
    empty = all(line.lstrip().startswith("#") for line in columns)
    lines += [
        _commented(f"currency: {draft.currency[0]}", draft.currency[1]),
        "columns: {}" if empty else "columns:",
    ]
    lines += columns
    lines += _token_lines(draft.token_lines)
    if kind == "usage" and "billed_cost" not in draft.columns and not draft.token_lines:
        lines.append(
            "# TODO no amount found: map billed_cost, price the lines (`pricing`), or load a workload trace as "
            "`unpriced: true` (with `unknown_chip: load` when it names no chip)"
        )
    if profile.patterns:
        lines += ["rules:", "  - {name: header_line, when: \"record_type == 'header'\", action: skip}"]
    unused = [c for c in profile.columns if c not in draft.used()]
    if unused and profile.format in ("csv", "parquet"):
        lines.append("ignore_columns: [" + ", ".join(_flow(c) for c in unused) + "]")
    lines.append(
        "dedup_keys: []  # columns that identify one charge line, e.g. [job_id, charge_period_start]"
    )
    return "\n".join(lines) + "\n"


def _landing_lines(file_name: str, folder: str) -> list[str]:
    pattern = landing_glob(file_name)
    note = "TODO narrow the pattern if the folder holds other files" if pattern.startswith("*.") else ""
    lines = ["landing:", _commented(f"  glob: {_flow(folder + '/' + pattern)}", note)]
    for regex, fmt in _DAY_PATTERNS:
        if re.search(regex, file_name):
            lines.append(f"  partition: {{regex: {_flow(regex)}, format: {_flow(fmt)}}}")
            break
    return lines


def _format_lines(profile: SampleProfile) -> list[str]:
    fields = {"type": profile.format, "encoding": profile.encoding}
    if profile.compression != "none":
        fields["compression"] = profile.compression
    if profile.format == "csv":
        fields["delimiter"] = profile.delimiter
    if profile.records_path:
        fields["records_path"] = profile.records_path
    plain = ", ".join(
        f"{k}: {v if k in ('type', 'encoding', 'compression') else _flow(v)}" for k, v in fields.items()
    )
    todo = [f"# {profile.format_todo}"] if profile.format_todo else []
    if not profile.patterns:
        return [*todo, "format: {" + plain + "}"]
    patterns = [f"    - {{name: {name}, regex: {_flow(regex)}}}" for name, regex in profile.patterns]
    return [*todo, "format:", *(f"  {k}: {v}" for k, v in fields.items()), "  patterns:", *patterns]


def _column_lines(draft: ColumnDraft, kind: str) -> list[str]:
    lines = []
    for target in (*TARGETS[kind].inputs, *(t for t in draft.columns if t not in TARGETS[kind].inputs)):
        proposal = draft.columns.get(target)
        if proposal is None:
            if target in TARGETS[kind].required:
                lines.append(f"  # TODO {target}: no column found for this required field")
            continue
        line = f"{target}: {_flow(proposal.mapping)}"
        lines.append(_commented(f"  {line}" if proposal.live else f"  # {line}", proposal.note))
    return lines


def _token_lines(token_lines: list[tuple[str, str]]) -> list[str]:
    """The `lines:` block of a token-metered draft, commented out while specs do not accept it."""
    if not token_lines:
        return []
    block = [
        "# TODO price the tokens: map billed_cost, or give `pricing: {rate_card_provider: ..., per: model}` with a",
        "# model_id mapping and a rate-card `service` per line (reference/rate_cards.csv; docs/SOURCES.md)",
        "lines:",
    ]
    for name, column in token_lines:
        block += [f"  - name: {_name(name)}", f"    columns: {{consumed_quantity: {_flow(column)}}}"]
    return block
