"""Parsing Python source from a repository on the host, where any text may arrive.

`ast.parse` fails in more ways than SyntaxError on hostile input: a 400 KB chain of `1+1+…` raises
RecursionError, a long run of unary minus signs MemoryError, a NUL byte ValueError; and on Python
3.12+ it prints SyntaxWarnings (with the source's own escape characters) to stderr. `parse_python`
turns every failure into SyntaxError, so one `except SyntaxError` covers them, and keeps warnings quiet.
"""

from __future__ import annotations

import ast
import warnings


def parse_python(source: str, filename: str = "<unknown>") -> ast.Module:
    """The module's AST; SyntaxError (with a message) for anything that cannot be parsed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=filename)
    except SyntaxError:
        raise
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SyntaxError(f"cannot be parsed ({type(exc).__name__})", (filename, 1, 0, "")) from None
