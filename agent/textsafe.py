"""Making untrusted text safe to show: on a terminal, in Slack, in a pull request body.

Test ids, file names, test output, source lines and the model's words all come from the
repository or the model. Shown as they are, a terminal obeys the control sequences in them
(ESC ] 0 ; title BEL renames the window, ESC [ 2 K erases a line, a bare CR overwrites one),
and bidirectional overrides reorder what a reader sees ("Trojan Source", Boucher & Anderson,
CVE-2021-42574). `clean_display` removes both kinds and keeps everything else.
"""

from __future__ import annotations

import re

# C0 controls but tab (0x09) and newline (0x0a), DEL, the C1 block, and the bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A whole escape sequence (CSI ... final byte, OSC ... BEL/ST) goes at once, so no "[2K" residue is left.
_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]")


def clean_display(text: object) -> str:
    """The text with terminal control sequences and unsafe control characters removed.

    Keeps newline and tab; a CR LF pair becomes LF and any other CR is dropped. Accepts any
    object (str() of it), so callers can pass values straight from untrusted JSON. Lone
    surrogates (from undecodable file names) are shown as U+FFFD.
    """
    value = text if isinstance(text, str) else str(text)
    if not value:
        return value
    value = _SEQUENCE.sub("", value.replace("\r\n", "\n"))
    return _SURROGATE.sub("\ufffd", _UNSAFE.sub("", value))


def clean_line(text: object, limit: int = 300) -> str:
    """One line for a status or a list: cleaned, newlines and tabs folded to spaces, cut to `limit` chars."""
    value = " ".join(clean_display(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
