"""Smart encoding: the replacement table against the GSM-7 alphabet, and when it applies."""

from __future__ import annotations

from engine.preview import describe, has_opt_out_wording, ucs2_chars
from engine.segments import GSM7_BASIC, GSM7_EXTENSION, encoding, segments
from engine.smartencoding import REPLACEMENTS, smarten, smarten_many

GSM7 = set(GSM7_BASIC + GSM7_EXTENSION)


def test_every_replaced_character_forces_ucs2_and_every_replacement_is_gsm7() -> None:
    for char, plain in REPLACEMENTS.items():
        assert len(char) == 1
        assert char not in GSM7, f"{char!r} is GSM-7 already: replacing it changes nothing"
        assert encoding(f"x{char}x") == "UCS-2"
        assert set(plain) <= GSM7, f"{char!r} -> {plain!r} is not GSM-7"
        assert encoding(f"x{plain}x") == "GSM-7"


def test_the_usual_typographic_characters_are_in_the_table() -> None:
    for char in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u202f\u200b":
        assert char in REPLACEMENTS


def test_curly_quotes_dashes_and_ellipsis_become_one_gsm7_segment() -> None:
    text = "Hi Ann \u2014 it\u2019s \u201cspring sale\u201d day\u2026 " + "x" * 60
    assert (encoding(text), segments(text)) == ("UCS-2", 2)
    out = smarten(text)
    assert out == 'Hi Ann - it\'s "spring sale" day... ' + "x" * 60
    assert (encoding(out), segments(out)) == ("GSM-7", 1)


def test_a_text_that_stays_ucs2_is_left_as_written() -> None:
    text = "It\u2019s here \U0001f389"  # the emoji keeps it UCS-2 whatever we replace
    assert smarten(text) is text
    assert smarten("Привет \u2014 hi") == "Привет \u2014 hi"


def test_gsm7_and_plain_ascii_are_untouched() -> None:
    for text in ("Hello", "Caf\u00e9 \u00e0 10\u20ac", "{braces} [ok]"):
        assert smarten(text) is text
    assert smarten("a `tick`") == "a 'tick'"  # ASCII, but not GSM-7


def test_never_past_the_api_limit() -> None:
    text = "x" * 998 + "\u2026"  # 999 characters; "..." would make 1001
    assert smarten(text) is text


def test_smarten_many_counts_changes_and_segments_saved() -> None:
    long = "Sale \u2014 " + "y" * 100  # UCS-2: 2 segments; GSM-7: 1
    result = smarten_many([None, "plain", long, "x\u2019s"])
    assert result.texts == [None, "plain", "Sale - " + "y" * 100, "x's"]
    assert result.saved == [-1, -1, 1, 0]
    ascii_only = smarten_many(["a", None, "b"])
    assert ascii_only.saved is None and ascii_only.texts == ["a", None, "b"]


def test_preview_names_the_characters_that_force_ucs2() -> None:
    assert ucs2_chars("It\u2019s \U0001f389 \u2019") == "\u2019\U0001f389"
    entry = describe(2, "+14155550100", "Hi \u2014 \U0001f389")
    assert entry == {"line": 2, "to": "+14155550100", "text": "Hi \u2014 \U0001f389",
                     "length": 6, "encoding": "UCS-2", "segments": 1,
                     "ucs2_chars": "\u2014\U0001f389"}
    assert describe(3, "+1", "Hi")["ucs2_chars"] == ""


def test_opt_out_wording() -> None:
    for text in ("Reply STOP to opt out", "Text stop to end", "opt-out: reply QUIT",
                 "To unsubscribe, reply CANCEL"):
        assert has_opt_out_wording(text), text
    for text in ("Your code is 1234", "Stopover in Denver", "Nonstop flights", "Sale ends"):
        assert not has_opt_out_wording(text), text
