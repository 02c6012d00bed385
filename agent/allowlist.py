"""Repository allowlist: which remote addresses fixbot may fetch (ALLOWED_REPOS).

An address and every allowlist entry are reduced to one canonical form before they are compared:
scheme and host in lower case, user names dropped (`ssh://git@host/x` is `ssh://host/x`), the scp-like
form `user@host:org/repo` read as `ssh://host/org/repo`, a trailing `.git` and empty segments ignored.
An entry matches when scheme, host and port are equal and its path segments are a prefix of the
address's, segment by segment: `https://github.com/acme` allows `https://github.com/acme/shop` but not
`https://github.com/acme-evil/x`.

Paths compare case-sensitively, except on the hosted forges in FORGE_HOSTS, whose owner and repository
names are case-insensitive (`github.com/Acme/Shop` is `github.com/acme/shop`). On any other host an
scp-like path without a leading `/` is relative to the ssh user's home, so `git@host:srv/x` and
`ssh://host/srv/x` are different repositories there; on the forges both name the same one.

Paths with `.` or `..` segments, percent-encoding or backslashes, and addresses with `?` or `#`, are
refused outright: git sends everything after the host as the path, and a server (or git's URL
normalisation) may resolve such a path to another repository than the one the allowlist saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from agent.exceptions import InvalidRequest

SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+$")
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
# Hosted forges with one namespace for every transport and case-insensitive owner and repository names.
FORGE_HOSTS = frozenset({"github.com", "gitlab.com"})


@dataclass(frozen=True)
class Place:
    """A repository address in canonical form: `scheme`, `host` (lower case), `port` and path `segments`."""

    scheme: str
    host: str
    port: int | None
    segments: tuple[str, ...]
    repository: bool = False  # written with a trailing `.git`: names one repository, not a folder of them
    home_relative: bool = False  # scp-like `host:path` without a leading `/` (on a forge: always False)

    def within(self, entry: Place) -> bool:
        """True when this address lies under `entry`: same scheme, host and port, and a segment-wise path prefix
        (the whole path when the entry names one repository, `.../acme/shop.git`)."""
        if (self.scheme, self.host, self.port) != (entry.scheme, entry.host, entry.port):
            return False
        if entry.segments and self.home_relative != entry.home_relative:  # a whole host allows both kinds
            return False
        if entry.repository:
            return self.segments == entry.segments
        return self.segments[:len(entry.segments)] == entry.segments


def place(address: str) -> Place:
    """The canonical form of a URL or scp-like address.

    Raises:
        InvalidRequest: the address has dot segments, encoded separators or dots, backslashes, or no host.
    """
    home_relative = False
    if SCP_LIKE.match(address):
        user_host, path = address.split(":", 1)
        home_relative = not path.startswith("/")
        address = f"ssh://{user_host.split('@', 1)[1]}/{path.lstrip('/')}"
    try:
        parts = urlsplit(address)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:  # a bracket without its pair, a port that is not a number
        raise InvalidRequest(f"repository {address!r} is not a valid address ({exc})") from None
    if parts.query or parts.fragment or "?" in address or "#" in address:
        # git sends everything after the host as the path (`/acme/x#/../../evil/y`): nothing may hide there
        raise InvalidRequest(f"repository {address!r}: '?' and '#' are not allowed in a repository address")
    raw_path = parts.path
    if "\\" in raw_path or "%" in raw_path:
        # git sends the path as written over ssh and git://, a web server decodes it: one reading for both
        raise InvalidRequest(f"repository {address!r}: percent-encoding and backslashes are not allowed in the "
                             "path; write the repository's path as it is")
    segments = [s for s in raw_path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise InvalidRequest(f"repository {address!r}: '.' and '..' are not allowed in the path; write the address "
                             "of the repository itself")
    repository = bool(segments) and segments[-1].endswith(".git") and not raw_path.endswith("/")
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][:-4]
    if not hostname:
        raise InvalidRequest(f"repository {address!r} has no host")
    scheme = parts.scheme.lower()
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    host = hostname.lower()
    if host in FORGE_HOSTS:
        segments, home_relative = [s.lower() for s in segments], False
    return Place(scheme, host, port, tuple(segments), repository, home_relative)


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
            continue  # a malformed entry allows nothing (settings refuse one at start: check_entries)
    shown = ", ".join(allowed) or "(none)"
    raise InvalidRequest(f"repository {address!r} is not on the allowlist ({shown}); the operator adds prefixes "
                         "to ALLOWED_REPOS")


def check_entries(allowed: list[str]) -> list[str]:
    """ALLOWED_REPOS as given, when every entry is '*' or an address `place` reads.

    Raises:
        ValueError: the first entry that is not (settings turn it into a ConfigError naming ALLOWED_REPOS).
    """
    for entry in allowed:
        if entry != "*":
            try:
                place(entry)
            except InvalidRequest as exc:
                raise ValueError(f"entry {entry!r} is not a repository address prefix: {exc}") from None
    return allowed
