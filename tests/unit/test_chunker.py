"""The chunker and the body encoding: exact sizes, limits, order, fill."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.chunker import (
    FOOTER,
    Chunker,
    body_header,
    encode_messages,
    escape_texts,
    message_sizes,
)

numbers = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
texts = st.one_of(st.none(), st.text(max_size=300))


def _bodies(sender: str, default: str | None, msgs: list[tuple[str, str | None]],
            max_bytes: int, max_messages: int | None = None) -> list[bytes]:
    head = body_header(sender, default)
    chunker = Chunker(header_size=len(head), max_bytes=max_bytes, max_messages=max_messages)
    nums = [n for n, _ in msgs]
    enc = escape_texts([t for _, t in msgs])
    sizes = message_sizes(nums, enc)
    cuts = chunker.feed(sizes)
    tail = chunker.close()
    bodies, prev = [], 0
    for cut in cuts + ([tail._replace(end=len(msgs))] if tail else []):
        body = head + encode_messages(nums[prev:cut.end], enc[prev:cut.end]) + FOOTER
        assert len(body) == cut.size
        assert orjson.loads(body)["messages"].__len__() == cut.messages
        bodies.append(body)
        prev = cut.end
    return bodies


@settings(max_examples=200, deadline=None)
@given(
    msgs=st.lists(st.tuples(numbers, texts), max_size=200),
    default=st.one_of(st.none(), st.text(max_size=50)),
    max_bytes=st.integers(min_value=2_000, max_value=20_000),
    max_messages=st.one_of(st.none(), st.integers(min_value=1, max_value=50)),
)
def test_any_messages_chunk_into_valid_bodies_in_order(
    msgs: list[tuple[str, str | None]], default: str | None, max_bytes: int,
    max_messages: int | None,
) -> None:
    bodies = _bodies("+16505550100", default, msgs, max_bytes, max_messages)
    seen: list[tuple[str, str | None]] = []
    for body in bodies:
        assert len(body) <= max_bytes
        doc = orjson.loads(body)
        assert doc["from"] == "+16505550100"
        assert doc.get("text") == default
        if max_messages is not None:
            assert len(doc["messages"]) <= max_messages
        seen += [(m["to"][0], m.get("text")) for m in doc["messages"]]
    assert seen == msgs  # every message once, in order, text intact


def test_every_batch_but_the_last_is_at_least_95_percent_full() -> None:
    msgs = [(f"+1415555{i:04d}", "x" * (i % 97)) for i in range(5000)]
    bodies = _bodies("+16505550100", "hello", msgs, 20_000)
    assert len(bodies) > 10
    assert all(len(b) >= 0.95 * 20_000 for b in bodies[:-1])


def test_escaping_of_quotes_backslashes_controls_and_emoji() -> None:
    text = 'say "hi" \\ path\ttab\nnew \x01 ctl 😀 שלום'
    (body,) = _bodies("+16505550100", None, [("+14155550100", text)], 10_000)
    assert orjson.loads(body)["messages"][0]["text"] == text


def test_a_message_too_big_for_an_empty_batch_is_refused_not_a_crash() -> None:
    head = body_header("+16505550100", None)
    chunker = Chunker(header_size=len(head), max_bytes=1_000, max_messages=None)
    size = int(message_sizes(["+14155550100"], ["x" * 2000])[0])
    assert not chunker.fits_alone(size)
    with pytest.raises(ValueError):
        chunker.feed([size])


def test_default_text_only_bodies_carry_to_alone() -> None:
    (body,) = _bodies("+16505550100", "Hi all", [("+14155550100", None)] * 3, 10_000)
    assert body == (b'{"from":"+16505550100","text":"Hi all","messages":'
                    b'[{"to":["+14155550100"]},{"to":["+14155550100"]},{"to":["+14155550100"]}]}')
