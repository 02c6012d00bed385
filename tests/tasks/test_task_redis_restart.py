"""A short Redis restart while a worker is busy: the worker lives on, its task completes, no retry is spent.

The test restarts a redis-server of its own (append-only file, an ephemeral port, a temporary directory): never
the shared one. Real `fixbot worker`, real Docker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from task_cluster import SLOW, Cluster, PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_cluster(private_redis: PrivateRedis, tmp_path: Path, sandbox_image: str,
                docker_client: Any) -> Iterator[Cluster]:
    made = Cluster(tmp_path, sandbox_image, docker_client, private_redis.url)
    yield made
    made.stop()


def test_a_short_redis_restart_neither_kills_a_busy_worker_nor_spends_its_retry(private_redis, own_cluster, make_repo,
                                                                               tmp_path):
    cluster = own_cluster
    worker = cluster.start_worker()
    task = cluster.submit(make_repo(tmp_path / "slow", SLOW), "negative amounts are added")
    tid = task["id"]
    cluster.wait(tid, {"running"})
    cluster.wait_containers(tid)  # the work horse is in the middle of the task
    private_redis.shutdown()
    time.sleep(6)
    assert worker.poll() is None
    private_redis.start()
    final = cluster.wait(tid, {"awaiting_approval", "failed", "not_fixed", "timed_out"}, timeout=240)
    assert final["status"] == "awaiting_approval", final["reason"]
    assert final["infra_retries"] == 0 and final["job_id"] == tid, "the job that started it finished it"
    cluster.wait_event(tid, "approval_needed", timeout=10)
    kinds = cluster.kinds(tid)
    assert "requeued" not in kinds and kinds.count("started") == 1, kinds
    assert worker.poll() is None, "the worker lives on"
    assert "unhandled exception" not in cluster.logs(), cluster.logs()[-3000:]
    again = cluster.submit(make_repo(tmp_path / "slow2", SLOW), "negative amounts are added")
    assert cluster.wait(again["id"], {"awaiting_approval", "failed"}, timeout=240)["status"] == "awaiting_approval"
