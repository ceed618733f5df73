"""Message templates: ``"Hi {name}, your code is {code}"`` filled from CSV columns.

A placeholder is ``{column name}``: everything between the braces, stripped of
surrounding spaces, is the column's name (so names may hold spaces, dots or
colons; there are no format specs or conversions). ``{{`` and ``}}`` are
literal braces. A lone brace is a `ConfigError` that says where it is.

`Template.bind` checks the columns against a file's header once, before
anything is sent, and compiles the text to a positional `str.format` string
(``"Hi {0}, your code is {1}"``), so rendering a row is one C call. Values are
inserted as they are: braces inside a value come out literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import starmap

from .errors import ConfigError
from .reader import loose_name as _loose

__all__ = ["BoundTemplate", "Template"]

# One token per match: an escaped brace, a placeholder, or a lone brace.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class Template:
    """A parsed template. `fields` are the column names it uses (unique, in order)."""

    __slots__ = ("_parts", "fields", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        # Literal runs (braces unescaped) and field names, alternating as
        # (literal, field-or-None) pairs.
        parts: list[tuple[str, str | None]] = []
        fields: list[str] = []
        literal: list[str] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            literal.append(text[pos:m.start()])
            pos = m.end()
            tok = m.group()
            if tok == "{{" or tok == "}}":
                literal.append(tok[0])
                continue
            name = m.group(1)
            if name is None:
                raise ConfigError(_where(text, m.start(), f"unmatched {tok!r}"))
            name = name.strip()
            if not name:
                raise ConfigError(_where(text, m.start(), "empty placeholder '{}'"))
            parts.append(("".join(literal), name))
            literal = []
            if name not in fields:
                fields.append(name)
        literal.append(text[pos:])
        parts.append(("".join(literal), None))
        self._parts = tuple(parts)
        self.fields: tuple[str, ...] = tuple(fields)

    @property
    def is_static(self) -> bool:
        """True when the template has no placeholders (one text for everyone)."""
        return not self.fields

    def bind(self, columns: Sequence[str]) -> BoundTemplate:
        """Check the template against a file's columns and compile it.

        Raises `ConfigError` naming every missing column and listing the
        file's columns, so the job is refused before anything is sent.
        """
        index: dict[str, int] = {}
        for i, col in enumerate(columns):
            index.setdefault(col, i)
        # As the recipient column is found: {First Name} also names 'first_name' and
        # 'FIRST NAME' when the file has no exact match (and only one loose one).
        loose: dict[str, list[int]] = {}
        for i, col in enumerate(columns):
            loose.setdefault(_loose(col), []).append(i)
        for f in self.fields:
            if f not in index and len(loose.get(_loose(f), ())) == 1:
                index[f] = loose[_loose(f)][0]
        missing = [f for f in self.fields if f not in index]
        if missing:
            names = ", ".join(repr(f) for f in missing)
            have = ", ".join(repr(c) for c in columns) or "(none)"
            hint = ""
            close = [f"{{{columns[i]}}}" for f in missing for i in loose.get(_loose(f), ())]
            if close:
                hint = f" (did you mean {' or '.join(close)}?)"
            raise ConfigError(
                f"the template uses column{'s' if len(missing) > 1 else ''} {names} that "
                f"the file does not have; the file's columns are: {have}{hint}"
            )
        return BoundTemplate(self, tuple(index[f] for f in self.fields))

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def _where(text: str, at: int, what: str) -> str:
    return f"template has {what} at character {at + 1}: {text!r}"


def _escape(literal: str) -> str:
    return literal.replace("{", "{{").replace("}", "}}")


class BoundTemplate:
    """A template checked against a header, ready to render rows.

    A row here is the values of `fields`, in that order (not the whole CSV
    row): pick them with `indexes`, the fields' positions in the header that
    was bound, e.g. ``[row[i] for i in bound.indexes]``.
    """

    __slots__ = ("_format", "fields", "indexes", "is_static", "template", "text")

    def __init__(self, template: Template, indexes: tuple[int, ...]) -> None:
        self.template = template
        self.fields = template.fields
        self.indexes = indexes
        self.is_static = not self.fields
        slot = {f: i for i, f in enumerate(self.fields)}
        fmt: list[str] = []
        for literal, field in template._parts:
            fmt.append(_escape(literal))
            if field is not None:
                fmt.append(f"{{{slot[field]}}}")
        # The static text with {{ }} already unescaped, for render(()) and
        # for callers that want the plain text.
        self.text = "".join(lit for lit, _ in template._parts) if self.is_static else None
        self._format = "".join(fmt).format

    def render(self, row: Sequence[str]) -> str:
        """The text for one row (the values of `fields`, in order)."""
        if self.text is not None:
            return self.text
        return self._format(*row)

    def render_many(self, rows: Iterable[Sequence[str]]) -> list[str]:
        """`render` for many rows; one C-level loop of `str.format` calls."""
        if self.text is not None:
            text = self.text
            return [text for _ in rows]
        return list(starmap(self._format, rows))

    def render_columns(self, columns: Sequence[Sequence[str]]) -> list[str]:
        """`render` for every row given column-major (one list per field, in order)."""
        if self.text is not None:
            return [self.text] * (len(columns[0]) if columns else 0)
        return list(map(self._format, *columns))

    def empty_fields(self, row: Sequence[str]) -> list[str]:
        """Names of the fields whose value is empty or only whitespace on this row."""
        return [f for f, v in zip(self.fields, row, strict=True) if not v.strip()]

    def __repr__(self) -> str:
        return f"BoundTemplate({self.template.text!r}, indexes={self.indexes})"
