"""Static review of a candidate patch before anything runs: applies, parses, touches only source, smuggles nothing.

A bug fix changes the code that is wrong. Some files run code merely by existing — Python's
`sitecustomize.py` / `usercustomize.py` and `.pth` files at interpreter start (see the `site`
module's documentation), `conftest.py` when pytest starts, build and packaging files when the
project is installed — so a patch that adds or edits one is refused unless the issue asks for
that file by name. A patch that brings in a process, network, shell or dynamic-code call it did
not have before, or a new file, is high risk with the reason named, whatever else it does.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agent.edits.splice import Splice, lines_of
from agent.localize import is_test_path
from agent.pyparse import parse_python
from agent.repair.region import changed_unit_text, pristine_unit_text


@dataclass(frozen=True)
class Review:
    """Verdict of the static checks; `risk` is low, medium or high with reasons."""

    ok: bool
    reason: str
    risk: str
    risk_reasons: tuple[str, ...]


_MEDIUM_OPERATORS = ("stmt_", "guard", "return", "insert", "delete", "wrap", "unwrap", "move")

# Files that run code at interpreter start, test start or install time.
STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py", "conftest.py", "__main__.py"})
BUILD_FILES = frozenset({
    "setup.py", "setup.cfg", "pyproject.toml", "tox.ini", "noxfile.py", "pytest.ini", "MANIFEST.in", "Makefile",
    "makefile", "GNUmakefile", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "requirements.txt",
    "environment.yml", "hatch.toml", "setup.py.in", "build.py", ".pre-commit-config.yaml",
})

# What a fix rarely needs and a smuggled payload always does: (what it does, dotted call or module names).
_CAPABILITIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("starts a process", frozenset({
        "subprocess", "os.system", "os.popen", "os.fork", "os.forkpty", "os.execv", "os.execve", "os.execvp",
        "os.execvpe", "os.execl", "os.execle", "os.execlp", "os.execlpe", "os.spawnv", "os.spawnve", "os.spawnl",
        "os.spawnle", "os.spawnlp", "os.spawnvp", "os.posix_spawn", "os.posix_spawnp", "pty", "pty.spawn",
        "multiprocessing", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "commands"})),
    ("reaches the network", frozenset({
        "socket", "ssl", "urllib.request", "urllib.request.urlopen", "http.client", "http.server", "requests",
        "httpx", "aiohttp", "urllib3", "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc.client",
        "socketserver", "websocket", "websockets", "paramiko"})),
    ("runs a shell", frozenset({"os.system", "os.popen", "shell=True", "asyncio.create_subprocess_shell"})),
    ("runs dynamic code", frozenset({
        "eval", "exec", "compile", "__import__", "importlib.import_module", "importlib", "marshal.loads",
        "pickle.loads", "pickle.load", "ctypes", "runpy", "code.interact", "__dict__", "__builtins__",
        "globals", "vars"})),
)
_REFLECTIVE = frozenset({"__dict__", "__builtins__", "globals", "vars"})


def forbidden_file(path: str, issue: str = "") -> str | None:
    """Why a bug fix may not add or change this file, or None when it may.

    Startup, build and packaging files (and any `.pth`, and anything inside a `sitecustomize` or
    `usercustomize` package) are refused unless the issue text names the file: its path or its
    name as a whole word (`my_setup.py` does not name `setup.py`).
    """
    norm = path.replace("\\", "/")
    parts = norm.split("/")
    name = parts[-1]
    if name.endswith(".pth"):
        kind = "a .pth file runs code whenever Python starts"
    elif name in STARTUP_FILES:
        kind = f"{name} runs code when Python or pytest starts"
    elif any(p in ("sitecustomize", "usercustomize") for p in parts[:-1]):
        kind = "a sitecustomize or usercustomize package runs code whenever Python starts"
    elif name in BUILD_FILES or (name.startswith("requirements") and name.endswith((".txt", ".in"))):
        kind = f"{name} is a build or packaging file and runs or installs code at install time"
    else:
        return None
    if _named(issue, norm) or _named(issue, name):
        return None
    return f"the patch changes {path}: {kind}; a bug fix may change it only when the issue asks for it by name"


def _named(issue: str, word: str) -> bool:
    """Whether `word` (a path or file name) stands in the issue as a whole token, not inside a longer name."""
    pattern = rf"(?<![\w./-]){re.escape(word)}(?![\w/-]|\.\w)"
    return re.search(pattern, issue, re.IGNORECASE) is not None


def capabilities(source: str) -> Counter[str]:
    """How often the module uses each risky name: imports (`socket`), calls (`subprocess.run`, counted also
    under `subprocess`), names bound by `from x import y [as z]` resolved, `getattr(x, "name")` read as
    `x.name`, `builtins.x` as `x`, reflective lookups (`__dict__`, `__builtins__`, `globals()`, `vars()`)
    and `shell=True`.

    Returns an empty Counter for code that does not parse.
    """
    try:
        tree = parse_python(source)
    except SyntaxError:
        return Counter()
    aliases: dict[str, str] = {}
    used: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                used[alias.name] += 1
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            used[node.module] += 1
            for alias in node.names:
                used[f"{node.module}.{alias.name}"] += 1
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _REFLECTIVE:
            used[node.attr] += 1
        elif isinstance(node, ast.Name) and node.id in _REFLECTIVE:
            used[node.id] += 1
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            name = f"{_dotted(node.args[0])}.{node.args[1].value}" if _dotted(node.args[0]) else ""
        if name:
            head, _, rest = name.partition(".")
            resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
            if resolved.startswith("builtins."):
                resolved = resolved[len("builtins."):]
            parts = resolved.split(".")
            used.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        if any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in node.keywords):
            used["shell=True"] += 1
    return used


def new_capabilities(old: str | None, new: str) -> list[str]:
    """Reasons for each risky kind of call the new text uses more often than the old one."""
    before, after = capabilities(old or ""), capabilities(new)
    reasons: list[str] = []
    for category, names in _CAPABILITIES:
        added = sorted(n for n in names if after[n] > before[n])
        if added:
            reasons.append(f"{category}: new {', '.join(added[:3])}")
    return reasons


def _dotted(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def review_change(path: str, old: str | None, new: str, *, operator: str = "", lines_changed: int = 1,
                  issue: str = "", changed: Sequence[Splice] | None = None) -> Review:
    """Check one file change; `old` is None for a new file; `issue` is the user's words (they may name a file).

    `changed`, when the caller knows them, are the splices that turn `old` into `new`: then only the
    function they change is parsed and scanned (the search engine reviews thousands of candidates per
    module); the module's imports are scanned with it, so an alias still resolves.
    """
    if old is not None and old == new:
        return Review(False, "the patch changes nothing", "low", ())
    if is_test_path(path):
        return Review(False, f"the patch edits a test file ({path}); repairs must not change tests", "high", ())
    smuggled = forbidden_file(path, issue)
    if smuggled:
        return Review(False, smuggled, "high", ())
    if not path.endswith(".py"):
        return Review(False, f"only Python source files may be changed, not {path}", "high", ())
    units = changed_units(old, new, path, changed)
    try:
        parse_python(units[1] if units else new, filename=path)
    except SyntaxError as exc:
        return Review(False, f"{path} no longer parses: {exc.msg} (line {exc.lineno})", "high", ())
    reasons: list[str] = []
    risk = "low"
    if old is None:
        risk, reasons = "high", ["adds a new file"]
    if any(tag in operator for tag in _MEDIUM_OPERATORS):
        risk = "medium" if risk == "low" else risk
        reasons.append(f"changes control flow or statements ({operator})")
    if lines_changed > 10:
        risk = "high"
        reasons.append(f"{lines_changed} lines changed")
    elif lines_changed > 3 and risk == "low":
        risk = "medium"
        reasons.append(f"{lines_changed} lines changed")
    if units and old is not None:
        prefix = module_imports(old)
        dangerous = new_capabilities(prefix + units[0], prefix + units[1])
    else:
        dangerous = new_capabilities(old, new)
    if dangerous:
        risk = "high"
        reasons += dangerous
    if not reasons:
        reasons.append("a single expression changed")
    return Review(True, "", risk, tuple(reasons))


def changed_units(old: str | None, new: str, path: str = "",
                  changed: Sequence[Splice] | None = None) -> tuple[str, str] | None:
    """(old, new) text of the function (or module-level statement) that changed, at its own line numbers.

    One parse of a whole 5,000-line module per candidate costs more than validating it; the unit
    around the change parses in microseconds. None when there is no old version, the change spans
    several units, or the old version does not parse: then the whole file is checked.
    """
    if old is None:
        return None
    if not changed:
        a, b = lines_of(old), lines_of(new)
        same = min(len(a), len(b))
        head = 0
        while head < same and a[head] == b[head]:
            head += 1
        tail = 0
        while tail < same - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
            tail += 1
        start = sum(len(line) for line in a[:head])
        end = start + sum(len(line) for line in a[head:len(a) - tail])
        changed = [Splice(path, start, end, "".join(b[head:len(b) - tail]))]
    try:
        after = changed_unit_text(old, list(changed))
    except SyntaxError:
        return None
    if after is None:
        return None
    text, unit = after
    return pristine_unit_text(old, unit), text


@functools.lru_cache(maxsize=16)
def module_imports(source: str) -> str:
    """Every import statement of a module, one per line (what resolves the aliases of a changed function)."""
    try:
        tree = parse_python(source)
    except SyntaxError:
        return ""
    found = [ast.get_source_segment(source, node) or "" for node in ast.walk(tree)
             if isinstance(node, ast.Import | ast.ImportFrom)]
    return "".join(" ".join(segment.split()) + "\n" for segment in found if segment)


def review_new_test(path: str, content: str) -> Review:
    """The model's reproduction test, shipped in the patch: always high risk (a new file that runs wherever
    the tests run), with any process, network, shell or dynamic-code call it makes named too."""
    reasons = (f"adds the reproduction test {path} (a new file that runs wherever the tests run)",
               *new_capabilities(None, content))
    return Review(True, "", "high", reasons)
