"""Phone normalisation: the cached fast paths give exactly phonenumbers' answers."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from engine.errors import ConfigError
from engine.phones import E164, Normalizer, e164_mask, is_e164

E164_TEXT = re.compile(r"\+[1-9][0-9]{6,14}")
LETTER = re.compile(r"[^\W\d_]")
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
         PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.UAN,
         PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.SHARED_COST]


def _bad_nanp(value: str) -> bool:
    """+1 numbers need exactly 10 digits after the 1, even on the fast path."""
    return value.startswith("+1") and len(value) != 12


def reference(value: str, region: str, strict: bool = False) -> str | None:
    """phonenumbers itself, under the documented policy (None: dropped)."""
    if not strict and E164_TEXT.fullmatch(value) and not _bad_nanp(value):
        return value  # E.164 input is trusted as is in the default mode (but +1 lengths)
    if not value.strip() or LETTER.search(value):
        return None
    try:
        num = phonenumbers.parse(value, region)
    except NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(num) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    out = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    if not E164_TEXT.fullmatch(out):
        return None
    if strict and not phonenumbers.is_valid_number(num):
        return None
    return out


def check_block(values: list[str], region: str, strict: bool = False) -> None:
    """Normalise `values` as one block (cache off) and compare every row to phonenumbers."""
    out, dropped = Normalizer(region, strict=strict, verify=False).normalize(values)
    assert len(out) == len(values)
    for i, value in enumerate(values):
        want = reference(value, region, strict)
        if want is None:
            assert out[i] == "" and dropped.get(i), (region, value, out[i])
        else:
            assert out[i] == want and i not in dropped, (region, value, out[i], dropped.get(i))


@st.composite
def formatted(draw: st.DrawFn, region: str | None = None) -> tuple[str, str]:
    """(region, a real-looking number with some digits changed, in a random format)."""
    region = region or draw(st.sampled_from(REGIONS))
    source = draw(st.sampled_from([region, *draw(st.lists(st.sampled_from(REGIONS), max_size=1))]))
    ex = phonenumbers.example_number_for_type(source, draw(st.sampled_from(TYPES)))
    ex = ex or phonenumbers.example_number(source) or phonenumbers.parse("+14155550100")
    fmt = draw(st.sampled_from([PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL,
                                PhoneNumberFormat.E164]))
    chars = list(phonenumbers.format_number(ex, fmt))
    digits = [i for i, c in enumerate(chars) if c.isdigit()]
    for i in digits[len(digits) - draw(st.integers(0, len(digits))):]:
        chars[i] = draw(st.sampled_from("0123456789"))
    text = "".join(chars)
    if draw(st.booleans()):  # re-punctuate
        bare = text.replace(" ", "").replace("-", "")
        seps = draw(st.lists(st.sampled_from(["", " ", "-", ".", "(", ")", "/"]),
                             min_size=len(bare), max_size=len(bare)))
        text = "".join(c + s for c, s in zip(bare, seps, strict=True))
    return region, text


garbage = st.text(alphabet=st.sampled_from("0123456789+ -.()/x#,;*\t\u00a0٣１A"), max_size=20)


def test_e164_regex() -> None:
    assert is_e164("+14155550100")
    assert not is_e164("+04155550100")
    assert not is_e164("+1٤١٥5550100")  # other scripts' digits are not E.164
    assert not is_e164("+123456")  # 6 digits
    assert is_e164("+1234567") and is_e164("+123456789012345")
    assert not is_e164("+1234567890123456")
    assert E164.pattern.startswith(r"\+")


@given(st.lists(st.one_of(st.from_regex(E164_TEXT, fullmatch=True), garbage,
                          st.text(max_size=18))))
def test_e164_mask_matches_the_regex(values: list[str]) -> None:
    mask = e164_mask(values).tolist()
    assert mask == [E164_TEXT.fullmatch(v) is not None for v in values]


def test_all_e164_block_is_returned_as_is() -> None:
    values = ["+14155550100", "+442079460958", "+61291234567"] * 1000
    out, dropped = Normalizer("US").normalize(values)
    assert out is values
    assert dropped == {}


@pytest.mark.parametrize(("value", "region", "want"), [
    ("(415) 555-0100", "US", "+14155550100"),
    ("415.555.0100", "US", "+14155550100"),
    ("4155550100", "US", "+14155550100"),
    ("1-415-555-0100", "US", "+14155550100"),
    ("+1 415 555 0100", "US", "+14155550100"),
    ("  +1 (415) 555-0100\t", "US", "+14155550100"),
    ("011 44 20 7946 0958", "US", "+442079460958"),
    ("0044 20 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 (0) 20 7946 0958", "GB", "+442079460958"),
    ("07911 123456", "GB", "+447911123456"),
])
def test_national_formats(value: str, region: str, want: str) -> None:
    out, dropped = Normalizer(region).normalize([value])
    assert (out, dropped) == ([want], {})


@pytest.mark.parametrize(("value", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("1-800-FLOWERS", "has letters"),
    ("415 555 0100 x12", "has letters"),
    ("555-0100", "local number without area code"),
    ("12", "not a possible number for region US"),
    ("+0 415 555 0100", "unknown country code"),
    ("1234567890123456789012", "too long"),
])
def test_drop_reasons(value: str, reason: str) -> None:
    out, dropped = Normalizer("US").normalize(["+14155550100", value])
    assert out == ["+14155550100", ""]
    assert dropped == {1: reason}


def test_strict_drops_invalid_numbers_even_in_e164() -> None:
    values = ["+14155550100", "+1 999 555 0100", "+19995550100", "(212) 555-0100"]
    out, dropped = Normalizer("US", strict=True).normalize(values)
    assert out == ["+14155550100", "", "", "+12125550100"]
    assert dropped == {1: "invalid number", 2: "invalid number"}
    # the default mode trusts E.164 and only checks that national input is possible
    assert Normalizer("US").normalize(values)[0][1:3] == ["+19995550100", "+19995550100"]


def test_region_is_checked_and_case_insensitive() -> None:
    with pytest.raises(ConfigError, match="unknown region"):
        Normalizer("XX")
    assert Normalizer("gb").normalize_one("020 7946 0958") == ("+442079460958", None)
    assert Normalizer("US").normalize_one("abc") == ("", "has letters")


def test_answers_do_not_depend_on_the_block() -> None:
    values = ["(415) 555-0100", "+1 212 555 0199", "555-0100", "1-800-FLOWERS", "+44 20 7946 0958",
              "0800 123 4567", "14155550100", "+14155550100"] * 3
    whole = Normalizer("US").normalize(values)
    one = Normalizer("US")
    for i, v in enumerate(values):
        e164, why = one.normalize_one(v)
        assert e164 == whole[0][i] and why == whole[1].get(i)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(formatted(), min_size=1, max_size=30))
def test_formatted_numbers_match_phonenumbers(pairs: list[tuple[str, str]]) -> None:
    region = pairs[0][0]
    check_block([v for _, v in pairs], region)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(REGIONS), st.data())
def test_cache_generalises_over_shared_prefixes(region: str, data: st.DataObject) -> None:
    # Many numbers sharing prefixes and lengths: each cache entry is reused by
    # rows it was not computed from, and must still be phonenumbers' answer.
    base = [data.draw(formatted(region))[1] for _ in range(4)]
    values = []
    for text in base:
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        for _ in range(12):
            chars = list(text)
            for i in digits[len(digits) - data.draw(st.integers(1, max(1, len(digits)))):]:
                chars[i] = data.draw(st.sampled_from("0123456789"))
            values.append("".join(chars))
    check_block(values, region)
    check_block(values, region, strict=True)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["US", "GB", "DE", "AR", "BR", "IN", "JP", "BS", "IT", "FR"]),
       st.lists(st.one_of(garbage, st.from_regex(r"\+?[0-9]{0,18}", fullmatch=True)),
                max_size=20))
def test_garbage_matches_phonenumbers(region: str, values: list[str]) -> None:
    check_block(values, region)
    check_block(values, region, strict=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(formatted(), min_size=1, max_size=20))
def test_strict_matches_phonenumbers(pairs: list[tuple[str, str]]) -> None:
    check_block([v for _, v in pairs], pairs[0][0], strict=True)


@given(st.lists(st.from_regex(E164_TEXT, fullmatch=True).filter(lambda v: not _bad_nanp(v)),
                min_size=1, max_size=20),
       st.lists(st.sampled_from(["(415) 555-0100", "", "x", "020 7946 0958"]), max_size=5))
def test_e164_values_come_back_identical(e164s: list[str], others: list[str]) -> None:
    values = others + e164s
    out, dropped = Normalizer("US").normalize(values)
    assert out[len(others):] == e164s
    assert all(i < len(others) for i in dropped)


def test_verify_mode_agrees_and_counts() -> None:
    n = Normalizer("US")
    out, _ = n.normalize(["(415) 555-0100", "(415) 555-0199", "(415) 666-0100"])
    assert out == ["+14155550100", "+14155550199", "+14156660100"]
    assert n.stats["mismatch"] == 0
    assert 1 <= n.stats["computed"] <= 3  # one cache entry serves rows sharing a prefix
