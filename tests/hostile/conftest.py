"""Hostile repositories built by the tests, and the CLI run as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_kit import CALC, ROOT

sys.path.insert(0, str(ROOT / "tests" / "llm"))  # llm_fakes, openai_server

_LEAKY = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FIXBOT_ENV_FILE", "WORK_DIR", "CHECKPOINT_DB", "ALLOWED_REPOS")


@pytest.fixture
def cli_env(tmp_path: Path, sandbox_image: str) -> dict[str, str]:
    """Environment for a CLI run: the real image, state under tmp_path, no model, nothing inherited that matters."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update(SANDBOX_IMAGE=sandbox_image, XDG_STATE_HOME=str(tmp_path / "state"), DOCKER_MAX_CPU="1",
               ALLOW_LOCAL_REPOS="true", REPAIR_TIME_BUDGET="60", PYTHONPATH=str(ROOT))
    return env


@pytest.fixture
def hostile_repo(make_repo: Callable[[Path, dict[str, str]], Path], tmp_path: Path
                 ) -> Callable[[dict[str, str]], Path]:
    """A copy of the calculate_total bug with extra (hostile) files on top."""

    def build(extra: dict[str, str], name: str = "repo") -> Path:
        return make_repo(tmp_path / name, {**CALC, **extra})

    return build
