"""The agent's hand-written JSON (it avoids importing ``json``) is read back exactly by moss."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from initrd.pivot_record import cmdline_words, json_object, requested_value

values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)


@given(st.dictionaries(st.text(), values, max_size=8))
def test_record_round_trips_through_json(record: dict[str, object]) -> None:
    assert json.loads(json_object(record).encode("utf-8")) == record


def test_undecodable_file_names_survive_as_escapes() -> None:
    reason = b"/sysroot/.moss/root/\xff/usr".decode("utf-8", "surrogateescape")
    text = json_object({"reason": reason})
    assert json.loads(text)["reason"] == reason


@given(st.lists(st.text(alphabet="abc =\"'\t", max_size=6), max_size=6))
def test_unquoted_words_split_like_str_split(words: list[str]) -> None:
    plain = [w for w in words if '"' not in w]
    line = " ".join(plain)
    assert cmdline_words(line) == line.split()


def test_quotes_group_words_and_are_dropped() -> None:
    assert cmdline_words('a "b c" d="e f" "moss.fstx=4"') == ["a", "b c", "d=e f", "moss.fstx=4"]
    assert requested_value('x "moss.fstx=4" y') == "4"
    assert requested_value("moss.fstx=1 moss.fstx") == ""
    assert requested_value("moss.fstx.x=1") is None
