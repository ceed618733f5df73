"""Templates: parsing, binding against a header, rendering rows literally."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ConfigError
from engine.templates import Template


def test_fields_are_unique_and_in_order() -> None:
    t = Template("Hi {name}, {city} says hi to {name} at { time }")
    assert t.fields == ("name", "city", "time")
    assert not t.is_static
    assert Template("no fields, {{literal}}").is_static


def test_literal_braces_and_static_text() -> None:
    bound = Template("Use {{code}} or }}{{").bind(["to"])
    assert bound.is_static
    assert bound.render(()) == "Use {code} or }{"
    assert bound.render_many([(), ()]) == ["Use {code} or }{"] * 2


@pytest.mark.parametrize(("text", "where"), [
    ("Hi {name", "unmatched '{' at character 4"),
    ("Hi name}", "unmatched '}' at character 8"),
    ("Hi {} there", "empty placeholder '{}' at character 4"),
    ("{a{b}}", "unmatched '{' at character 1"),
])
def test_bad_braces_say_where(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=f"template has {where}"):
        Template(text)


def test_bind_names_missing_columns_and_lists_the_file_columns() -> None:
    t = Template("Hi {Name}, your {code} and {plan}")
    with pytest.raises(ConfigError) as err:
        t.bind(["to", "name", "code"])
    msg = str(err.value)
    assert "column 'plan'" in msg  # {Name} is 'name', as columns are found loosely
    assert "the file's columns are: 'to', 'name', 'code'" in msg
    # Two loose matches: none is picked, and both are offered.
    with pytest.raises(ConfigError) as err:
        Template("Hi {Name}").bind(["to", "name", "NAME "])
    assert "did you mean {name} or {NAME }?" in str(err.value)


def test_bind_finds_columns_as_loosely_as_the_recipient_column() -> None:
    bound = Template("Hi {First Name}, {code}").bind(["to", "first_name", "CODE"])
    assert bound.indexes == (1, 2)


def test_render_by_field_order_with_indexes() -> None:
    header = ["to", "code", "name", "name"]
    bound = Template("Hi {name}, code {code}; bye {name}").bind(header)
    assert bound.fields == ("name", "code")
    assert bound.indexes == (2, 1)  # first column of that name
    row = ["+14155550100", "X{1}Y", "Zoë {0} }{"]
    values = [row[i] for i in bound.indexes]
    assert bound.render(values) == "Hi Zoë {0} }{, code X{1}Y; bye Zoë {0} }{"
    assert bound.render_many([values, ("a", "b")]) == [bound.render(values), "Hi a, code b; bye a"]


def test_empty_fields() -> None:
    bound = Template("{a} {b} {c}").bind(["a", "b", "c"])
    assert bound.empty_fields(("x", "", "  ")) == ["b", "c"]
    assert bound.empty_fields(("x", "y", "z")) == []


literal = st.text(alphabet=st.sampled_from(list("ab {}ü😀\n")), max_size=12)
names = st.text(alphabet=st.sampled_from(list("abcxyz_ .:!é")), min_size=1, max_size=6).filter(
    lambda s: bool(s.strip()) and s == s.strip())


@given(st.lists(st.tuples(literal, names), max_size=5), literal,
       st.lists(st.text(max_size=8), min_size=6, max_size=6))
def test_render_matches_concatenation(parts: list[tuple[str, str]], tail: str,
                                      values: list[str]) -> None:
    def esc(s: str) -> str:
        return s.replace("{", "{{").replace("}", "}}")

    text = "".join(esc(lit) + "{" + name + "}" for lit, name in parts) + esc(tail)
    t = Template(text)
    fields = list(dict.fromkeys(name for _, name in parts))
    assert list(t.fields) == fields
    bound = t.bind(fields + ["extra"])
    row = values[:len(fields)]
    value_of = dict(zip(fields, row, strict=True))
    want = "".join(lit + value_of[name] for lit, name in parts) + tail
    assert bound.render(row) == want
    assert bound.render_many([row]) == [want]
