"""The floor: read the file, split it, assemble the request bodies; nothing else.

No validation, no escaping, no dedupe, no network: the least work any sender
must do to turn this CSV into A2P request bodies, done the fastest honest way
in Python (one process). The file is read in 1 MiB blocks and cut with
`bytes.split`; a block's messages are assembled with `bytes.join` over
pre-built pieces (for a template, a list of literal pieces with the row's
fields slotted in by slice assignment), so no Python code runs per row. Bodies
are filled up to the same limit as hvsms's default (`max_batch_bytes`),
within one block's worth of messages.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Sequence

from ._common import Clock, Result, parse_args, run_main

BLOCK = 1 << 20
SENDER = "+16505550100"  # a US number: the same size as the emulator's sender
MAX_BODY = 50_000_000 - 1_048_576  # hvsms's DEFAULT_MAX_BATCH_BYTES


def plan_template(text: str, columns: Sequence[bytes]) -> tuple[list[bytes], list[int]] | None:
    """Literal pieces and column indexes of a template; None if it has no fields."""
    literals: list[bytes] = []
    fields: list[int] = []
    pending = ""
    for literal, name, _spec, _conv in string.Formatter().parse(text):
        pending += literal
        if name is not None:
            literals.append(pending.encode())
            fields.append(columns.index(name.encode()))
            pending = ""
    if not fields:
        return None
    literals.append(pending.encode())
    return literals, fields


class Assembler:
    """Turns blocks of CSV lines into bodies no larger than `max_body` bytes."""

    def __init__(self, text: str, columns: Sequence[bytes], to_index: int,
                 max_body: int = MAX_BODY) -> None:
        self.columns = len(columns)
        self.to_index = to_index
        self.template = plan_template(text, columns)
        if self.template is None:
            self.head = b'{"from":"%s","text":"%s","messages":[' % (SENDER.encode(),
                                                                   text.encode())
        else:
            self.head = b'{"from":"%s","messages":[' % SENDER.encode()
        self.tail = b"]}"
        self.max_body = max_body
        self.parts: list[bytes] = []
        self.size = len(self.head) + len(self.tail)
        self.bodies = 0
        self.messages = 0
        self.total = 0
        self.largest = 0

    def fragment(self, lines: bytes, count: int) -> bytes:
        """Messages for `count` complete lines (ending with b"\\n"), comma-separated."""
        if self.template is None and self.columns == 1:
            return b'{"to":["' + b'"]},{"to":["'.join(lines[:-1].split(b"\n")) + b'"]}'
        fields = lines.replace(b"\n", b",").split(b",")
        width = self.columns
        if self.template is None:
            out = [b'{"to":["', b"", b'"]},'] * count
            out[1::3] = fields[self.to_index::width][:count]
        else:
            literals, used = self.template
            # {"to":["<to>"],"text":"<lit0><f0><lit1><f1>...<litN>"},
            unit = [b'{"to":["', b"", b'"],"text":"' + literals[0]]
            for literal in literals[1:-1]:
                unit += [b"", literal]
            unit += [b"", literals[-1] + b'"},']
            step = len(unit)
            out = unit * count
            out[1::step] = fields[self.to_index::width][:count]
            for k, column in enumerate(used):
                out[3 + 2 * k::step] = fields[column::width][:count]
        out[-1] = out[-1][:-1]  # no comma after the last message
        return b"".join(out)

    def add(self, lines: bytes) -> None:
        count = lines.count(b"\n")
        if not count:
            return
        frag = self.fragment(lines, count)
        if self.parts and self.size + 1 + len(frag) > self.max_body:
            self.flush()
        self.parts.append(frag)
        self.size += len(frag) + (1 if len(self.parts) > 1 else 0)
        self.messages += count

    def flush(self) -> None:
        if not self.parts:
            return
        body = self.head + b",".join(self.parts) + self.tail
        self.bodies += 1
        self.total += len(body)
        self.largest = max(self.largest, len(body))
        self.parts = []
        self.size = len(self.head) + len(self.tail)


def assemble(path: str, text: str, result: Result, block: int = BLOCK) -> None:
    with open(path, "rb", buffering=0) as f:
        first = f.read(block)
        header, _, rest = first.partition(b"\n")
        columns = header.rstrip(b"\r").split(b",")
        assembler = Assembler(text, columns, columns.index(b"to"))
        carry = rest
        while True:
            data = f.read(block)
            chunk = carry + data if carry else data
            if not data:
                if chunk and not chunk.endswith(b"\n"):
                    chunk += b"\n"
                assembler.add(chunk)
                break
            cut = chunk.rfind(b"\n") + 1
            assembler.add(chunk[:cut])
            carry = chunk[cut:]
    assembler.flush()
    result.rows = result.messages = assembler.messages
    result.batches = assembler.bodies
    result.bytes_posted = assembler.total
    result.largest_body = assembler.largest


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("floor", argv)

    def work(clock: Clock, result: Result) -> None:
        assemble(args.file, args.text, result)

    return run_main("floor", args.file, work)


if __name__ == "__main__":
    sys.exit(main())
