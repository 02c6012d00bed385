"""Package rules: chatbot never imports docker or the local workspace (it talks to Slack over HTTP only);
agent never imports slack_bolt; secrets never reach a log line."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

from chatbot.logs import REDACTED, RedactSecrets

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_chatbot_never_imports_docker_or_agent_work():
    forbidden = ("docker", "sandbox", "agent.workflow", "agent.jobs", "agent.graph", "agent.repair", "langgraph")
    for path, names in imported_modules("chatbot").items():
        bad = {n for n in names if n.split(".")[0] in ("docker", "sandbox", "langgraph") or n.startswith(forbidden)}
        assert not bad, f"{path} imports {bad}"


def test_the_bot_process_never_loads_the_docker_sdk():
    """Not even indirectly (agent.settings reads sandbox.config): the bot never talks to Docker."""
    code = ("import sys, chatbot.serve, chatbot.slack.app, chatbot.server, agent.tasks.service, agent.settings; "
            "print(sorted(m for m in sys.modules if m == 'docker' or m.startswith('docker.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_the_app_never_imports_the_workspace_emulator():
    for path, names in imported_modules("chatbot").items():
        if not path.startswith("chatbot/workspace/"):
            assert not {n for n in names if n.startswith("chatbot.workspace")}, path


def test_agent_never_imports_slack_bolt():
    for path, names in imported_modules("agent").items():
        assert not {n for n in names if n.startswith(("slack_bolt", "slack_sdk"))}, path
    code = "import sys, agent.cli; agent.cli.build_parser(); print('slack_bolt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_log_lines_never_carry_a_secret():
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("test.redact")
    handler = Keep()
    handler.addFilter(RedactSecrets(["xoxb-1234-secret-token", "signing-secret-value"]))
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", "xoxb-1234-secret-token")
        try:
            raise ValueError("bad signature for signing-secret-value")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    assert "xoxb-1234-secret-token" not in text and "signing-secret-value" not in text
    assert text.count(REDACTED) >= 2 and "ValueError" in text


def test_manifest_declares_what_the_app_listens_to():
    import yaml

    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "app_home_opened", "message.channels", "reaction_added"} <= events
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/fix"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "files:write", "usergroups:read", "reactions:read",
            "channels:history"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    settings = manifest["settings"]
    urls = {c["url"] for c in manifest["features"]["slash_commands"]} | {
        settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    assert urls == {"https://YOUR-HOST/slack/events"}  # the one route chatbot.server serves


def test_a_refused_signature_is_logged_without_the_request_body():
    # Bolt logs the body of a request whose signature failed; a genuine but stale request carries Slack's
    # verification token and a live response_url there. Bolt's own middleware writes the line here.
    from slack_bolt.middleware.request_verification.async_request_verification import AsyncRequestVerification

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    middleware = AsyncRequestVerification(signing_secret="signing-secret-value")
    handler = Keep()
    handler.addFilter(RedactSecrets(["signing-secret-value"]))
    middleware.logger.addHandler(handler)
    level = middleware.logger.level
    middleware.logger.setLevel(logging.INFO)
    try:
        middleware._debug_log_error("v0=abc", "1700000000",
                                    "token=legacy-verification&response_url=https%3A%2F%2Fhooks.slack.com%2Fx")
    finally:
        middleware.logger.removeHandler(handler)
        middleware.logger.setLevel(level)
    assert len(records) == 1 and "Invalid request signature detected" in records[0]
    assert "legacy-verification" not in records[0] and "hooks.slack.com" not in records[0]
    assert "body: [not logged]" in records[0]
