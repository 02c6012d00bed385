"""Repository allowlist: which remote addresses fixbot may fetch (ALLOWED_REPOS).

An address and every allowlist entry are reduced to one canonical form before they are compared:
scheme and host in lower case, user names dropped (`ssh://git@host/x` is `ssh://host/x`), the scp-like
form `user@host:org/repo` read as `ssh://host/org/repo`, a trailing `.git` and empty segments ignored.
An entry matches when scheme, host and port are equal and its path segments are a prefix of the
address's, segment by segment: `https://github.com/acme` allows `https://github.com/acme/shop` but not
`https://github.com/acme-evil/x`. Paths with `.` or `..` segments, percent-encoded separators or dots,
or backslashes are refused outright, since a server (or git's URL normalisation) may resolve them to
another repository than the one the allowlist saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from agent.exceptions import InvalidRequest

SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+$")
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}


@dataclass(frozen=True)
class Place:
    """A repository address in canonical form: `scheme`, `host` (lower case), `port` and path `segments`."""

    scheme: str
    host: str
    port: int | None
    segments: tuple[str, ...]

    def within(self, entry: Place) -> bool:
        """True when this address lies under `entry` (same scheme, host and port; a segment-wise path prefix)."""
        return (self.scheme, self.host, self.port) == (entry.scheme, entry.host, entry.port) and \
            self.segments[:len(entry.segments)] == entry.segments


def place(address: str) -> Place:
    """The canonical form of a URL or scp-like address.

    Raises:
        InvalidRequest: the address has dot segments, encoded separators or dots, backslashes, or no host.
    """
    if SCP_LIKE.match(address):
        user_host, path = address.split(":", 1)
        address = f"ssh://{user_host.split('@', 1)[1]}/{path.lstrip('/')}"
    parts = urlsplit(address)
    raw_path = parts.path
    if "\\" in raw_path or re.search(r"%(2[eEfF]|5[cC])", raw_path):
        raise InvalidRequest(f"repository {address!r}: encoded dots, slashes or backslashes are not allowed "
                             "in the path")
    segments = [unquote(s) for s in raw_path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise InvalidRequest(f"repository {address!r}: '.' and '..' are not allowed in the path; write the address "
                             "of the repository itself")
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][:-4]
    if not parts.hostname:
        raise InvalidRequest(f"repository {address!r} has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"repository {address!r} has a bad port") from exc
    scheme = parts.scheme.lower()
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return Place(scheme, parts.hostname.lower(), port, tuple(segments))


def check_allowed(address: str, allowed: list[str]) -> str:
    """`address` unchanged when an ALLOWED_REPOS entry covers it ('*' covers any address).

    Raises:
        InvalidRequest: the address is malformed (see `place`) or on no entry; the message names ALLOWED_REPOS.
    """
    here = place(address)
    for entry in allowed:
        if entry == "*":
            return address
        try:
            if here.within(place(entry)):
                return address
        except InvalidRequest:
            continue  # a malformed entry allows nothing
    shown = ", ".join(allowed) or "(none)"
    raise InvalidRequest(f"repository {address!r} is not on the allowlist ({shown}); the operator adds prefixes "
                         "to ALLOWED_REPOS")
