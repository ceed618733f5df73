"""Pipeline test helpers (`write_csv` comes from the root conftest)."""

from __future__ import annotations


def us_number(i: int) -> str:
    # Possible US numbers (415 area code), spread over exchanges 200-999.
    return f"+1415{200 + (i // 10_000) % 800:03d}{i % 10_000:04d}"

