"""Why an edit from a model could not be used; each message is written to go back to the model."""

from __future__ import annotations

from agent.exceptions import FixbotError


class EditError(FixbotError):
    """An edit could not be parsed or applied; str(error) tells the model what to do differently."""


class EditParseError(EditError):
    """The answer contains a malformed SEARCH/REPLACE block or diff."""


class NoMatch(EditError):
    """The SEARCH text is not in the file, not even approximately."""


class AmbiguousMatch(EditError):
    """The SEARCH text matches more than one place in the file."""


class UnsafePath(EditError):
    """The edit names a path outside the repository."""


class EncodingProblem(EditError):
    """A file's bytes do not decode in its declared encoding, or new text cannot be encoded in it."""
