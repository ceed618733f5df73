"""Hand freed heap memory back to the OS after a big batch (glibc only; else a no-op).

Parsing a 50 MB body makes a few hundred MB of short-lived numpy arrays. glibc
keeps much of that in its heap after they are freed, so the emulator's RSS
would grow by ~100 MB a batch while it really stores ~20 MB. `malloc_trim`
returns it (about 2 ms).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

__all__ = ["release_memory"]


def _load_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    return trim


_TRIM = _load_trim()


def release_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
