"""Shared fixtures: real services (Docker engine, Redis), skipped locally when missing, failing under CI."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts tests/ on sys.path for this file; the project root must come first, or the test
# folders tests/sandbox and tests/agent would shadow the real packages as namespace packages.
_ROOT = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgresql://fixbot:fixbot@127.0.0.1:5432/postgres"  # the role scripts/bootstrap.sh makes
# The kinds corpus holds small repositories with their own (deliberately failing) tests: data, not our tests.
collect_ignore_glob = ["fixtures/*"]


def in_ci() -> bool:
    """True when running under CI (env CI=true): a missing service is then a failure, never a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI) the current test when a service is missing."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: services are required, never skipped)", pytrace=False)
    pytest.skip(reason)


def docker_available() -> tuple[bool, str]:
    """(ok, reason): whether the Docker engine answers a ping."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", with the reason shown
        return False, f"Docker engine not reachable: {str(exc).splitlines()[0][:200] if str(exc) else exc!r}"
    return True, ""


def redis_url() -> str:
    """The Redis the tests use: REDIS_URL, else the local default."""
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def redis_available() -> tuple[bool, str]:
    """(ok, reason): whether Redis at redis_url() answers a ping."""
    try:
        import redis

        conn = redis.Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=5)
        try:
            conn.ping()
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001
        return False, f"Redis not reachable at {redis_url()}: {exc}"
    return True, ""


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A connected docker SDK client (skip locally / fail under CI when the engine is down)."""
    ok, reason = docker_available()
    require(ok, reason)
    import docker

    client = docker.from_env(timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_image(docker_client: Any) -> str:
    """The sandbox image name, built first (offline when no registry is reachable) if it is missing."""
    from sandbox.config import DEFAULT_IMAGE
    from sandbox.image import ensure_image

    name = os.environ.get("SANDBOX_IMAGE") or DEFAULT_IMAGE
    ensure_image(name, client=docker_client)
    return name


@pytest.fixture
def redis_conn() -> Iterator[Any]:
    """A real Redis connection, its database flushed before and after the test."""
    ok, reason = redis_available()
    require(ok, reason)
    import redis

    conn = redis.Redis.from_url(redis_url())
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def postgres_url() -> str:
    """The PostgreSQL server the tests use (a role that may create databases): POSTGRES_URL, else the local default."""
    return os.environ.get("POSTGRES_URL") or DEFAULT_POSTGRES_URL


def postgres_available() -> tuple[bool, str]:
    """(ok, reason): whether PostgreSQL at postgres_url() accepts a connection."""
    try:
        import psycopg

        psycopg.connect(postgres_url(), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        return False, f"PostgreSQL not reachable at {postgres_url().split('@')[-1]}: {first}"
    return True, ""


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database created for this test session on the real PostgreSQL, dropped at the end."""
    ok, reason = postgres_available()
    require(ok, reason)
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    name = f"fixbot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(postgres_url())
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_url(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def workflow_settings(tmp_path: Path, sandbox_image: str) -> Any:
    """Settings for whole-workflow tests: local repos allowed, the real image, state under tmp_path."""
    from agent.settings import load_settings

    return load_settings(_env_file=None, allow_local_repos=True, sandbox_image=sandbox_image,
                         checkpoint_db=tmp_path / "checkpoints.sqlite", work_dir=tmp_path / "work",
                         docker_timeout=60, docker_max_cpu=1.0, repair_time_budget=60)


@pytest.fixture
def make_repo() -> Callable[[Path, dict[str, str]], Path]:
    """Writes a small repository (relative path → text) under a directory and returns it."""

    def write(root: Path, files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    return write
