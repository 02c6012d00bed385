"""A candidate patch: the spans of text it replaces (one splice, or two for a pair of edits), and words for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.edits.splice import Splice, apply_to_files, changed_line_count


@dataclass(frozen=True)
class Candidate:
    """One proposed change: untouched code keeps its exact text, because only the splices' spans change."""

    splices: tuple[Splice, ...]
    line: int  # 1-based line changed (of the first splice)
    operator: str  # e.g. "cmp_swap", "off_by_one", "name_replace", "guard_add", "stmt_insert", "pair"
    description: str  # e.g. "`<` changed to `<=` in `calculate_total`, line 12"
    function: str | None
    cost: float  # lower = simpler, tried earlier
    parts: tuple[int, ...] = ()  # a pair: the ids of the single edits it combines

    @property
    def path(self) -> str:
        """The file of the first splice."""
        return self.splices[0].path

    @property
    def paths(self) -> list[str]:
        """Every file the candidate changes, sorted."""
        return sorted({s.path for s in self.splices})

    def apply(self, sources: Mapping[str, str]) -> dict[str, str]:
        """The new text of each file it changes."""
        return apply_to_files(sources, self.splices)

    def new_text(self, source: str) -> str:
        """The new text of its (single) file."""
        return self.apply({self.path: source})[self.path]

    def lines_changed(self, sources: Mapping[str, str]) -> int:
        """Lines removed plus added, as a line diff counts them."""
        return sum(changed_line_count(sources[s.path], s) for s in self.splices)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"splices": [s.to_dict() for s in self.splices], "line": self.line, "operator": self.operator,
                "description": self.description, "function": self.function, "cost": self.cost,
                "parts": list(self.parts)}
