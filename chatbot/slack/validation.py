"""Checking what a Slack user asked for before anything is posted, queued or saved.

A chat face takes repositories by URL only, whatever ALLOW_LOCAL_REPOS says: a path on the bot's
machine is a convenience of the command line, where the person typing owns the machine. From a
channel, anyone allowed to use fixbot would otherwise have the host's directories copied into the
sandbox (and their files shown in the thread by the test command), and "no directory at ..."
would tell them which paths exist. The refusal is the same for every path, existing or not, and
nothing on the host is looked at. Everything else is agent.request.validate_request's call.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from agent.exceptions import InvalidRequest
from agent.request import FixRequest, clean_text, validate_request
from agent.settings import Settings

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


def check_repo_address(repo: str) -> None:
    """Raise InvalidRequest (LOCAL_REFUSED) unless `repo` is a URL; never touches the file system."""
    if not is_remote_address(repo):
        raise InvalidRequest(LOCAL_REFUSED)


def validate_chat_request(request: FixRequest, settings: Settings) -> FixRequest:
    """The cleaned request, or InvalidRequest saying what to change; local paths are always refused."""
    check_repo_address(request.repo)
    return validate_request(request, face_settings(settings))
