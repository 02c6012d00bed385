"""docker-compose.yml agrees with the worker: compose's SIGKILL comes after the worker handed its task back."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from agent.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(text))
    assert parts and "".join(n + u for n, u in parts) == str(text), f"not a compose duration: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def test_the_worker_hands_its_task_back_before_compose_kills_it():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    env = {k.lower(): str(v) for k, v in worker["environment"].items()  # None: passed through, else the default
           if k in ("WORKER_SHUTDOWN_GRACE", "WORKER_HEARTBEAT") and v is not None}
    settings = load_settings(_env_file=None, **env)
    assert worker["environment"].get("WORKER_SHUTDOWN_GRACE") is not None, "compose fixes the worker's grace"
    kill_after = _seconds(worker["stop_grace_period"])
    assert settings.worker_shutdown_grace + settings.worker_heartbeat + 3 <= kill_after
