"""The Slack settings: comma lists, one clear line for a bad value, secrets never echoed."""

from __future__ import annotations

import pytest

from agent.exceptions import ConfigError
from agent.settings import load_settings


def test_slack_lists_and_defaults(monkeypatch):
    monkeypatch.setenv("SLACK_ALLOWED_CHANNELS", "C1, C2")
    monkeypatch.setenv("SLACK_ALLOWED_USERS", "U1")
    s = load_settings(_env_file=None)
    assert s.slack_allowed_channels == ["C1", "C2"] and s.slack_allowed_users == ["U1"] and s.slack_allowed_teams == []
    assert (s.self_approval, s.slack_diff_inline_lines, s.slack_update_interval) == (False, 40, 1.0)
    assert (s.slack_progress_blocks, s.slack_rate_limit_retries, s.api_host) == ("plan", 3, "127.0.0.1")


@pytest.mark.parametrize(("name", "value"), [("SLACK_PROGRESS_BLOCKS", "fancy"), ("SLACK_UPDATE_INTERVAL", "0"),
                                             ("SELF_APPROVAL", "maybe")])
def test_bad_slack_value_is_one_line(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_slack_secrets_are_not_echoed(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sign-very-secret")
    s = load_settings(_env_file=None)
    assert "very-secret" not in repr(s)
