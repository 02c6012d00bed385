"""The one place that reads configuration: every variable, read once, validated at start.

Configuration comes from the process environment and, only when one is named explicitly
(`fixbot --env-file FILE`, or FIXBOT_ENV_FILE), from an env file. Never from a `.env` in the
working directory: fixbot often runs inside a repository it is fixing, and that repository must
not be able to point the LLM client, the checkpoints or the allowlist anywhere.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent.exceptions import ConfigError
from sandbox.config import DEFAULT_IMAGE, SandboxConfig

_SIZE = re.compile(r"^\d+[bkmg]?$", re.IGNORECASE)

CommaList = Annotated[list[str], NoDecode]


ENV_FILE_VARIABLE = "FIXBOT_ENV_FILE"


def state_dir() -> Path:
    """Where fixbot keeps its own files by default: $XDG_STATE_HOME/fixbot (~/.local/state/fixbot).

    Never the working directory, which may be the repository being fixed.
    """
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fixbot"


class Settings(BaseSettings):
    """Environment variables (and an env file only when named explicitly) mapped to typed fields."""

    model_config = SettingsConfigDict(env_file=None, env_file_encoding="utf-8", extra="ignore")

    # Redis: REDIS_URL wins over REDIS_HOST/REDIS_PORT/REDIS_DB.
    redis_url: str | None = None
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db: int = Field(0, ge=0)

    # Durable tasks (agent.tasks, agent.jobs, `fixbot worker`).
    redis_prefix: str = Field("fixbot", min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    queue_name: str = Field("fixbot", min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    task_retention_days: float = Field(30.0, gt=0)  # records of finished tasks expire after this
    task_time_limit: float = Field(1800.0, gt=0)  # wall clock of one run (s): past it the task is timed_out
    job_timeout: float = Field(3600.0, gt=0)  # rq's hard limit on one job (s), a backstop behind TASK_TIME_LIMIT
    task_infra_retries: int = Field(1, ge=0, le=5)  # reruns after a dead worker or an infrastructure fault
    task_retry_delay: float = Field(15.0, gt=0, le=300)  # first wait (s) while the checkpoint database is down
    worker_heartbeat: float = Field(5.0, gt=0, le=60)  # seconds between a busy worker's heartbeats
    worker_lease_ttl: float = Field(20.0, gt=0, le=600)  # no heartbeat for this long: the worker is dead
    worker_shutdown_grace: float = Field(20.0, ge=0, le=86400)  # SIGTERM: finish within this (s), else hand back
    event_stream_maxlen: int = Field(2000, ge=100)  # events kept per task (the global stream keeps 50x)
    deployment_id: str | None = Field(None, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")  # labels our sandboxes
    checkpoint_url: SecretStr | None = None  # postgresql://... shares checkpoints across hosts (else CHECKPOINT_DB)

    # Sandbox (names kept from the seed where they fit).
    sandbox_image: str = DEFAULT_IMAGE
    docker_timeout: float = Field(300.0, gt=0, le=24 * 3600)
    test_timeout: float = Field(10.0, gt=0, le=3600)  # one pytest test running longer counts as hanging (failed)
    docker_max_memory: str = "512m"
    # The operator's cap on one sandbox's CPUs; unset, each sandbox gets what a worker can give its task:
    # the host's cores divided by WORKERS_PER_HOST (see sandbox_cpus()).
    docker_max_cpu: float | None = Field(None, gt=0, le=256)
    workers_per_host: int = Field(1, ge=1, le=256)  # tasks this host runs at once; the CLI is one worker
    docker_max_pids: int = Field(256, ge=16, le=65536)
    sandbox_tmpfs_size: str = "64m"
    sandbox_workspace_size: str = "512m"
    sandbox_output_cap: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    sandbox_setup_network: bool = False
    sandbox_lifetime: float = Field(3600.0, gt=0)
    sandbox_home_size: str = "1g"  # the sandbox user's home volume: caches and what setup installs (~/.local)
    sandbox_wheelhouse: Path | None = None  # host directory of wheels the setup's pip installs from, read-only
    sandbox_pip_index_url: str | None = None  # pip's index when SANDBOX_SETUP_NETWORK is on (default PyPI)
    flaky_reruns: int = Field(2, ge=0, le=5)  # times the baseline reruns its failing tests to find flaky ones

    # LLM (any OpenAI-compatible endpoint).
    llm_model: str = "gpt-4o"
    llm_temperature: float = Field(0.1, ge=0, le=2)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(3, ge=0, le=10)
    llm_token_budget: int = Field(200_000, ge=1000)
    max_attempts: int = Field(3, ge=1, le=20)
    llm_prompt_price_per_1k: float = Field(0.0, ge=0)  # optional cost estimate, any currency
    llm_completion_price_per_1k: float = Field(0.0, ge=0)

    # Repair workflow.
    repair_time_budget: float = Field(120.0, gt=0)
    repair_max_candidates: int = Field(3000, ge=1)
    auto_search_budget: float = Field(45.0, gt=0)  # engine "auto": seconds of search before the LLM takes over
    checkpoint_db: Path = Field(default_factory=lambda: state_dir() / "checkpoints.sqlite")
    work_dir: Path = Field(default_factory=lambda: state_dir() / "work")
    keep_workdir: bool = False  # keep checkouts after a task ends (debugging, resume tests)

    # Requests.
    allowed_repos: CommaList = Field(default_factory=lambda: ["https://github.com/"])
    allow_local_repos: bool = False
    clone_timeout: float = Field(120.0, gt=0)
    clone_max_mb: int = Field(500, ge=1)
    clone_max_files: int = Field(100_000, ge=10)

    # Slack.
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    approvers: CommaList = Field(default_factory=list)  # Slack user ids who may approve (empty: anyone allowed)
    approver_group: str | None = None  # a Slack user group id (S...) whose members may approve too
    self_approval: bool = False  # may the requester approve their own low/medium-risk patch
    slack_allowed_teams: CommaList = Field(default_factory=list)  # workspace ids (T...); empty: any
    slack_allowed_channels: CommaList = Field(default_factory=list)  # channel ids (C.../G...); empty: any
    slack_allowed_users: CommaList = Field(default_factory=list)  # user ids (U...); empty: any
    slack_diff_inline_lines: int = Field(40, ge=0, le=500)  # longer diffs are uploaded as a .diff file
    slack_update_interval: float = Field(1.0, ge=0.05, le=60)  # seconds between edits of one status message
    slack_progress_blocks: Literal["plan", "classic"] = "plan"  # plan/task_card blocks, or plain Block Kit
    slack_rate_limit_retries: int = Field(3, ge=0, le=20)  # retries of a 429 answer (after Retry-After)
    slack_notifier_group: str = Field("slack-notifier", min_length=1, max_length=100)

    api_host: str = "127.0.0.1"  # address `fixbot serve` listens on (0.0.0.0 behind a proxy or in a container)
    api_port: int = Field(8000, ge=1, le=65535)

    @field_validator("allowed_repos", "approvers", "slack_allowed_teams", "slack_allowed_channels",
                     "slack_allowed_users", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_repos")
    @classmethod
    def _allowlist(cls, value: list[str]) -> list[str]:
        from agent.allowlist import check_entries  # here: agent.allowlist imports agent.exceptions only

        return check_entries(value)

    @field_validator("sandbox_wheelhouse")
    @classmethod
    def _wheelhouse(cls, value: Path | None) -> Path | None:
        if value is None or str(value) == "":
            return None
        path = Path(value).expanduser().resolve()
        if not path.is_dir():
            raise ValueError("expected an existing directory of wheels (.whl files)")
        return path

    @field_validator("sandbox_pip_index_url")
    @classmethod
    def _index_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not re.fullmatch(r"https?://[^\s'\"]+", value.strip()):
            raise ValueError("expected an http(s) URL such as https://pypi.org/simple")
        return value.strip()

    @field_validator("docker_max_memory", "sandbox_tmpfs_size", "sandbox_workspace_size", "sandbox_home_size")
    @classmethod
    def _docker_size(cls, value: str) -> str:
        if not _SIZE.match(value.strip()):
            raise ValueError("expected a size such as 512m or 1g")
        return value.strip().lower()

    @property
    def redis_connection_url(self) -> str:
        """The Redis URL to connect to."""
        return self.redis_url or f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def deployment(self) -> str:
        """This deployment's identity (DEPLOYMENT_ID, else derived from the Redis URL and prefix).

        Sandboxes carry it, so a worker reaps only containers of tasks its own store knows.
        """
        if self.deployment_id:
            return self.deployment_id
        import hashlib

        seed = f"{self.redis_connection_url}|{self.redis_prefix}".encode()
        return "d" + hashlib.sha256(seed).hexdigest()[:12]

    @property
    def llm_configured(self) -> bool:
        """True when an LLM endpoint can be called (a key, or a keyless local base URL)."""
        return bool(self.openai_api_key and self.openai_api_key.get_secret_value()) or bool(
            self.openai_base_url
        )

    def sandbox_cpus(self) -> float:
        """CPUs of one sandbox: the host's cores ÷ WORKERS_PER_HOST, at most DOCKER_MAX_CPU when set.

        The seed's fixed half CPU made the sandbox 2-4x slower than the host, so slow tests looked hung.
        """
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        share = max(0.1, round(cores / self.workers_per_host, 2))
        return min(share, self.docker_max_cpu) if self.docker_max_cpu else share

    def sandbox_config(self) -> SandboxConfig:
        """The limits every sandbox container of this process runs under."""
        return SandboxConfig(
            image=self.sandbox_image,
            timeout=self.docker_timeout,
            memory=self.docker_max_memory,
            cpus=self.sandbox_cpus(),
            pids=self.docker_max_pids,
            tmpfs_size=self.sandbox_tmpfs_size,
            workspace_size=self.sandbox_workspace_size,
            output_cap=self.sandbox_output_cap,
            lifetime=self.sandbox_lifetime,
            setup_network=self.sandbox_setup_network,
            deployment=self.deployment,
            workspace_max_entries=self.clone_max_files,
            home_size=self.sandbox_home_size,
            wheelhouse=str(self.sandbox_wheelhouse) if self.sandbox_wheelhouse else None,
            pip_index_url=self.sandbox_pip_index_url,
        )


def load_settings(env_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read and validate settings; a bad value raises ConfigError with one clear line.

    `env_file` (else FIXBOT_ENV_FILE) names an env file read after the environment (the environment
    wins); no file is ever read implicitly. A named file that does not exist is a ConfigError.
    """
    named = env_file if env_file is not None else os.environ.get(ENV_FILE_VARIABLE) or None
    if named is not None and "_env_file" not in overrides:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"env file {str(path)!r} does not exist (named by --env-file or {ENV_FILE_VARIABLE})")
        overrides["_env_file"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "settings"
        value = first.get("input")
        shown = "" if name in _SECRET_NAMES or isinstance(value, dict) else f" (got {value!r})"
        raise ConfigError(f"bad setting {name}: {first['msg']}{shown}") from None


_SECRET_NAMES = {"CHECKPOINT_URL", "OPENAI_API_KEY", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
