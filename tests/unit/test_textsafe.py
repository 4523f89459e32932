"""``safe``: untrusted names and values never drive the terminal, ordinary text is left alone."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_tui.textsafe import UNSAFE, safe

BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _is_unsafe(ch: str) -> bool:
    """Independent of the table: every C0/DEL/C1 control, surrogate and bidi override."""
    return unicodedata.category(ch) in ("Cc", "Cs") or ord(ch) in BIDI or ch in "\u2028\u2029"


def test_terminal_attacks_become_visible_escapes() -> None:
    title = "run\x1b]0;pwned\x07-1"
    clear = "\x1b[2J\x1b[Hx"
    assert safe(title) == "run\\x1b]0;pwned\\x07-1"
    assert safe(clear) == "\\x1b[2J\\x1b[Hx"
    assert safe("a\nb\tc\rd\x00\x7f") == "a\\x0ab\\x09c\\x0dd\\x00\\x7f"
    assert safe("\x9b31m") == "\\x9b31m"  # C1 CSI: a one-byte ESC [
    assert safe("evil\u202egpj.npz") == "evil\\u202egpj.npz"
    assert safe("\u2066x\u2069") == "\\u2066x\\u2069"
    assert safe("bad\udcffname") == "bad\\udcffname"  # os.fsdecode of a non-UTF-8 byte


def test_printable_unicode_is_left_alone() -> None:
    for text in ("ünïcödé", "数字 2", "→ ← ✓ █▇▆", "emoji 🎉", "a\u00a0b", "mlp-20240101-120000"):
        assert safe(text) == text


def test_idempotent() -> None:
    text = "x\x1b[1m\u202ey"
    assert safe(safe(text)) == safe(text)


def test_table_covers_exactly_the_unsafe_characters() -> None:
    for code in range(0x10000):
        assert (code in UNSAFE) == _is_unsafe(chr(code)), hex(code)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=60))
def test_output_never_holds_a_control_character(text: str) -> None:
    out = safe(text)
    assert not any(_is_unsafe(ch) for ch in out)
    out.encode("utf-8")  # never raises: no lone surrogate survives


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(string.printable[:95]), max_size=80))
def test_printable_ascii_is_unchanged(text: str) -> None:
    assert safe(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40))
def test_each_character_maps_to_itself_or_its_code_point_escape(text: str) -> None:
    def expected(ch: str) -> str:
        if not _is_unsafe(ch):
            return ch
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"

    assert safe(text) == "".join(expected(ch) for ch in text)
