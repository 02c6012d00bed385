"""Fixtures of the task layer: a store, events and a service on the real Redis (database flushed around each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from task_cluster import Cluster

from agent.settings import load_settings
from agent.tasks.events import TaskEvents
from agent.tasks.keys import Keys
from agent.tasks.service import TaskService
from agent.tasks.store import TaskStore


@pytest.fixture
def keys() -> Keys:
    return Keys("fixbot-test")


@pytest.fixture
def store(redis_conn: Any, keys: Keys) -> TaskStore:
    return TaskStore(redis_conn, keys, retention=3600, queue_name="fixbot-test")


@pytest.fixture
def events(redis_conn: Any, keys: Keys) -> TaskEvents:
    return TaskEvents(redis_conn, keys, maxlen=100)


@pytest.fixture
def service(redis_conn: Any) -> TaskService:
    settings = load_settings(_env_file=None, redis_prefix="fixbot-test", queue_name="fixbot-test",
                             allowed_repos="https://github.com/acme/")
    return TaskService.from_settings(settings, conn=redis_conn)


@pytest.fixture
def cluster(redis_conn: Any, tmp_path: Path, sandbox_image: str, docker_client: Any) -> Iterator[Cluster]:
    """Workers started by the test (as subprocesses), all killed and their sandboxes removed afterwards."""
    kw = redis_conn.connection_pool.connection_kwargs
    url = f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
    made = Cluster(tmp_path, sandbox_image, docker_client, url)
    yield made
    made.stop()
