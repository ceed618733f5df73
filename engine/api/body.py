"""A request body streamed piece by piece, whose exact size is known up front."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from aiohttp.payload import AsyncIterablePayload

from ..errors import BodySizeMismatch, HvsmsError

__all__ = ["StreamBody"]


class StreamBody(AsyncIterablePayload):
    """A JSON body produced piece by piece, whose exact size is known up front.

    Tracks how much was handed to the connection: a body that was not fully
    written cannot have been accepted by the server (Content-Length unmet).
    Pieces that add up to another size than declared raise `BodySizeMismatch`.
    """

    def __init__(self, pieces: AsyncIterable[bytes], size: int) -> None:
        self.error: HvsmsError | None = None
        self.written = 0
        self.expected = size
        super().__init__(self._count(pieces), content_type="application/json")
        self._size = size

    async def _count(self, pieces: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        try:
            async for piece in pieces:
                self.written += len(piece)
                if self.written > self.expected:
                    raise BodySizeMismatch(self.written, self.expected)
                yield piece
            if self.written != self.expected:
                raise BodySizeMismatch(self.written, self.expected)
        except HvsmsError as exc:
            # aiohttp wraps errors raised while writing; keep ours to re-raise.
            self.error = exc
            raise

    @property
    def complete(self) -> bool:
        return self.written >= self.expected
