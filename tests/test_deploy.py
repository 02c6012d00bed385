"""docker-compose.yml and .env.example stay true to agent/settings.py: every setting documented and passed on."""

from __future__ import annotations

from pathlib import Path

import yaml

from agent.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXED_BY_COMPOSE = {"REDIS_HOST", "REDIS_PORT", "REDIS_DB",  # REDIS_URL names the compose service
                    "API_PORT"}  # the port is the one the bot's `ports:` publishes
BOT_ONLY = {"SLACK_", "APPROVER", "SELF_APPROVAL", "API_"}


def _environment(service: str) -> dict[str, object]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"][service]["environment"]


def test_every_setting_passes_through_to_the_bot():
    settings = {name.upper() for name in Settings.model_fields}
    missing = settings - FIXED_BY_COMPOSE - set(_environment("bot"))
    assert not missing, f"docker-compose.yml's bot does not pass {sorted(missing)}"


def test_every_worker_setting_passes_through_to_the_worker_and_no_slack_secret_does():
    worker = set(_environment("worker"))
    settings = {name.upper() for name in Settings.model_fields}
    needed = {s for s in settings - FIXED_BY_COMPOSE if not s.startswith(tuple(BOT_ONLY))}
    assert not needed - worker, f"docker-compose.yml's worker does not pass {sorted(needed - worker)}"
    assert not {s for s in worker if s.startswith("SLACK_")}, "Slack's tokens belong to the bot only"


def test_env_example_names_every_setting():
    import re

    text = (ROOT / ".env.example").read_text()
    missing = [n.upper() for n in Settings.model_fields if not re.search(rf"^#?\s*{n.upper()}=", text, re.M)]
    assert not missing, f".env.example does not mention {missing}"


def test_env_example_keeps_no_comment_beside_an_empty_value():
    """docker-compose reads ./.env for the keys it passes through, and reads `KEY=   # words` as the value
    '# words' (SLACK_ALLOWED_USERS='# user ids' would refuse everyone): an empty value stands alone."""
    import re

    text = (ROOT / ".env.example").read_text()
    assert not re.findall(r"^[A-Z_]+=[ \t]+#.*$", text, re.M)
