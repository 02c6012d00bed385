"""The search engine's candidate list for one task: generated once, ranked, addressed by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent.localize import Suspect
from agent.repair.candidate import Candidate
from agent.repair.mutate import generate_candidates
from agent.repair.operators import prior
from agent.repair.pairs import combine
from agent.repair.region import unit_for

PER_FILE_LIMIT = 4000


class CandidatePool:
    """All candidates for a task, ranked by suspiciousness then simplicity; ids are list indices.

    Generation is deterministic, so a resumed task rebuilds the same ids from its state (pairs of
    edits are re-added from the state's list of pairs, in order).
    """

    def __init__(self, sources: Mapping[str, str], suspects: Sequence[Suspect], terms: Iterable[str],
                 limit: int) -> None:
        by_file: dict[str, list[tuple[int, float]]] = defaultdict(list)
        score_of: dict[tuple[str, int], float] = {}
        for s in suspects:
            if s.path in sources:
                by_file[s.path].append((s.line, s.score))
                score_of[(s.path, s.line)] = s.score
        self.sources = sources
        merged: list[tuple[float, float, int, Candidate]] = []
        term_list = sorted(set(terms))
        for path in sorted(by_file):
            lines = sorted(by_file[path], key=lambda item: (-item[1], item[0]))
            found = generate_candidates(path, sources[path], lines, issue_terms=term_list, limit=PER_FILE_LIMIT)
            for order, cand in enumerate(found):
                score = score_of.get((path, cand.line), _nearest(by_file[path], cand.line))
                merged.append((-score * prior(cand.operator), cand.cost, order, cand))
        merged.sort(key=lambda item: (item[0], item[1], item[3].path, item[2]))
        self.candidates: list[Candidate] = [item[3] for item in merged[:limit]]
        self.singles = len(self.candidates)  # pairs of edits are appended after the single edits
        self.pair_ids: dict[tuple[int, int], int | None] = {}

    def add_pair(self, a: int, b: int) -> int | None:
        """The id of the candidate that makes edits a and b together (appended once), or None when they clash."""
        key = (min(a, b), max(a, b))
        if key not in self.pair_ids:
            combined = combine(self.candidates[key[0]], self.candidates[key[1]], self.sources, key)
            if combined is None:
                self.pair_ids[key] = None
            else:
                self.candidates.append(combined)
                self.pair_ids[key] = len(self.candidates) - 1
        return self.pair_ids[key]

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: int) -> Candidate:
        return self.candidates[index]

    def payload(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """What the in-sandbox validator needs for these ids: each splice, and the unit to compile it in."""
        rows = []
        for i in ids:
            edits = []
            for splice in self.candidates[i].splices:
                unit = unit_for(self.sources[splice.path], splice)
                edits.append({**splice.to_dict(), "unit": unit.to_list() if unit is not None else None})
            rows.append({"id": i, "edits": edits})
        return rows


def _nearest(lines: Sequence[tuple[int, float]], line: int) -> float:
    """Score of an inserted/moved statement: that of the closest suspicious line."""
    return max((score for ln, score in lines if abs(ln - line) <= 1), default=0.0)
