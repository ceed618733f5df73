"""Planning batches from the file, and rebuilding a planned batch's body.

The planner streams the file through hygiene and the chunker and records each
batch as a byte range of the file plus the lines dropped inside it. It keeps
the messages it encoded only up to a fixed budget (`HotBudget`), for the
batch's first send; the rest of a body is rebuilt block by block from the
byte range while it is sent (`BodyBuilder`). Memory stays flat whatever the
number of recipients, and any batch can be rebuilt after a crash or a retry.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .chunker import FOOTER, Chunker, encode_messages, message_sizes
from .errors import InputChanged
from .hygiene import CleanBlock, Hygiene
from .journal import BatchRecord
from .lanes import Lanes
from .reader import CsvSource, Header, RowBlock
from .report import DroppedRow

__all__ = ["BodyBuilder", "PlanStats", "Planner", "sample_positions"]


@dataclass(slots=True)
class PlanStats:
    """What planning counted: kept in the journal's meta and shown in the plan."""

    rows: int = 0
    segments: int = 0
    shortener: str | None = None
    smart_changed: int = 0  # messages smart encoding changed
    smart_saved: int = 0  # and the segments it saved
    samples: list[tuple[int, str, str]] = field(default_factory=list)  # (line, to, text)


# Messages kept for the plan's preview (the first rows sent).
PREVIEW_MESSAGES = 3


class HotBudget:
    """Bytes of encoded messages the planner may keep for the first send.

    Within the budget a batch's body is sent from what planning already built;
    past it, the rest is rebuilt from the file. Memory stays bounded either way.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def release(self, n: int) -> None:
        self.used -= n


@dataclass(slots=True)
class _Open:
    """The batch being planned: its kept prefix, or where keeping stopped."""

    hot: list[bytes]
    messages: int = 0
    cold: tuple[int, int] | None = None


@dataclass(slots=True)
class _Lane:
    """The open batch of one sender of a pool: where it starts, its first and last."""

    start: int = 0
    start_line: int = 0
    first: tuple[int, str] | None = None  # (line, to)
    last: tuple[int, str] = (0, "")

    def record(self, seq: int, stop: int, messages: int, size: int,
               key: tuple[str, str | None]) -> BatchRecord:
        assert self.first is not None
        return BatchRecord(seq, self.start, stop, self.start_line, self.first[0], self.last[0],
                           messages, size, self.first[1], self.last[1], sender=key[0],
                           zone=key[1])


class Planner:
    """Streams the file into `BatchRecord`s; calls `emit` for each, in order."""

    def __init__(
        self, *, source: CsvSource, header: Header, select: Sequence[int], hygiene: Hygiene,
        chunker: Chunker, file_size: int, budget: HotBudget | None = None,
        lanes: Lanes | None = None, chunker_for: Callable[[str], Chunker] | None = None,
    ) -> None:
        self.source = source
        self.header = header
        self.select = select
        self.hygiene = hygiene
        self.chunker = chunker
        self.file_size = file_size
        self.budget = budget
        self.stats = PlanStats()
        # Batches per lane (a sender of a pool, recipients of the same hours), each
        # lane with its own chunker (`chunker_for(sender)`).
        self.lanes = lanes
        self.chunker_for = chunker_for

    async def run(
        self,
        emit: Callable[[BatchRecord, list[tuple[DroppedRow, str]]], Awaitable[None]],
        emit_dropped: Callable[[list[tuple[DroppedRow, str]]], None],
        on_block: Callable[[PlanStats], None] | None = None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> PlanStats:
        """Plan the whole file; when `stopped()` turns true, return between blocks."""
        if self.lanes is not None:
            return await self._run_lanes(self.lanes, emit, emit_dropped, on_block, stopped)
        st = self.stats
        seq = 0
        start, start_line = self.header.data_start, self.header.first_line
        first: tuple[int, str] | None = None  # (line, to) of the open batch's first message
        last: tuple[int, str] = (0, "")
        pending: list[tuple[DroppedRow, str]] = []  # dropped rows not yet given to a batch
        open_ = _Open([])
        async for block in self.source.blocks(self.header, self.select):
            clean = self._clean(block)
            pending.extend(clean.dropped)
            if first is None and clean.numbers:
                first = (clean.lines[0], clean.numbers[0])
            seg = 0
            for cut in self.chunker.feed(clean.sizes):
                i = cut.end
                self._keep(open_, block, clean, seg, i)
                seg = i
                assert first is not None  # a cut always closes a batch with messages
                end_line = clean.lines[i]
                stop = block.offset_at_line(end_line)
                if i > 0:
                    last = (clean.lines[i - 1], clean.numbers[i - 1])
                seq += 1
                k = bisect.bisect_left([d.line for d, _ in pending], end_line)
                mine, pending = pending[:k], pending[k:]
                rec = BatchRecord(seq, start, stop, start_line, first[0], last[0], cut.messages,
                                  cut.size, first[1], last[1])
                open_ = self._hand_over(open_, rec)
                await emit(rec, mine)
                start, start_line = stop, end_line
                first = (clean.lines[i], clean.numbers[i])
            self._keep(open_, block, clean, seg, len(clean.numbers))
            if clean.numbers:
                last = (clean.lines[-1], clean.numbers[-1])
            if on_block is not None:
                on_block(st)
            if stopped():
                return st
        tail = self.chunker.close()
        if tail is not None and first is not None:
            seq += 1
            rec = BatchRecord(seq, start, self.file_size, start_line, first[0], last[0],
                              tail.messages, tail.size, first[1], last[1])
            self._hand_over(open_, rec)
            await emit(rec, pending)
        elif pending:
            emit_dropped(pending)
        st.shortener = self.hygiene.shortener
        return st

    def _clean(self, block: RowBlock) -> CleanBlock:
        """A block through hygiene, counted in the plan's stats (and the preview)."""
        st = self.stats
        clean = self.hygiene.clean(block)
        st.rows += len(block) + len(block.bad)
        st.segments += clean.segments
        st.smart_changed += clean.smart_changed
        st.smart_saved += clean.smart_saved
        if len(st.samples) < PREVIEW_MESSAGES:
            self._sample(clean)
        return clean

    def _sample(self, clean: CleanBlock) -> None:
        """Keep the first messages, as they will be sent, for the preview."""
        default = self.hygiene.default_text
        for i in range(min(PREVIEW_MESSAGES - len(self.stats.samples), len(clean.numbers))):
            text = clean.plain[i] if clean.plain is not None else None
            text = default if text is None else text
            if text is not None:
                self.stats.samples.append((clean.lines[i], clean.numbers[i], text))

    async def _run_lanes(
        self,
        lanes: Lanes,
        emit: Callable[[BatchRecord, list[tuple[DroppedRow, str]]], Awaitable[None]],
        emit_dropped: Callable[[list[tuple[DroppedRow, str]]], None],
        on_block: Callable[[PlanStats], None] | None,
        stopped: Callable[[], bool],
    ) -> PlanStats:
        """`run` in lanes (a sender pool, quiet hours): each lane's recipients are
        packed into its own batches. A batch is the byte range from its first to
        its last message; the range holds other lanes' rows too, which its rebuild
        leaves out (the lane is a pure function of the recipient). Dropped rows
        belong to no batch (they count for every batch whose lines they fall
        between)."""
        st = self.stats
        assert self.chunker_for is not None
        open_: list[_Lane] = []
        chunkers: list[Chunker] = []
        seq = 0
        async for block in self.source.blocks(self.header, self.select):
            clean = self._clean(block)
            if clean.dropped:
                emit_dropped(clean.dropped)
            who = np.asarray(lanes.assign(clean.numbers), dtype=np.intp)
            while len(open_) < len(lanes.keys):
                open_.append(_Lane())
                chunkers.append(self.chunker_for(lanes.keys[len(chunkers)][0]))
            for k, lane in enumerate(open_):
                idx = np.flatnonzero(who == k)
                if not len(idx):
                    continue
                pick: list[int] = idx.tolist()
                lines = [clean.lines[i] for i in pick]
                numbers = [clean.numbers[i] for i in pick]
                if lane.first is None:
                    lane.first = (lines[0], numbers[0])
                    lane.start, lane.start_line = block.offset_at_line(lines[0]), lines[0]
                for cut in chunkers[k].feed(clean.sizes[idx]):
                    j = cut.end
                    if j > 0:
                        lane.last = (lines[j - 1], numbers[j - 1])
                    stop = block.offset_at_line(lines[j])
                    seq += 1
                    await emit(lane.record(seq, stop, cut.messages, cut.size, lanes.keys[k]), [])
                    lane.start, lane.start_line = stop, lines[j]
                    lane.first = (lines[j], numbers[j])
                lane.last = (lines[-1], numbers[-1])
            if on_block is not None:
                on_block(st)
            if stopped():
                return st
        for k, lane in enumerate(open_):
            tail = chunkers[k].close()
            if tail is not None and lane.first is not None:
                seq += 1
                await emit(lane.record(seq, self.file_size, tail.messages, tail.size,
                                       lanes.keys[k]), [])
        st.shortener = self.hygiene.shortener
        return st

    def _keep(self, open_: _Open, block: RowBlock, clean: CleanBlock, a: int, b: int) -> None:
        """Keep messages [a, b) of the block for the open batch while the budget allows."""
        if b <= a or open_.cold is not None:
            return
        whole = a == 0 and b == len(clean.numbers)
        numbers = clean.numbers if whole else clean.numbers[a:b]
        texts = clean.texts if whole or clean.texts is None else clean.texts[a:b]
        data = encode_messages(numbers, texts) if self.budget is not None else b""
        if self.budget is not None and self.budget.take(len(data)):
            open_.hot.append(data)
            open_.messages += b - a
        else:
            line = clean.lines[a]
            open_.cold = (block.offset_at_line(line), line)

    def _hand_over(self, open_: _Open, rec: BatchRecord) -> _Open:
        """Give the batch its kept prefix; start a new open batch."""
        if open_.hot:
            rec.hot, rec.hot_messages = open_.hot, open_.messages
            rec.cold_start = open_.cold  # None: planning kept all of it
        return _Open([])


class BodyBuilder:
    """Builds a planned batch's body: from what planning kept, then from the file."""

    def __init__(
        self, *, source: CsvSource, header: Header, select: Sequence[int], hygiene: Hygiene,
        head: bytes, budget: HotBudget | None = None, lanes: Lanes | None = None,
        heads: Mapping[str, bytes] | None = None,
    ) -> None:
        self.source = source
        self.header = header
        self.select = select
        self.hygiene = hygiene
        self.head = head
        self.budget = budget
        # A lane's batches: only the batch's lane's rows, under its sender's header.
        self.lanes = lanes
        self.heads = heads or {}

    async def _cleaned(
        self, rec: BatchRecord, skip: set[int], start: tuple[int, int] | None = None
    ) -> AsyncIterator[CleanBlock]:
        async for _, clean in self._with_blocks(rec, skip, start):
            yield clean

    async def _with_blocks(
        self, rec: BatchRecord, skip: set[int], start: tuple[int, int] | None = None
    ) -> AsyncIterator[tuple[RowBlock, CleanBlock]]:
        offset, line = start or (rec.start, rec.start_line)
        async for block in self.source.blocks(
            self.header, self.select, start=offset, end=rec.stop, first_line=line
        ):
            clean = self.hygiene.clean(block, skip=skip)
            if rec.sender is not None and self.lanes is not None:
                clean = _lane_of(clean, self.lanes, rec)
            if clean.dropped:
                first, _ = clean.dropped[0]
                raise InputChanged(
                    f"line {first.line} is no longer what it was when the batch was planned "
                    f"({first.reason}): the input or options changed"
                )
            yield block, clean

    async def _blocks(
        self, rec: BatchRecord, skip: set[int], start: tuple[int, int] | None = None
    ) -> AsyncIterator[tuple[Sequence[int], bytes]]:
        async for clean in self._cleaned(rec, skip, start):
            yield clean.lines, encode_messages(clean.numbers, clean.texts)

    async def pieces(self, rec: BatchRecord, skip: set[int]) -> AsyncIterator[bytes]:
        # What planning kept serves the first attempt only; a retry rebuilds it all.
        hot, rec.hot = rec.hot, None
        yield self.heads.get(rec.sender, self.head) if rec.sender is not None else self.head
        sep = False
        count = 0
        rest: tuple[int, int] | None = None
        if hot is not None:
            try:
                for data in hot:
                    if sep:
                        yield b","
                    yield data
                    sep = True
            finally:
                if self.budget is not None:
                    self.budget.release(sum(map(len, hot)))
            count = rec.hot_messages
            rest = rec.cold_start
        if hot is None or rest is not None:
            async for lines, data in self._blocks(rec, skip, rest):
                if not data:
                    continue
                if sep:
                    yield b","
                yield data
                sep = True
                count += len(lines)
        if count != rec.messages:
            raise InputChanged(
                f"batch {rec.seq} rebuilt with {count} messages, planned {rec.messages}: "
                "the input changed"
            )
        yield FOOTER

    async def cut(self, rec: BatchRecord, skip: set[int], k: int, seq: int
                  ) -> tuple[BatchRecord, BatchRecord]:
        """`rec` cut after its first `k` messages: its front part (same seq) and the
        rest (as batch `seq`), with their exact byte ranges and sizes."""
        if not 0 < k < rec.messages:
            raise ValueError(f"cannot cut a batch of {rec.messages} after {k}")
        hot = _split_hot(rec, k)
        if rec.hot is not None and hot is None:  # kept for the whole batch: of no use now
            if self.budget is not None:
                self.budget.release(sum(map(len, rec.hot)))
            rec.hot, rec.cold_start = None, None
        head = self.heads.get(rec.sender, self.head) if rec.sender is not None else self.head
        count, size = 0, 0
        last = (rec.first_line, rec.first_to)
        # Read about what the front part needs, not a whole block: a paced job cuts a
        # batch every few minutes for hours, and each cut reads and cleans what it reads.
        per = (rec.stop - rec.start) / rec.messages
        read = min(int(per * k * 1.25) + _CUT_SLACK, self.source.block_size)
        async for block in self.source.blocks(
            self.header, self.select, start=rec.start, end=rec.stop, first_line=rec.start_line,
            block_size=read,
        ):
            clean = self.hygiene.clean(block, skip=skip)
            if rec.sender is not None and self.lanes is not None:
                clean = _lane_of(clean, self.lanes, rec)
            if clean.dropped:
                raise InputChanged(f"line {clean.dropped[0][0].line} is no longer what it was "
                                   "when the batch was planned: the input or options changed")
            n = len(clean.numbers)
            i = min(n, k - count)
            if i:
                texts = None if clean.texts is None else clean.texts[:i]
                size += int(message_sizes(clean.numbers[:i], texts).sum())
                last = (clean.lines[i - 1], clean.numbers[i - 1])
            count += i
            if i < n:  # the rest begins at message i of this block
                line, to = clean.lines[i], clean.numbers[i]
                stop = block.offset_at_line(line)
                front = BatchRecord(
                    rec.seq, rec.start, stop, rec.start_line, rec.first_line, last[0], k,
                    len(head) + size - 1 + len(FOOTER), rec.first_to, last[1],
                    state=rec.state, attempts=rec.attempts, sender=rec.sender, zone=rec.zone)
                rest = BatchRecord(
                    seq, stop, rec.stop, line, line, rec.last_line, rec.messages - k,
                    rec.bytes - size, to, rec.last_to, sender=rec.sender, zone=rec.zone)
                if hot is not None:  # both parts are sent from what planning kept
                    front.hot, front.hot_messages = hot[0], k
                    rest.hot, rest.hot_messages = hot[1], rec.hot_messages - k
                    rest.cold_start = rec.cold_start
                return front, rest
        raise InputChanged(f"batch {rec.seq} has fewer messages than planned: the input changed")

    async def lines(self, rec: BatchRecord, skip: set[int]) -> list[int]:
        """CSV line of each message of the batch, in order (to map rejections back)."""
        out: list[int] = []
        async for lines, _ in self._blocks(rec, skip):
            out.extend(lines)
        return out

    async def sample(self, rec: BatchRecord, skip: set[int], k: int = 15) -> list[str]:
        """Up to `k` recipients spread over the batch: the first, the last, evenly between."""
        wanted = sample_positions(rec.messages, k)
        out: list[str] = []
        seen = 0
        async for clean in self._cleaned(rec, skip):
            end = seen + len(clean.numbers)
            while len(out) < len(wanted) and wanted[len(out)] < end:
                out.append(clean.numbers[wanted[len(out)] - seen])
            seen = end
        return out

    async def halves(self, rec: BatchRecord, skip: set[int]) -> tuple[BatchRecord, BatchRecord]:
        """`rec` cut in two at its middle message: byte ranges, ends and exact body sizes.

        The halves get their numbers from the journal (`Journal.split`)."""
        if rec.messages < 2:
            raise ValueError("a batch of one message cannot be split")
        middle = rec.messages // 2
        parts = (_Half(), _Half())
        cut: tuple[int, int] | None = None
        seen = 0
        async for block, clean in self._with_blocks(rec, skip):
            n = len(clean.numbers)
            k = min(max(middle - seen, 0), n)  # this block's messages of the first half
            parts[0].add(clean, 0, k)
            parts[1].add(clean, k, n)
            if cut is None and k < n:
                line = clean.lines[k]
                cut = (block.offset_at_line(line), line)
            seen += n
        assert cut is not None and seen == rec.messages
        head = self.heads.get(rec.sender, self.head) if rec.sender is not None else self.head
        first, second = (p.record(rec, len(head) + len(FOOTER)) for p in parts)
        first.stop = second.start = cut[0]
        second.start_line = cut[1]
        return first, second

    async def without(self, rec: BatchRecord, skip: set[int], numbers: set[str]
                      ) -> tuple[list[tuple[int, str]], BatchRecord] | None:
        """The batch's rows whose number is in `numbers` (line, number), and the batch
        without them (messages, exact body size, ends); None if it has none of them
        or they are all it has. What planning kept is given back: the body is rebuilt."""
        found: list[tuple[int, str]] = []
        async for clean in self._cleaned(rec, skip):
            found += [(line, n) for line, n in zip(clean.lines, clean.numbers, strict=True)
                      if n in numbers]
        if not found or len(found) >= rec.messages:
            return None
        part = _Half()
        async for clean in self._cleaned(rec, skip | {line for line, _ in found}):
            part.add(clean, 0, len(clean.numbers))
        if rec.hot is not None and self.budget is not None:
            self.budget.release(sum(map(len, rec.hot)))
        rec.hot, rec.cold_start = None, None
        head = self.heads.get(rec.sender, self.head) if rec.sender is not None else self.head
        return found, part.record(rec, len(head) + len(FOOTER))


# Bytes read past a cut's estimate (a short front part still reads a sensible amount).
_CUT_SLACK = 64 << 10
# Between two encoded messages: a text's quotes are escaped, so this is unambiguous.
_BETWEEN = b'},{"to":["'


def _split_hot(rec: BatchRecord, k: int) -> tuple[list[bytes], list[bytes]] | None:
    """What planning kept of `rec`, as its first `k` messages and the rest (None: it
    kept fewer than k + 1 of them)."""
    if rec.hot is None or rec.hot_messages <= k:
        return None
    front: list[bytes] = []
    left = k  # messages still to go to the front
    for i, data in enumerate(rec.hot):
        at = -1
        for _ in range(left):
            at = data.find(_BETWEEN, at + 1)
            if at < 0:
                break
        if at >= 0:  # the cut falls inside this piece
            front.append(data[:at + 1])
            return front, [data[at + 2:], *rec.hot[i + 1:]]
        front.append(data)
        left -= data.count(_BETWEEN) + 1
        if left == 0:  # ... or right after it
            return front, list(rec.hot[i + 1:])
    return None


def _lane_of(clean: CleanBlock, lanes: Lanes, rec: BatchRecord) -> CleanBlock:
    """The part of a replayed block that is `rec`'s: its lane's rows up to its last line
    (the rest of the range belongs to other lanes' batches, or to no batch)."""
    mine = lanes.mask(clean.numbers, rec.sender, rec.zone)
    keep = [i for i, line in enumerate(clean.lines) if line <= rec.last_line and mine[i]]
    if len(keep) == len(clean.numbers):
        dropped = [d for d in clean.dropped if d[0].line <= rec.last_line]
        return replace(clean, dropped=dropped) if len(dropped) < len(clean.dropped) else clean
    texts = None if clean.texts is None else [clean.texts[i] for i in keep]
    return replace(clean, lines=[clean.lines[i] for i in keep],
                   numbers=[clean.numbers[i] for i in keep], texts=texts,
                   dropped=[d for d in clean.dropped if d[0].line <= rec.last_line])


def sample_positions(n: int, k: int) -> list[int]:
    """`k` (or `n`, if fewer) distinct positions of `0..n-1`, ascending, ends included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})

@dataclass(slots=True)
class _Half:
    """What `BodyBuilder.halves` learns of one half while it streams the batch."""

    messages: int = 0
    payload: int = 0
    pieces: int = 0  # encoded runs, joined by a comma each in the body
    first: tuple[int, str] | None = None
    last: tuple[int, str] = (0, "")

    def add(self, clean: CleanBlock, a: int, b: int) -> None:
        if b <= a:
            return
        texts = None if clean.texts is None else clean.texts[a:b]
        self.payload += len(encode_messages(clean.numbers[a:b], texts))
        self.pieces += 1
        self.messages += b - a
        if self.first is None:
            self.first = (clean.lines[a], clean.numbers[a])
        self.last = (clean.lines[b - 1], clean.numbers[b - 1])

    def record(self, rec: BatchRecord, frame: int) -> BatchRecord:
        assert self.first is not None
        return BatchRecord(0, rec.start, rec.stop, rec.start_line, self.first[0], self.last[0],
                           self.messages, frame + self.payload + self.pieces - 1,
                           self.first[1], self.last[1], sender=rec.sender, zone=rec.zone)
