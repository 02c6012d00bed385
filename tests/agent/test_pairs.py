"""Pairs of edits for bugs that need two (pure): complementary partial fixes, top places, the message."""

from __future__ import annotations

from agent.localize import Suspect
from agent.repair.pairs import at_top_places, best_single_edits, complementary, no_single_edit_message
from agent.repair.search import CandidatePool

SPAN = "def span(xs):\n    lo = min(xs)\n    hi = min(xs)  # bug 1\n    return hi - lo + 1  # bug 2\n"
FAILING = ["t::test_span", "t::test_flat"]


def pool() -> CandidatePool:
    suspects = [Suspect("stats.py", line, 1.0) for line in (2, 3, 4)]
    return CandidatePool({"stats.py": SPAN}, suspects, [], 3000)


def find(p: CandidatePool, description: str) -> int:
    return next(i for i, c in enumerate(p.candidates) if c.description.startswith(description))


def test_complementary_partial_fixes_make_a_pair_that_applies_both_edits():
    p = pool()
    to_max = find(p, "`min()` replaced by `max()` in `span`, line 3")
    drop_one = find(p, "`hi - lo + 1` changed to `hi - lo`")
    other = find(p, "`min()` replaced by `max()` in `span`, line 2")
    partial = {drop_one: ["t::test_flat"], to_max: ["t::test_span"], other: ["t::test_span"]}
    pairs = complementary(partial, FAILING, p.candidates)
    assert (min(to_max, drop_one), max(to_max, drop_one)) in pairs
    assert all(drop_one in pair for pair in pairs)  # only pairs that cover both failing tests
    cid = p.add_pair(to_max, drop_one)
    assert cid == p.singles and p.add_pair(drop_one, to_max) == cid  # appended once, either order
    pair = p[cid]
    assert pair.operator == "pair" and pair.parts == (min(to_max, drop_one), max(to_max, drop_one))
    assert pair.new_text(SPAN) == SPAN.replace("hi = min(xs)", "hi = max(xs)").replace("hi - lo + 1", "hi - lo")
    assert pair.description.startswith("two edits: `min()` replaced by `max()`")
    assert p.payload([cid])[0]["edits"][0]["unit"] == [1, 4, []]


def test_edits_of_the_same_text_are_never_paired():
    p = pool()
    a = find(p, "`min()` replaced by `max()` in `span`, line 3")
    start = p.candidates[a].splices[0].start
    clash = next(i for i, c in enumerate(p.candidates) if i != a and c.splices[0].start == start)
    assert p.add_pair(a, clash) is None


def test_top_places_pair_the_simplest_edits_of_different_lines():
    p = pool()
    pairs = at_top_places(p.candidates, len(p.candidates), per_place=3)
    assert len(pairs) == 3 * 3 * 3  # three places, pairwise, three edits each
    for a, b in pairs:
        assert p.candidates[a].line != p.candidates[b].line


def test_message_names_the_tests_each_best_single_edit_fixes():
    p = pool()
    drop_one = find(p, "`hi - lo + 1` changed to `hi - lo`")
    to_max = find(p, "`min()` replaced by `max()` in `span`, line 3")
    partial = {drop_one: ["t::test_flat"], to_max: ["t::test_span"]}
    assert [cid for cid, _t in best_single_edits(partial, p.candidates, FAILING)] == sorted(
        [drop_one, to_max], key=lambda c: p.candidates[c].cost)
    message = no_single_edit_message(partial, p.candidates, FAILING)
    assert message.startswith("no single edit makes all failing tests pass; the best single edits: ")
    assert "`hi - lo + 1` changed to `hi - lo` in `span`, line 4 fixes `test_flat`" in message
