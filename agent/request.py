"""A fix request and its validation, shared by the CLI, the REST API and Slack."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.allowlist import SCP_LIKE, check_allowed
from agent.exceptions import InvalidRequest
from agent.settings import Settings

MAX_ISSUE = 8000
MAX_COMMAND = 500
MAX_URL = 500
DEFAULT_TEST_COMMAND = "python3 -m pytest -q"  # what runs when a request names no test command
MAX_HINTS = 20
LANGUAGES = ("python",)
ENGINES = ("search", "llm", "auto")  # repair engines: offline search, the LLM agent, search then LLM
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # C0 and C1 controls and DEL; tab is allowed
_ALLOWED_SCHEMES = ("https", "http", "ssh", "git")


@dataclass(frozen=True)
class FixRequest:
    """What a user asked for; validated by `validate_request` before any work."""

    repo: str
    issue: str
    test_command: str = DEFAULT_TEST_COMMAND
    branch: str | None = None
    language: str = "python"
    setup_command: str | None = None
    hints: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for task records and job arguments."""
        data = asdict(self)
        data["hints"] = list(self.hints)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixRequest:
        """Inverse of to_dict."""
        return cls(**{**data, "hints": tuple(data.get("hints") or ())})


def clean_text(text: str) -> str:
    """Strip invisible and bidi control characters, replace undecodable bytes (lone surrogates) by U+FFFD;
    normalise to NFC."""
    return unicodedata.normalize("NFC", _SURROGATES.sub("\ufffd", text.translate(_INVISIBLE)))


def validate_request(req: FixRequest, settings: Settings) -> FixRequest:
    """Return a cleaned request, or raise InvalidRequest with a message a user can act on."""
    repo = clean_text(req.repo).strip()
    issue = clean_text(req.issue).strip()
    test_command = clean_text(req.test_command).strip()
    setup = clean_text(req.setup_command).strip() if req.setup_command else None
    if not repo:
        raise InvalidRequest("the repository is empty: give a URL or a path")
    if not issue:
        raise InvalidRequest("the issue description is empty: say what is wrong")
    if len(issue) > MAX_ISSUE:
        raise InvalidRequest(f"the issue description is too long ({len(issue)} chars, max {MAX_ISSUE})")
    check_command("test command", test_command)
    if setup is not None:
        check_command("setup command", setup)
    if req.language not in LANGUAGES:
        raise InvalidRequest(f"language {req.language!r} is not supported (supported: {', '.join(LANGUAGES)})")
    branch = None
    if req.branch is not None and req.branch.strip():
        branch = check_branch(clean_text(req.branch).strip())
    if len(req.hints) > MAX_HINTS:
        raise InvalidRequest(f"too many file hints ({len(req.hints)}, max {MAX_HINTS})")
    hints = tuple(_check_hint(h) for h in req.hints)
    repo = check_repo(repo, settings)
    return FixRequest(repo, issue, test_command, branch, req.language, setup, hints)


def check_command(what: str, command: str) -> None:
    """Raise InvalidRequest unless `command` (cleaned) may run as a test or setup command; `what` names it."""
    if not command:
        raise InvalidRequest(f"the {what} is empty")
    if len(command) > MAX_COMMAND:
        raise InvalidRequest(f"the {what} is too long ({len(command)} chars, max {MAX_COMMAND})")
    if "\x00" in command or "\n" in command or "\r" in command:
        raise InvalidRequest(f"the {what} must be one line")
    control = _CONTROL.search(command)
    if control:  # a terminal escape or a bell in a command bash runs: never what a person meant to type
        raise InvalidRequest(f"the {what} contains a control character (U+{ord(control.group()):04X}): "
                             "type it again without it")


def _check_hint(hint: str) -> str:
    hint = clean_text(hint).strip()
    parts = Path(hint).parts
    if not hint or hint.startswith(("/", "-", "\\")) or ".." in parts or "\x00" in hint or len(hint) > 300:
        raise InvalidRequest(f"file hint {hint!r} must be a relative path inside the repository")
    return hint


def check_branch(branch: str) -> str:
    """A branch name git accepts, never an option."""
    if branch.startswith("-") or len(branch) > 200 or "\x00" in branch:
        raise InvalidRequest(f"branch {branch!r} is not a valid branch name")
    # `--branch` form checks a branch name; the value goes after `--`-free positional use only.
    from agent.clone import git_env  # here, not at the top: agent.clone imports this module

    proc = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True, text=True,
                          timeout=10, env=git_env(), cwd="/", stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or "@{" in branch:
        raise InvalidRequest(f"branch {branch!r} is not a valid branch name")
    return branch


def check_repo(repo: str, settings: Settings) -> str:
    """A repository URL on the allowlist, or a local path when configuration allows it."""
    if len(repo) > MAX_URL:
        raise InvalidRequest(f"the repository address is too long (max {MAX_URL} chars)")
    local = repo.startswith(("/", "./", "../", "~")) or ":" not in repo  # a path: spaces are fine there
    if repo.startswith("-") or "\x00" in repo or any(ch.isspace() and not (local and ch == " ") for ch in repo):
        raise InvalidRequest(f"repository {repo!r} is not a valid address")
    if "::" in repo.split("/", 1)[0] or repo.lower().startswith("ext:"):
        raise InvalidRequest("repository transports like ext:: are never allowed")
    if SCP_LIKE.match(repo):
        return check_allowed(repo, settings.allowed_repos)
    try:
        parts = urlsplit(repo)
    except ValueError as exc:  # an unpaired bracket
        raise InvalidRequest(f"repository {repo!r} is not a valid address ({exc})") from None
    if parts.scheme == "file" or not parts.scheme:
        if not settings.allow_local_repos:
            raise InvalidRequest(
                "local repositories are disabled; set ALLOW_LOCAL_REPOS=true to fix a path on this machine"
            )
        path = Path(parts.path if parts.scheme == "file" else repo).expanduser()
        if not path.is_dir():
            raise InvalidRequest(f"no directory at {str(path)!r}")
        return str(path.resolve())
    if parts.scheme not in _ALLOWED_SCHEMES:
        raise InvalidRequest(f"scheme {parts.scheme!r} is not allowed (use https)")
    if not parts.hostname:
        raise InvalidRequest(f"repository {repo!r} has no host")
    if parts.password:
        raise InvalidRequest("put credentials in configuration, never in the repository URL")
    return check_allowed(repo, settings.allowed_repos)
