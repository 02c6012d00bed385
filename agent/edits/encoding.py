"""Source files as they are on disk: their declared encoding, byte-order mark and line endings survive a round trip.

Python decides a source file's encoding from a UTF-8 byte-order mark or a PEP 263 declaration
(`# -*- coding: latin-1 -*-`) in its first two lines, else UTF-8; `tokenize.detect_encoding` is
that rule, so fixbot reads and writes files the way the interpreter does. Decoding never
translates line endings (CRLF stays CRLF), and the BOM is not part of the text (the parser
refuses U+FEFF) but is written back.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from dataclasses import dataclass

from agent.edits.errors import EncodingProblem

UTF8 = "utf-8"
_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)


@dataclass(frozen=True)
class Decoded:
    """A file's text and how to write it back: `encoding` is a Python codec name ("utf-8-sig" keeps a BOM)."""

    text: str
    encoding: str


def source_encoding(data: bytes) -> str:
    """The codec Python would use for these bytes as a source file; EncodingProblem for a bad declaration."""
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown codec in the cookie, a BOM that contradicts it, or undecodable lines
        if "invalid or missing encoding declaration" in exc.msg:
            return UTF8  # the first lines are not UTF-8 and nothing says otherwise: decoding will say where
        raise EncodingProblem(f"bad encoding declaration: {exc.msg}") from None
    return encoding


def decode_source(data: bytes) -> Decoded:
    """Decode a source file by its BOM or PEP 263 declaration; line endings untouched.

    Raises EncodingProblem when the bytes do not decode in that encoding (a binary or mislabelled file).
    """
    encoding = source_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        declared = "" if encoding == UTF8 else f" (declared {encoding})"
        raise EncodingProblem(f"not valid {_label(encoding)} text{declared} at byte {exc.start}; "
                              "without a coding declaration Python reads sources as UTF-8") from None
    return Decoded(text, encoding)


def declared_encoding(text: str) -> str | None:
    """The PEP 263 declaration in the first two lines of a text, normalised to a codec name (None without one)."""
    for line in text.splitlines()[:2]:
        match = _COOKIE.match(line)
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                raise EncodingProblem(f"unknown encoding {match.group(1)!r} declared") from None
        if line.strip() and not line.lstrip().startswith("#"):
            break  # the declaration only counts before the first line of code
    return None


def encode_source(text: str, original: bytes | None) -> bytes:
    """Bytes for a new version of a file, in the original's encoding (BOM kept); UTF-8 for a new file.

    A changed declaration in the text wins. Raises EncodingProblem when the text holds characters the
    encoding cannot represent (say, an emoji added to a latin-1 file).
    """
    encoding = source_encoding(original) if original is not None else UTF8
    declared = declared_encoding(text)
    if declared is not None and declared != _plain(encoding):
        encoding = declared
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise EncodingProblem(f"the new text has {text[exc.start:exc.end]!r}, which {_label(encoding)} "
                              "cannot represent") from None


def _plain(encoding: str) -> str:
    """The codec name without the BOM variant: a BOM file declaring utf-8 stays as it is."""
    name = codecs.lookup(encoding).name
    return UTF8 if name == "utf-8-sig" else name


def _label(encoding: str) -> str:
    return "UTF-8" if encoding in (UTF8, "utf-8-sig") else encoding
