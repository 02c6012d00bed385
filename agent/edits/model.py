"""The value types of the edit pipeline: a parsed edit and the record of where it was applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Method = Literal["exact", "whitespace", "fuzzy", "create"]


@dataclass(frozen=True)
class Edit:
    """Replace `search` by `replace` in `path`; an empty `search` creates the file."""

    path: str
    search: str
    replace: str
    kind: Literal["block", "diff"] = "block"


@dataclass(frozen=True)
class Applied:
    """How one edit was applied: the matching level that found it and the first line replaced (1-based)."""

    path: str
    method: Method
    line: int
