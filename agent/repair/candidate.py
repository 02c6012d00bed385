"""A candidate patch: the whole new text of one file, and words for what changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """One proposed single-location change to one file."""

    path: str  # repo-relative
    new_source: str  # the whole new file; untouched code keeps its exact text
    line: int  # 1-based line changed
    operator: str  # e.g. "cmp_swap", "off_by_one", "name_replace", "guard_add", "stmt_insert"
    description: str  # e.g. "`<` changed to `<=` in `calculate_total`, line 12"
    function: str | None
    cost: float  # lower = simpler, tried earlier

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)
