"""Settings: defaults from the seed, one clear line for a bad value, secrets never echoed."""

from __future__ import annotations

import pytest

from agent.exceptions import ConfigError
from agent.settings import load_settings


def test_seed_defaults(monkeypatch):
    for name in ("DOCKER_TIMEOUT", "DOCKER_MAX_MEMORY", "DOCKER_MAX_CPU", "LLM_MODEL", "LLM_TEMPERATURE", "API_PORT",
                 "WORKERS_PER_HOST", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PREFIX", "QUEUE_NAME",
                 "WORKER_LEASE_TTL"):
        monkeypatch.delenv(name, raising=False)  # (REDIS_URL is set when the tests run on a helper's database)
    s = load_settings(_env_file=None)
    assert (s.docker_timeout, s.docker_max_memory, s.docker_max_cpu) == (300, "512m", None)
    assert (s.llm_model, s.llm_temperature, s.api_port) == ("gpt-4o", 0.1, 8000)
    assert s.redis_connection_url == "redis://127.0.0.1:6379/0"
    assert (s.redis_prefix, s.queue_name, s.task_retention_days, s.task_infra_retries) == ("fixbot", "fixbot", 30, 1)
    assert s.worker_lease_ttl + s.worker_heartbeat * 2 < 60, "a dead worker is noticed within a minute"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DOCKER_MAX_CPU", "lots", "DOCKER_MAX_CPU"),
        ("DOCKER_MAX_MEMORY", "a lot", "DOCKER_MAX_MEMORY: Value error, expected a size"),
        ("REDIS_PORT", "70000", "REDIS_PORT"),
        ("DOCKER_TIMEOUT", "-1", "DOCKER_TIMEOUT"),
    ],
)
def test_bad_value_is_one_clear_line(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("ALLOWED_REPOS", "https://github.com/a/, https://gitlab.com/b/")
    monkeypatch.setenv("APPROVERS", "U1,U2")
    s = load_settings(_env_file=None)
    assert s.allowed_repos == ["https://github.com/a/", "https://gitlab.com/b/"]
    assert s.approvers == ["U1", "U2"]


def test_sandbox_config_carries_limits(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_MAX_MEMORY", "256m")
    monkeypatch.setenv("DOCKER_MAX_CPU", "0.75")
    monkeypatch.setenv("SANDBOX_WHEELHOUSE", str(tmp_path))
    monkeypatch.setenv("SANDBOX_SETUP_NETWORK", "true")
    monkeypatch.setenv("SANDBOX_PIP_INDEX_URL", "http://127.0.0.1:3141/simple")
    cfg = load_settings(_env_file=None).sandbox_config()
    assert (cfg.memory, cfg.cpus) == ("256m", 0.75)
    assert (cfg.wheelhouse, cfg.setup_network, cfg.pip_index_url) == (str(tmp_path), True, "http://127.0.0.1:3141/simple")


def test_cpus_default_to_a_worker_share_of_the_host(monkeypatch):
    """Host cores / WORKERS_PER_HOST (the CLI is one worker); DOCKER_MAX_CPU is only the operator's cap."""
    monkeypatch.delenv("DOCKER_MAX_CPU", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert load_settings(_env_file=None).sandbox_cpus() == 4.0
    assert load_settings(_env_file=None, workers_per_host=8).sandbox_cpus() == 0.5
    assert load_settings(_env_file=None, docker_max_cpu=1.5).sandbox_cpus() == 1.5
    assert load_settings(_env_file=None, docker_max_cpu=16).sandbox_cpus() == 4.0


@pytest.mark.parametrize(("name", "value"), [("SANDBOX_WHEELHOUSE", "/no/such/dir"),
                                             ("SANDBOX_PIP_INDEX_URL", "file:///etc"),
                                             ("SANDBOX_HOME_SIZE", "huge"), ("WORKERS_PER_HOST", "0")])
def test_bad_sandbox_environment_settings(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(_env_file=None)


def test_secret_value_is_not_echoed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-supersecret")
    s = load_settings(_env_file=None)
    assert "sk-supersecret" not in repr(s)
    assert s.llm_configured
