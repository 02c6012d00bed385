"""Parsing the text of `/fix` into what the user asked; pure, no Slack or Redis.

Forms (see `HELP` in chatbot.slack.blocks for the user's version):

    /fix                                    -> open the modal
    /fix help
    /fix config                             -> show this channel's defaults
    /fix config repo=URL test="pytest -q"   -> set defaults (keys: repo test branch setup engine)
    /fix config clear
    /fix <repo> <what is wrong> [test: <command>] [branch: <name>] [setup: <command>] [engine: <name>]
    /fix repo=URL issue="what is wrong" test="..." branch=... setup="..." engine=...

The repository may be left out when the channel has a default; a first word then counts as a
repository only when it cannot be anything else (a URL, user@host:path, or a path starting
with / ./ ../ ~/). Likewise `test:` or `setup:` in the text is an option only when a command
follows (a known program or a path, or anything in quotes or backticks), and `branch:` or
`engine:` when one word follows: "the unit test: x fails" stays the issue. Values are never
given to a shell: they go into a FixRequest, which agent.request.validate_request checks.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Literal

from agent.request import ENGINES
from chatbot.exceptions import CommandSyntaxError

_WORDS = ["help", "config"]  # the words /fix understands alone; a one-word request close to one is a typo
Kind = Literal["fix", "help", "modal", "config_show", "config_set", "config_clear"]
OPTION_KEYS = ("test", "branch", "setup", "engine")
CONFIG_KEYS = ("repo", *OPTION_KEYS)
KV_KEYS = ("repo", "issue", *OPTION_KEYS)

_MENTION_MARKUP = re.compile(r"<([@#!])([A-Za-z0-9^_-]+)(?:\|([^<>]*))?>")
_SLACK_LINK = re.compile(r"<((?:https?|ssh|git|file|mailto):[^<>|\s]+)(?:\|[^<>]*)?>")
_MARKER = re.compile(r"(?:^|(?<=\s))(test|branch|setup|engine)\s*:", re.IGNORECASE)
# Programs a test or setup command usually starts with (see _is_option); anything else can be quoted or backticked.
_COMMAND_WORD = re.compile(r"^(?:python\d*(?:\.\d+)?|pytest|py\.test|tox|nox|make|uv|uvx|poetry|pdm|hatch|pipenv|"
                           r"pip\d*|coverage|bash|sh|env|cd|timeout|npm|npx|yarn|pnpm|conda)$")
# A word and a colon that is no option name, where one may be misspelt: `tset: pytest -q`, `brnach: fix-1`.
_ANY_MARKER = re.compile(r"(?:^|(?<=\s))([A-Za-z]{3,10})\s*:(?!//)")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_KV_START = re.compile(r"^({})=".format("|".join(KV_KEYS)), re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+$")
_OWNER_NAME = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w.-]+)*$")
_QUOTES = ("``", '""', "''", "“”", "‘’")


@dataclass(frozen=True)
class FixCommand:
    """What `/fix` asked for; fields a user did not give are None (channel defaults fill them later)."""

    kind: Kind
    repo: str | None = None
    issue: str | None = None
    test: str | None = None
    branch: str | None = None
    setup: str | None = None
    engine: str | None = None
    config: dict[str, str] = field(default_factory=dict)


def unescape_slack(text: str) -> str:
    """Undo Slack's formatting of command text: <url|label> and <url> become url; &amp; &lt; &gt; decoded."""
    text = _SLACK_LINK.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_text(text: str) -> str:
    """A message as its author read it in Slack, for the model and for people: links and entities as in
    `unescape_slack`; mentions as text (<@U1|ann> → @ann, <@U1> → @U1, <#C1|general> → #general,
    <!here> → @here, <!subteam^S1|@fixers> → @fixers)."""
    text = _MENTION_MARKUP.sub(lambda m: _mention_text(m.group(1), m.group(2), m.group(3)), text or "")
    return unescape_slack(text)


def _mention_text(sigil: str, ident: str, label: str | None) -> str:
    prefix = "#" if sigil == "#" else "@"
    if label:
        return label if label[:1] in "@#" else prefix + label
    return prefix + ident.split("^", 1)[0]


def parse_fix_command(text: str, *, has_default_repo: bool = False) -> FixCommand:
    """Parse `/fix` text; raises CommandSyntaxError with a message saying what to change."""
    text = unescape_slack(text or "").strip()
    if not text:
        return FixCommand("modal")
    first, _, rest = text.partition(" ")
    if is_help(text):
        return FixCommand("help")
    if first.lower() == "config":
        return _parse_config(rest.strip())
    if _KV_START.match(first):
        return _parse_key_values(text)
    if not rest:
        near = difflib.get_close_matches(first.lower(), _WORDS, n=1, cutoff=0.6)
        if near:  # `/fix hlep` with a channel default repository would otherwise start a fix of "hlep"
            raise CommandSyntaxError(f"did you mean `/fix {near[0]}`? To start a fix, say what is wrong in a "
                                     "sentence: `/fix the total is wrong for negative numbers`.")
    return _parse_positional(text, has_default_repo)


def is_help(text: str) -> bool:
    """Whether `/fix` text asks for the help (`help`, `-h`, `--help`, `?` as its first word)."""
    words = unescape_slack(text or "").split()
    return bool(words) and words[0].lower() in ("help", "-h", "--help", "?")


def _parse_config(text: str) -> FixCommand:
    if not text:
        return FixCommand("config_show")
    if text.lower() in ("clear", "reset"):
        return FixCommand("config_clear")
    values: dict[str, str] = {}
    for token in _split(text):
        key, sep, value = token.partition("=")
        key = key.lower()
        if not sep or key not in CONFIG_KEYS:
            raise CommandSyntaxError(
                f"cannot read {token!r}: use key=value with keys {', '.join(CONFIG_KEYS)} "
                '(e.g. /fix config repo=https://github.com/acme/shop test="python -m pytest -q")')
        values[key] = _unquote(value.strip())
    _check_engine(values.get("engine"))
    return FixCommand("config_set", config=values)


def _parse_key_values(text: str) -> FixCommand:
    values: dict[str, str] = {}
    loose: list[str] = []
    for token in _split(text):
        key, sep, value = token.partition("=")
        if sep and key.lower() in KV_KEYS:
            if key.lower() in values:
                raise CommandSyntaxError(f"{key.lower()}= is given twice")
            values[key.lower()] = _unquote(value.strip())
        elif sep and re.fullmatch(r"[A-Za-z_]+", key):
            raise CommandSyntaxError(f"unknown key {key!r}: use {', '.join(k + '=' for k in KV_KEYS)}")
        else:
            loose.append(token)
    if loose and "issue" in values:
        raise CommandSyntaxError(f"cannot read {' '.join(loose)!r}: put it inside issue=\"...\" or leave issue= out")
    issue = values.pop("issue", None) or (" ".join(loose) or None)
    command = FixCommand("fix", repo=values.get("repo"), issue=issue, test=values.get("test"),
                         branch=values.get("branch"), setup=values.get("setup"), engine=values.get("engine"))
    return _finish(command)


def _parse_positional(text: str, has_default_repo: bool) -> FixCommand:
    _check_misspelt_options(text)
    # Right to left: a marker's value runs to the next marker that is an option, and whether a marker is an
    # option depends on its value ("the unit test: x fails" is prose, "test: python -m pytest" an option).
    marks: list[tuple[re.Match[str], str]] = []
    end = len(text)
    for mark in reversed(list(_MARKER.finditer(text))):
        value = text[mark.end():end].strip()
        if _is_option(mark.group(1).lower(), value):
            marks.insert(0, (mark, value))
            end = mark.start()
    head = text[:end]
    options: dict[str, str] = {}
    for mark, raw in marks:
        key = mark.group(1).lower()
        if key in options:
            raise CommandSyntaxError(f"{key}: is given twice")
        value = _unquote(raw)
        if not value:
            raise CommandSyntaxError(f"{key}: needs a value (e.g. test: python -m pytest -q)")
        options[key] = value
    head = head.strip()
    first, _, rest = head.partition(" ")
    repo = None
    if first and _looks_like_repo(first, strict=has_default_repo):
        repo, head = first, rest.strip()
    return _finish(FixCommand("fix", repo=repo, issue=head or None, test=options.get("test"),
                              branch=options.get("branch"), setup=options.get("setup"), engine=options.get("engine")))


def _check_misspelt_options(text: str) -> None:
    """Refuse `word:` close to an option name when what follows reads as that option's value (`tset: pytest -q`):
    taken as words of the issue, the fix would silently run the default test command instead."""
    found = list(_ANY_MARKER.finditer(text))
    for i, mark in enumerate(found):
        word = mark.group(1).lower()
        if word in OPTION_KEYS:
            continue
        near = difflib.get_close_matches(word, OPTION_KEYS, n=1, cutoff=0.75)
        value = text[mark.end():found[i + 1].start() if i + 1 < len(found) else len(text)].strip()
        if near and value and _is_option(near[0], value):
            raise CommandSyntaxError(f"did you mean `{near[0]}:` instead of `{mark.group(1)}:`? "
                                     f"The options are {', '.join(k + ':' for k in OPTION_KEYS)}")


def _is_option(key: str, value: str) -> bool:
    """Whether `key: value` in /fix text is an option rather than words of the issue.

    Nothing after the colon, or a value in quotes or backticks as a whole, is always an option. Otherwise
    test: and setup: need a value that starts like a command (a known program such as python, pytest, tox,
    make, pip, or a path, after any VAR=value); branch: and engine: a single word.
    """
    if not value or _unquote(value) != value:
        return True
    words = value.split()
    if key in ("branch", "engine"):
        return len(words) == 1
    while words and _ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    return bool(words) and (words[0].startswith(("./", "/", "~/")) or bool(_COMMAND_WORD.match(words[0].lower())))


def _finish(command: FixCommand) -> FixCommand:
    if not command.issue:
        raise CommandSyntaxError("say what is wrong, e.g. /fix https://github.com/acme/shop "
                                 "the total is wrong for negative numbers test: python -m pytest -q")
    _check_engine(command.engine)
    return replace(command, engine=command.engine.lower() if command.engine else None)


def _check_engine(engine: str | None) -> None:
    if engine is not None and engine.lower() not in ENGINES:
        raise CommandSyntaxError(f"unknown engine {engine!r}: use {', '.join(ENGINES)}")


def _looks_like_repo(word: str, *, strict: bool) -> bool:
    if "://" in word or _SCP_LIKE.match(word) or word.startswith(("/", "./", "../", "~/")):
        return True
    return not strict and bool(_OWNER_NAME.match(word)) and not word.endswith((".py", ".", ","))


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:  # unbalanced quotes
        raise CommandSyntaxError(f"cannot read the command: {exc} (close every quote)") from None


def _unquote(value: str) -> str:
    """`value` without the quotes or backticks around it (also ```triple``` ones)."""
    changed = True
    while changed:
        changed = False
        for pair in _QUOTES:
            if len(value) >= 2 and value[0] == pair[0] and value[-1] == pair[1]:
                value, changed = value[1:-1].strip(), True
    return value
