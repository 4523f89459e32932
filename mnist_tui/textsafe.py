"""Make untrusted text safe to print on a terminal.

Run directory names, config values and names found inside data or model files come from
whoever wrote them: an ESC in one can retitle the terminal or clear the screen, a bidi
override can make ``evil.npz`` read as something else, and a lone surrogate (how Python
decodes a non-UTF-8 file name) makes ``print`` raise. ``safe`` turns each such character
into a visible escape and leaves every other character, ASCII or not, as it is.
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls: what a terminal acts on instead of showing.
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
# Bidi embeddings/overrides (U+202A..U+202E) and isolates (U+2066..U+2069): they reorder
# the text that follows, so a name can display differently from what it is.
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
# Line and paragraph separators break lines in some terminals; surrogates cannot be encoded.
_OTHER = [0x2028, 0x2029, *range(0xD800, 0xE000)]

UNSAFE: frozenset[int] = frozenset(_CONTROLS + _BIDI + _OTHER)


def _escape(code: int) -> str:
    """``\\xNN`` for one byte's worth, ``\\uNNNN`` beyond, like Python's own repr."""
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE: dict[int, str] = {code: _escape(code) for code in UNSAFE}


def safe(text: str) -> str:
    """``text`` with every control, bidi and unencodable character shown as an escape.

    Idempotent (an escape is printable ASCII), so applying it twice is harmless.
    """
    return text.translate(_TABLE)
