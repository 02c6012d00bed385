"""Parsing and applying code edits written by a model (SEARCH/REPLACE blocks or unified diffs); unified diffs."""

from agent.edits.apply import apply_edits
from agent.edits.model import Applied, Edit
from agent.edits.parse import parse_edits

__all__ = ["Applied", "Edit", "apply_edits", "parse_edits"]
