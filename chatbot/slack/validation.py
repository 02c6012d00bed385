"""Checking what a Slack user asked for before anything is posted, queued or saved.

A chat face takes repositories by URL only, whatever ALLOW_LOCAL_REPOS says: a path on the bot's
machine is a convenience of the command line, where the person typing owns the machine. From a
channel, anyone allowed to use fixbot would otherwise have the host's directories copied into the
sandbox (and their files shown in the thread by the test command), and "no directory at ..."
would tell them which paths exist. The refusal is the same for every path, existing or not, and
nothing on the host is looked at. Everything else is agent.request.validate_request's call.

Channel defaults (`/fix config`) are checked with the same rules when they are saved, so a default
that could not start a task (a repository off the allowlist, a multi-line command) is never stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from agent.exceptions import InvalidRequest
from agent.request import ENGINES, FixRequest, check_branch, check_command, check_repo, clean_text, validate_request
from agent.settings import Settings
from chatbot.exceptions import InvalidField

_SCP_LIKE = re.compile(r"^[^\s/@:]+@[^\s/@:]+:")  # user@host:path, as git reads it (validate_request checks it)
LOCAL_REFUSED = ("Slack takes a repository by its URL (`https://github.com/acme/shop` or "
                 "`git@github.com:acme/shop.git`); paths on fixbot's machine can only be given on the command line")


def face_settings(settings: Settings) -> Settings:
    """The settings a chat face validates with: ALLOW_LOCAL_REPOS off, whatever the environment says."""
    if not settings.allow_local_repos:
        return settings
    return settings.model_copy(update={"allow_local_repos": False})


def is_remote_address(repo: str) -> bool:
    """Whether `repo` names a repository by URL (scheme://..., not file://) or as user@host:path."""
    value = clean_text(repo).strip()
    if _SCP_LIKE.match(value):
        return True
    scheme = urlsplit(value).scheme if "://" in value else ""
    return bool(scheme) and scheme.lower() != "file"


def check_repo_address(repo: str) -> str:
    """`repo` cleaned, or InvalidRequest (LOCAL_REFUSED) unless it is a URL; never touches the file system."""
    if not is_remote_address(repo):
        raise InvalidRequest(LOCAL_REFUSED)
    return clean_text(repo).strip()


def validate_chat_request(request: FixRequest, settings: Settings) -> FixRequest:
    """The cleaned request, or InvalidField naming the field to change and saying how; local paths are always
    refused. Each field is checked on its own first (the /fix form shows the message under that field), then
    the whole request by agent.request.validate_request (what is left to it concerns the issue)."""
    fs = face_settings(settings)
    checks: list[tuple[str, Callable[[], object]]] = [
        ("repo", lambda: check_repo(check_repo_address(request.repo), fs)),
        ("test", lambda: check_command("test command", clean_text(request.test_command).strip()))]
    setup, branch = clean_text(request.setup_command or "").strip(), clean_text(request.branch or "").strip()
    if setup:
        checks.append(("setup", lambda: check_command("setup command", setup)))
    if branch:
        checks.append(("branch", lambda: check_branch(branch)))
    for field, check in checks:
        try:
            check()
        except InvalidRequest as exc:
            raise InvalidField(field, str(exc)) from None
    try:
        return validate_request(request, fs)
    except InvalidRequest as exc:
        raise InvalidField("issue", str(exc)) from None


def validate_defaults(values: dict[str, str], settings: Settings) -> dict[str, str]:
    """Channel defaults as they will be stored (cleaned); InvalidRequest says which one to change.

    `values` maps repo, test, branch, setup and engine to a value ("" removes that default).
    """
    cleaned: dict[str, str] = {}
    for key, raw in values.items():
        value = clean_text(raw).strip()
        if value:
            if key == "repo":
                value = check_repo(check_repo_address(value), face_settings(settings))
            elif key in ("test", "setup"):
                check_command(f"{key} command", value)
            elif key == "branch":
                value = check_branch(value)
            elif key == "engine":
                value = value.lower()
                if value not in ENGINES:
                    raise InvalidRequest(f"unknown engine {value!r}: use {', '.join(ENGINES)}")
            else:
                raise InvalidRequest(f"{key!r} is not a /fix default (use repo, test, branch, setup, engine)")
        cleaned[key] = value
    return cleaned
