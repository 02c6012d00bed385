"""Bugs that need two edits: pairs of single edits, chosen from what the single edits already showed.

When no single edit makes every failing test pass, two kinds of pair are worth a test run:

- complementary pairs: single edits that each make some failing test pass that the other does not
  (the partial fixes are evidence for both places; a test that needs both edits passes with neither);
- pairs at the top suspicious places: the simplest edits of the few most suspicious statements,
  combined across two places (a bug with two faulty spots and no partial evidence, e.g. one
  failing test that needs both).

Multi-location repair in the literature grows edits one at a time guided by partial fitness
(GenProg's and ARJA's multi-edit patches, Hercules' sibling edits); the complementary pairs here
are that idea restricted to what validation already measured, so they cost no extra test runs to
find. Pure functions over candidates and validation results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.edits.splice import overlaps
from agent.repair.candidate import Candidate
from agent.repair.region import syntax_error

MAX_PARTIALS = 12  # partial fixes kept per set of tests they fix
PLACES = 3  # top suspicious statements combined
PER_PLACE = 12  # simplest edits taken at each of them


def combine(a: Candidate, b: Candidate, sources: Mapping[str, str], ids: tuple[int, int]) -> Candidate | None:
    """Both edits at once, or None when they touch the same text or do not compile together."""
    if any(overlaps(x, y) for x in a.splices for y in b.splices):
        return None
    splices = tuple(sorted(a.splices + b.splices, key=lambda s: (s.path, s.start)))
    for path in {s.path for s in splices}:
        own = [s for s in splices if s.path == path]
        if len(own) > 1 and syntax_error(path, sources[path], own) is not None:
            return None
    first, second = sorted((a, b), key=lambda c: (c.path, c.line))
    description = f"two edits: {_lower(first.description)}; and {_lower(second.description)}"
    function = first.function if first.function == second.function else None
    return Candidate(splices, first.line, "pair", description, function, round(a.cost + b.cost, 3), ids)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def complementary(partial: Mapping[int, Sequence[str]], failing: Sequence[str], pool: Sequence[Candidate],
                  limit: int = 40) -> list[tuple[int, int]]:
    """Pairs of partial fixes that each fix a failing test the other does not, most failing tests covered first.

    `partial` maps a candidate id to the failing tests it made pass (not all of them). A test that
    needs both edits at once passes with neither alone, so the union need not cover every failing
    test. Pairs at one place (the same statement line) are skipped: two edits of one statement
    rarely add up.
    """
    wanted = set(failing)
    by_fixed: dict[frozenset[str], list[int]] = {}
    for cid in sorted(partial):
        fixed = frozenset(partial[cid]) & wanted
        if fixed and fixed != wanted:
            group = by_fixed.setdefault(fixed, [])
            if len(group) < MAX_PARTIALS:
                group.append(cid)
    pairs: list[tuple[int, float, int, int]] = []
    keys = sorted(by_fixed, key=lambda k: (-len(k), sorted(k)))
    for i, left in enumerate(keys):
        for right in keys[i + 1:]:
            if left <= right or right <= left:
                continue  # one adds nothing to the other
            for a in by_fixed[left]:
                for b in by_fixed[right]:
                    if (pool[a].path, pool[a].line) == (pool[b].path, pool[b].line):
                        continue
                    x, y = min(a, b), max(a, b)
                    pairs.append((-len(left | right), pool[x].cost + pool[y].cost, x, y))
    pairs.sort()
    seen: set[tuple[int, int]] = set()
    result = []
    for _covered, _cost, x, y in pairs:
        if (x, y) not in seen:
            seen.add((x, y))
            result.append((x, y))
    return result[:limit]


def at_top_places(pool: Sequence[Candidate], tried: int, *, places: int = PLACES, per_place: int = PER_PLACE,
                  partial: Mapping[int, Sequence[str]] | None = None, limit: int = 400) -> list[tuple[int, int]]:
    """Pairs of the simplest edits at the most suspicious places (among the first `tried` candidates, in rank
    order), partial fixes first; edits at the same line are not paired."""
    by_place: dict[tuple[str, int], list[int]] = {}
    order: list[tuple[str, int]] = []
    for cid in range(min(tried, len(pool))):
        cand = pool[cid]
        if cand.operator == "pair" or len(cand.splices) != 1:
            continue
        key = (cand.path, cand.line)
        if key not in by_place:
            if len(order) >= places:
                continue
            order.append(key)
            by_place[key] = []
        if len(by_place[key]) < per_place:
            by_place[key].append(cid)
    partial = partial or {}
    pairs: list[tuple[int, int, int, int]] = []
    for i, left in enumerate(order):
        for right in order[i + 1:]:
            for a in by_place[left]:
                for b in by_place[right]:
                    x, y = min(a, b), max(a, b)
                    evidence = -(int(x in partial) + int(y in partial))
                    pairs.append((evidence, x + y, x, y))
    pairs.sort()
    return [(x, y) for _e, _s, x, y in pairs[:limit]]


def best_single_edits(partial: Mapping[int, Sequence[str]], pool: Sequence[Candidate], failing: Sequence[str],
                      limit: int = 3) -> list[tuple[int, list[str]]]:
    """The single edits that fixed the most failing tests (simplest first among equals), with those tests."""
    wanted = set(failing)
    ranked = sorted(partial, key=lambda c: (-len(set(partial[c]) & wanted), pool[c].cost, c))
    chosen: list[tuple[int, list[str]]] = []
    covered: list[frozenset[str]] = []
    for cid in ranked:
        fixed = frozenset(partial[cid]) & wanted
        if fixed and fixed not in covered:  # one edit per distinct set of fixed tests
            covered.append(fixed)
            chosen.append((cid, sorted(fixed)))
        if len(chosen) >= limit:
            break
    return chosen


def no_single_edit_message(partial: Mapping[int, Sequence[str]], pool: Sequence[Candidate],
                           failing: Sequence[str]) -> str:
    """"no single edit makes all failing tests pass" and which tests the best single edits fix."""
    best = best_single_edits(partial, pool, failing)
    if not best:
        return "no single edit makes any failing test pass"
    parts = [f"{pool[cid].description} fixes {', '.join(_short(t) for t in tests)}" for cid, tests in best]
    return "no single edit makes all failing tests pass; the best single edits: " + "; ".join(parts)


def _short(test: str) -> str:
    return f"`{test.split('::')[-1]}`"
