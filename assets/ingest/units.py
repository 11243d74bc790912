"""Units of measure in the FOCUS 1.2 Unit Format ("GPU-Hours", "Hours", "1000000 Tokens", "GB/Hour").

Providers write `GPU-Hour`, `gpu hours`, `hrs` or `tokens`; the usage tables keep one spelling per unit so that
quantities add up and the FOCUS export conforms. The rewrite is spelling only (a unit never changes its meaning):
time words take the spec's capitalisation, are plural except after `/` (a rate), `GPU` and `Tokens` take their
usual form. A unit nobody can recognise is kept as delivered, and the FOCUS conformance check names it.
"""

from __future__ import annotations

TIME_UNITS = ("Year", "Month", "Day", "Hour", "Minute", "Second")

# Spellings of a time unit (lower case, singular or plural) -> its FOCUS word.
_TIME_SPELLINGS = {
    "Year": ("years?", "yrs?"),
    "Month": ("months?",),
    "Day": ("days?",),
    "Hour": ("hours?", "hrs?", "h"),
    "Minute": ("minutes?", "mins?"),
    "Second": ("seconds?", "secs?", "s"),
}
# Whole-value spellings that are not built from the parts above.
_WHOLE = {"卡时": "GPU-Hours", "gpu·h": "GPU-Hours", "gpuh": "GPU-Hours", "gpu hours": "GPU-Hours"}

# A unit in the Unit Format: an optional whole-number quantity, a unit, an optional plural time unit after "-",
# an optional rate "/<singular time>" or "/<n> <plural time>" (FOCUS 1.2, attributes/unit_format.md).
_WORD = r"(?:b|[A-Z][A-Za-z0-9]*)(?: [A-Z][A-Za-z0-9]*)*"  # capitalised words; "b" is the bit
_PLURAL = "|".join(f"{t}s" for t in TIME_UNITS)
_SINGULAR = "|".join(TIME_UNITS)
UNIT_FORMAT = rf"^(?:[0-9]+ )?(?:{_WORD})(?:-(?:{_PLURAL}))?(?:/(?:{_SINGULAR}|[0-9]+ (?:{_PLURAL})))?$"
# A time word on its own must be plural ("Hours", not "Hour").
BARE_SINGULAR_TIME = rf"^(?:[0-9]+ )?(?:{_SINGULAR})$"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def focus_unit_sql(expr: str) -> str:
    """SQL rewriting the unit `expr` into the FOCUS Unit Format (NULL stays NULL, unknown words are kept)."""
    text = f"regexp_replace(trim({expr}), '\\s+', ' ', 'g')"
    # Time words: capitalised, plural unless they follow "/" (a rate, "GB/Hour").
    for word, spellings in _TIME_SPELLINGS.items():
        pattern = "|".join(spellings)
        text = f"regexp_replace({text}, '/({pattern})$', '/{word}', 'i')"
        text = f"regexp_replace({text}, '(^|[- ])({pattern})$', '\\1{word}s', 'i')"
        text = f"regexp_replace({text}, '(^|[- ])({pattern})/', '\\1{word}s/', 'i')"
    text = f"regexp_replace({text}, '^gpu([- ])', 'GPU-', 'i')"
    text = f"regexp_replace({text}, '^gpu$', 'GPU', 'i')"
    text = f"regexp_replace({text}, '(^|[0-9] )tokens?$', '\\1Tokens', 'i')"
    whole = " ".join(f"WHEN {_sql_str(raw)} THEN {_sql_str(unit)}" for raw, unit in _WHOLE.items())
    return f"CASE lower(trim({expr})) {whole} ELSE {text} END"
