"""SMS sizing against a straightforward per-character reference, and shortener detection."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_TEXT_CHARS,
    SHORTENER_DOMAINS,
    encoding,
    find_shortener,
    segments,
    segments_many,
    text_length,
)

BASIC = set(GSM7_BASIC)
EXTENSION = set("^{}\\[~]|€\f")


def reference_segments(text: str) -> tuple[str, int]:
    """The rules written out one character at a time."""
    if all(c in BASIC or c in EXTENSION for c in text):
        septets = sum(2 if c in EXTENSION else 1 for c in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


alphabet = st.sampled_from(
    list("abcXYZ019 .,!?@£$¥èÇÅΔ_ÆßÉÄÖÑÜ§¿àäöñü\n\r") + list(GSM7_EXTENSION)
    + ["`", "\t", "\x1b", "é", "ç", "ł", "中", "😀", "👍", "\U0001f3fd", "\u200b", "\U0001f600"]
)
texts = st.one_of(st.text(alphabet=alphabet, max_size=400),
                  st.text(alphabet=st.sampled_from(list("abc €{")), max_size=400),
                  st.text(max_size=200))


def test_extension_table_matches_the_spec() -> None:
    assert set(GSM7_EXTENSION) == EXTENSION
    assert "\x1b" not in BASIC and "`" not in BASIC
    assert len(BASIC) == 127  # 128 code points less the escape


@given(texts)
def test_segments_match_the_reference(text: str) -> None:
    enc, count = reference_segments(text)
    assert encoding(text) == enc
    assert segments(text) == count


@given(st.lists(texts, max_size=20))
def test_segments_many_is_the_sum(batch: list[str]) -> None:
    assert segments_many(batch) == sum(reference_segments(t)[1] for t in batch)


@pytest.mark.parametrize(("text", "count"), [
    ("", 1),
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2), ("a" * 159 + "^", 2), ("a" * 158 + "]", 1),
    ("é" * 160, 1),  # é is in the GSM basic set
    ("ł" * 70, 1), ("ł" * 71, 2), ("ł" * 134, 2), ("ł" * 135, 3),
    ("😀" * 35, 1), ("😀" * 36, 2),  # an emoji is 2 UTF-16 units
    ("a" * 69 + "`", 1), ("a" * 70 + "`", 2),  # a backtick forces UCS-2
])
def test_boundaries(text: str, count: int) -> None:
    assert segments(text) == count
    assert segments_many([text, text]) == 2 * count


def test_limit_is_in_utf16_units_never_fewer_than_code_points() -> None:
    assert MAX_TEXT_CHARS == 1000
    assert text_length("😀" * 500) == MAX_TEXT_CHARS  # 500 code points, 1000 UTF-16 units
    assert text_length("😀" * 1000) == 2000 > MAX_TEXT_CHARS


@pytest.mark.parametrize(("text", "found"), [
    ("Visit https://bit.ly/3abc now", "bit.ly"),
    ("go to BIT.LY/abc", "bit.ly"),
    ("see www.tinyurl.com/xyz.", "tinyurl.com"),
    ("short link: t.co/ab", "t.co"),
    ("http://goo.gl/maps/x and bit.ly/y", "goo.gl"),
    ("rb.gy", "rb.gy"),
    ("(cutt.ly/x)", "cutt.ly"),
    ("ends with is.gd.", "is.gd"),
    ("Hi Ana, see example.com/offer", None),
    ("microsoft.com", None),
    ("ebit.ly is not bit.ly's", "bit.ly"),
    ("ebit.ly only", None),
    ("t.com and t.co.uk", None),
    ("mail me@t.co", None),
    ("this.gd", None),
    ("no links here at all", None),
])
def test_find_shortener(text: str, found: str | None) -> None:
    assert find_shortener(text) == found


@given(st.sampled_from(SHORTENER_DOMAINS), st.sampled_from(["", "https://", "http://www."]),
       st.sampled_from(["", "/abc", "/x?y=1", "."]), st.text(alphabet=" abc,.", max_size=10))
def test_every_domain_is_found(domain: str, scheme: str, path: str, before: str) -> None:
    text = f"{before} {scheme}{domain.upper()}{path}"
    assert find_shortener(text) == domain
