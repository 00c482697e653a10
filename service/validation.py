"""The rule a question's text must follow, as one regular expression for the schema and as a
readable explanation of why a text breaks it.

A question may not hold control characters (C0 other than tab, LF and CR; DEL; C1) and must hold at
least one visible character: whitespace and invisible format characters (zero-width spaces and
joiners, the BOM, the Hangul fillers, …) alone are not a question. The pattern is written with
``\\uXXXX`` escapes only, which Python's ``re``, pydantic's Rust regex engine and ECMAScript (the
OpenAPI dialect, used by schemathesis and browsers) all read the same way.
"""

from __future__ import annotations

# (first, last) code point ranges, inclusive.
FORBIDDEN_CONTROLS: tuple[tuple[int, int], ...] = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F))
# Allowed but not visible: whitespace (tab, line breaks, Unicode spaces) and format characters.
BLANKS: tuple[tuple[int, int], ...] = (
    (0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0xAD, 0xAD), (0x034F, 0x034F),
    (0x061C, 0x061C), (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x206F), (0x3000, 0x3000), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\u{a:04X}" if a == b else f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges)


def _in(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    code = ord(char)
    return any(a <= code <= b for a, b in ranges)


_BLANK = _char_class(BLANKS)
_FORBIDDEN = _char_class(FORBIDDEN_CONTROLS)
# Leading blanks, one visible character, then anything but controls: unambiguous, so linear.
QUESTION_PATTERN = f"^[{_BLANK}]*[^{_BLANK}{_FORBIDDEN}][^{_FORBIDDEN}]*$"


def question_problem(text: str) -> str | None:
    """Why `text` breaks QUESTION_PATTERN (a phrase for the `question:` field), or None if it follows it."""
    for position, char in enumerate(text):
        if _in(char, FORBIDDEN_CONTROLS):
            return (
                f"must not contain control characters (found U+{ord(char):04X} at position {position}); "
                "only tab and line breaks are allowed"
            )
    if all(_in(char, BLANKS) for char in text):
        return "must not be empty or only whitespace"
    return None
