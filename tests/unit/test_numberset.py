"""Number sets: keys, the dedupe structure against a dict, membership, suppression files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.numberset import NumberSet, Seen, key, keys, load_suppression
from engine.phones import Normalizer

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
e164s = st.from_regex(E164, fullmatch=True)
junk = st.sampled_from(["", " ", "+", "+0123456789", "123456789", "+1 555 0100", "abc",
                        "+1٣٣٣4567890", "++15551234567", "+1234567890123456", "\n"])


def reference_key(s: str) -> int:
    return int(s) if E164.fullmatch(s) else -1


@given(st.lists(st.one_of(e164s, e164s, junk), max_size=40))
def test_keys_match_int(values: list[str]) -> None:
    assert keys(values).tolist() == [reference_key(v) for v in values]


def test_key() -> None:
    assert key("+15551234567") == 15551234567
    assert key("+999999999999999") == 999_999_999_999_999 < 2**50
    with pytest.raises(ValueError, match="not an E.164"):
        key("15551234567")


class ReferenceSeen:
    def __init__(self) -> None:
        self.first: dict[str, int] = {}

    def check(self, numbers: list[str], lines: list[int]) -> dict[int, int]:
        out = {}
        for i, (n, line) in enumerate(zip(numbers, lines, strict=True)):
            if not E164.fullmatch(n):
                continue
            if n in self.first:
                out[i] = self.first[n]
            else:
                self.first[n] = line
        return out


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from([5, 64, 1 << 15]))
def test_seen_equals_a_dict(data: st.DataObject, chunk: int) -> None:
    pool = data.draw(st.lists(st.one_of(e164s, junk), min_size=1, max_size=80))
    seen, ref = Seen(), ReferenceSeen()
    seen.CHUNK = chunk  # type: ignore[misc]  # tiny chunks exercise the in-place merge
    line = 1
    for _ in range(data.draw(st.integers(1, 25))):
        block = data.draw(st.lists(st.sampled_from(pool), max_size=60))
        lines = list(range(line, line + len(block)))
        line += len(block) + data.draw(st.integers(0, 3))  # dropped rows leave gaps
        assert seen.check(block, lines) == ref.check(block, lines)
        assert len(seen) == len(ref.first)


def test_seen_many_blocks_with_repeats() -> None:
    # Enough numbers for several merge levels and filter growth, with repeats
    # across and inside blocks.
    rng = np.random.default_rng(7)
    seen, ref = Seen(), ReferenceSeen()
    seen.CHUNK = 1000  # type: ignore[misc]
    line = 1
    for _ in range(30):
        k = rng.integers(10**10, 10**10 + 60_000, 6000)
        block = ["+" + str(x) for x in k.tolist()]
        lines = list(range(line, line + len(block)))
        line += len(block)
        assert seen.check(block, lines) == ref.check(block, lines)
    assert len(seen) == len(ref.first) > 50_000
    assert len(seen._runs) <= 8
    for run in seen._runs:
        assert (np.diff(run.keys) > 0).all()


def test_seen_rejects_bad_lines() -> None:
    seen = Seen()
    with pytest.raises(ValueError, match="2 numbers but 1 lines"):
        seen.check(["+15551234567", "+15551234568"], [1])
    with pytest.raises(ValueError, match="line numbers"):
        seen.check(["+15551234567"], [2**32])
    assert seen.check([], []) == {}
    assert len(seen) == 0


def test_seen_with_expected_size_and_memory_figure() -> None:
    seen = Seen(expected=100_000)
    nums = [f"+1415{i:07d}" for i in range(50_000)]
    assert seen.check(nums, list(range(1, 50_001))) == {}
    assert seen.check(nums[:3], [7, 8, 9]) == {0: 1, 1: 2, 2: 3}
    assert seen.nbytes < 50_000 * 12 + (1 << 20) // 8 * 2


@given(st.lists(st.one_of(e164s, junk), max_size=30), st.lists(st.one_of(e164s, junk), max_size=30))
def test_number_set(members: list[str], probes: list[str]) -> None:
    ns = NumberSet.from_numbers(iter(members), block=7)
    valid = {m for m in members if E164.fullmatch(m)}
    assert len(ns) == len(valid)
    want = [p in valid for p in probes]
    assert ns.indices(probes) == [i for i, w in enumerate(want) if w]
    assert [p in ns for p in probes] == want


def test_empty_number_set() -> None:
    ns = NumberSet()
    assert len(ns) == 0
    assert ns.indices(["+15551234567", ""]) == []
    assert ns.indices([]) == []
    assert 15551234567 not in ns


def _write(tmp_path: Path, text: str, name: str = "dnc.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_suppression_with_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffname,Phone,notes\nalice,(415) 555-0100,x\n"
                            "bob,+1 212 555 0199,\ncarol,555-0100,\n\ndave,1-800-FLOWERS\nerin\n")
    numbers, bad = load_suppression(path, Normalizer("US"))
    assert len(numbers) == 2
    assert "+14155550100" in numbers and "+12125550199" in numbers
    assert bad == [(4, "555-0100", "local number without area code"),
                   (6, "1-800-FLOWERS", "has letters"),
                   (7, "", "no value in the number column")]


@pytest.mark.parametrize("text", ["DNC\n4155550100\n+12125550199\n", "4155550100\n+12125550199\n",
                                  "to\n4155550100\n+12125550199\n",
                                  "4155550100,2024-01-01\n+12125550199,2024-02-01\n"])
def test_suppression_single_column_or_headerless(tmp_path: Path, text: str) -> None:
    numbers, bad = load_suppression(_write(tmp_path, text), Normalizer("US"))
    assert bad == []
    assert numbers.indices(["+14155550100", "+12125550199", "+13105550100"]) == [0, 1]


def test_suppression_errors_name_the_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="nope.csv: cannot read the suppression list"):
        load_suppression(missing, Normalizer("US"))
    unclear = _write(tmp_path, "a,b\nx,y\n", "unclear.csv")
    with pytest.raises(InputError, match=r"unclear.csv:1: cannot tell which column") as err:
        load_suppression(unclear, Normalizer("US"))
    assert err.value.hint and "to, phone, phone number" in err.value.hint
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"phone\n\xff\xfe\x00bad\n")
    with pytest.raises(InputError, match="bin.csv"):
        load_suppression(str(binary), Normalizer("US"))


def test_suppression_reads_in_blocks(tmp_path: Path) -> None:
    rows = "\n".join(f"(415) 555-{i:04d}" for i in range(2500))
    numbers, bad = load_suppression(_write(tmp_path, "phone\n" + rows + "\nbad\n"),
                                    Normalizer("US"), block=1000)
    assert len(numbers) == 2500
    assert bad == [(2502, "bad", "has letters")]


@pytest.mark.parametrize("header", ["Name,Mobile Number", "Name,Cell Phone", "name,Phone_Number",
                                    "Name,TELEPHONE"])
def test_suppression_finds_the_columns_a_send_finds(tmp_path: Path, header: str) -> None:
    # A file that sends fine names its recipient column the same way as a suppression list.
    path = _write(tmp_path, f"{header}\nalice,(415) 555-0100\nbob,+1 212 555 0199\n")
    numbers, bad = load_suppression(path, Normalizer("US"))
    assert bad == []
    assert numbers.indices(["+14155550100", "+12125550199", "+13105550100"]) == [0, 1]
