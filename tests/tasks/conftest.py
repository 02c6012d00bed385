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


@pytest.fixture
def worker_service(redis_conn: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskService]:
    """The service a worker process builds from its environment (agent.jobs.service), on the test's Redis, for
    calling worker-side functions (recover, the watchdog, rq callbacks) in this process."""
    import uuid

    from agent import jobs
    from agent.settings import get_settings

    kw = redis_conn.connection_pool.connection_kwargs
    tag = uuid.uuid4().hex[:8]
    for name, value in {"REDIS_URL": f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}",
                        "REDIS_PREFIX": f"fxw-{tag}", "QUEUE_NAME": f"qw-{tag}", "DEPLOYMENT_ID": f"test-{tag}",
                        "ALLOW_LOCAL_REPOS": "true", "WORKER_LEASE_TTL": "5", "WORKER_HEARTBEAT": "1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    jobs.service.cache_clear()
    yield jobs.service()
    jobs.service.cache_clear()
    get_settings.cache_clear()
