"""Read what sample values are: times, numbers, money, statuses; the scaffold's content recognition."""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

ORIGIN_TODO = "TODO-ISO-timestamp"
_EPOCH_DIGITS = {10: "s", 13: "ms", 16: "us"}
_EPOCH_RANGE = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01, in seconds
_ISO_TIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"
_TIME_FORMATS = (
    (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "%Y-%m-%d %H:%M:%S"),
    (r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$", "%Y/%m/%d %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{2}$", "%m/%d/%y"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%m/%d/%Y"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$", "%m/%d/%Y %H:%M"),
)
# Currency signs and codes written next to amounts, and the ISO code each means.
CURRENCY_SIGNS = {
    "US$": "USD",
    "$": "USD",
    "USD": "USD",
    "¥": "CNY",
    "￥": "CNY",
    "RMB": "CNY",
    "CNY": "CNY",
    "元": "CNY",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
}
_SIGN = "|".join(re.escape(s) for s in CURRENCY_SIGNS)
_MONEY = re.compile(rf"^(-?)\s*({_SIGN})?\s*(-?)(\d[\d,.'\s]*)\s*({_SIGN})?$")
# Lower-case status words (letters and digits only) and the canonical status of each kind they mean.
_OUTCOMES = {
    "succeeded": (
        "succeeded success successful succeed ok done completed complete finished finish 成功 完成 已完成"
    ),
    "failed": "failed fail failure error errored err timeout timedout oom oomkilled 失败 错误 超时",
    "cancelled": "cancelled canceled cancel aborted killed terminated stopped 取消 已取消 终止",
    "running": "running run active inprogress started 运行中 进行中",
}
STATUS_WORDS = {word: outcome for outcome, words in _OUTCOMES.items() for word in words.split()}
_TRANSFER_OUTCOME = {"succeeded": "completed", "failed": "failed", "cancelled": "failed"}


def numbers(values: list[str]) -> list[float] | None:
    """The values as numbers, None when any is not a plain number (or there are none)."""
    if not all(re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", v) for v in values):
        return None
    return [float(v) for v in values] or None


def expr_name(column: str) -> str:
    """How an expression reads a raw column: its name, or col('...') when the name is not an identifier."""
    plain = column.isidentifier() and unicodedata.normalize("NFKC", column) == column
    if plain and not keyword.iskeyword(column) and column != "col":
        return column
    return f"col({column!r})"


def scaled(expr: str, factor: float) -> str:
    """An expression multiplied by a factor, written as a multiplication or a division by a whole number."""
    if factor == 1:
        return expr
    if factor > 1:
        return f"{expr} * {factor:g}"
    return f"{expr} / {1 / factor:g}"


def time_options(values: list[str]) -> tuple[dict[str, str], str]:
    """ColumnMap options that parse these time values (epoch unit, origin or format), and a note to the user."""
    sample = [v.strip() for v in values[:20] if v.strip()]
    if not sample:
        return {}, ""
    digits = {len(v.split(".")[0]) for v in sample}
    if len(digits) == 1 and all(re.fullmatch(r"\d+(\.\d+)?", v) for v in sample):
        unit = _EPOCH_DIGITS.get(digits.pop())
        if unit:
            return {"epoch": unit}, ""
    found = numbers(sample)
    if found and min(found) >= 0 and max(found) < _EPOCH_RANGE[0]:
        note = (
            "TODO seconds from an unknown start: set origin to the ISO timestamp of second 0, with its offset"
        )
        return {"epoch": "s", "origin": ORIGIN_TODO}, note
    for pattern, fmt in _TIME_FORMATS:
        if all(re.match(pattern, v) for v in sample):
            return {"format": fmt}, ""
    return {}, ""


def looks_like_times(values: list[str]) -> bool:
    """Whether the values are absolute times: ISO or common formats, or epoch seconds/milliseconds of 2000-2100."""
    sample = [v.strip() for v in values[:20] if v.strip()]
    if not sample:
        return False
    if all(re.fullmatch(_ISO_TIME + f"{OFFSET[:-1]}?", v) for v in sample):
        return True
    if any(all(re.match(p, v) for v in sample) for p, _ in _TIME_FORMATS):
        return True
    found = numbers(sample)
    scales = (1, 1_000)
    return bool(found) and any(all(_EPOCH_RANGE[0] <= n / s < _EPOCH_RANGE[1] for n in found) for s in scales)


def is_iso_time(values: list[str]) -> bool:
    """Whether every value is an ISO date and time (which DuckDB casts as it is)."""
    sample = [v.strip() for v in values[:20] if v.strip()]
    return bool(sample) and all(re.match(_ISO_TIME, v) for v in sample)


@dataclass(frozen=True)
class MoneyFormat:
    """How amounts are written: currency signs around them and their separators."""

    signs: tuple[str, ...]
    thousands: str | None
    decimal: str

    @property
    def plain(self) -> bool:
        """Amounts that a plain number cast reads."""
        return not self.signs and self.thousands is None and self.decimal == "."

    @property
    def currency(self) -> str | None:
        """The ISO code the signs mean, None when there are none or they disagree."""
        codes = {CURRENCY_SIGNS[s] for s in self.signs}
        return codes.pop() if len(codes) == 1 else None

    def mapping(self, column: str) -> dict[str, str]:
        """ColumnMap fields that read such amounts from a raw column."""
        expr = expr_name(column)
        for sign in self.signs:
            expr = f"replace({expr}, {sign!r}, '')"
        if self.decimal == ",":  # the thousands option would apply after the expression: do it all here
            if self.thousands:
                expr = f"replace({expr}, {self.thousands!r}, '')"
            return {"expr": f"replace({expr}, ',', '.')"}
        fields = {"expr": expr} if self.signs else {"column": column}
        return fields | ({"thousands": self.thousands} if self.thousands else {})


def money_format(values: list[str]) -> MoneyFormat | None:
    """How these values write amounts, None when they are not all amounts."""
    signs: list[str] = []
    texts = []
    for value in values[:50]:
        match = _MONEY.match(value.strip())
        if not match:
            return None
        signs += [s for s in match.group(2, 5) if s and s not in signs]
        texts.append(match.group(4).strip())
    separators = _separators(texts)
    if not texts or separators is None:
        return None
    return MoneyFormat(tuple(signs), *separators)


def _separators(texts: list[str]) -> tuple[str | None, str] | None:
    """(thousands, decimal) separators of number texts, None when they write numbers inconsistently."""
    grouping: set[str] = set()
    decimal: set[str] = set()
    for text in texts:
        marks = re.sub(r"\d", "", text)
        if not marks:
            continue
        last, tail = marks[-1], text.rsplit(marks[-1], 1)[1]
        # one kind of mark before a group of three digits groups thousands ("1,234", "1.234.567"; "1.234" is 1.234)
        if len(tail) == 3 and len(set(marks)) == 1 and (len(marks) > 1 or last != "."):
            grouping.add(last)
        else:
            decimal.add(last)
            grouping |= set(marks[:-1])
    point = decimal.pop() if len(decimal) == 1 else "." if not decimal else None
    if point is None or point in grouping or len(grouping) > 1:
        return None
    sep = grouping.pop() if grouping else None
    group = re.escape(sep) if sep else "(?!)"
    number = rf"\d{{1,3}}({group}\d{{3}})+|\d+"
    if not all(re.fullmatch(rf"({number})({re.escape(point)}\d+)?", t) for t in texts):
        return None
    return sep, point


def status_map(values: list[str], kind: str) -> tuple[dict[str, str], list[str]]:
    """Canonical status of each distinct value of a status column (words or HTTP codes), and the values not
    recognised."""
    mapped: dict[str, str] = {}
    unknown: list[str] = []
    for value in dict.fromkeys(v.strip() for v in values if v.strip()):
        outcome = _outcome(value, codes=True)
        if outcome and kind == "transfers":
            outcome = _TRANSFER_OUTCOME.get(outcome)
        if outcome:
            mapped[value] = outcome
        else:
            unknown.append(value)
    return mapped, unknown


def _outcome(value: str, codes: bool = False) -> str | None:
    if codes and re.fullmatch(r"[1-5]\d\d", value):
        return "succeeded" if value.startswith("2") else "failed"
    return STATUS_WORDS.get(re.sub(r"[\W_]", "", value.lower()))


def looks_like_statuses(values: list[str]) -> bool:
    """A few distinct values, most of them status words."""
    distinct = Counter(v.strip() for v in values if v.strip())
    if not distinct or len(distinct) > 12 or len(distinct) == len(values) > 3:
        return False
    return sum(_outcome(v) is not None for v in distinct) * 2 > len(distinct)
