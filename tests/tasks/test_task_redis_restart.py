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


def test_right_after_a_redis_restart_no_busy_job_is_taken_for_dead(private_redis, monkeypatch):
    """Entries expire by the clock while Redis is away: the watchdog and rq's cleanup wait until workers could beat."""
    import uuid

    from agent import jobs
    from agent.request import FixRequest
    from agent.settings import get_settings
    from agent.worker import Watchdog, redis_settled

    tag = uuid.uuid4().hex[:8]
    for name, value in {"REDIS_URL": private_redis.url, "REDIS_PREFIX": f"fxr-{tag}", "QUEUE_NAME": f"qr-{tag}",
                        "DEPLOYMENT_ID": f"test-{tag}", "ALLOW_LOCAL_REPOS": "true", "WORKER_LEASE_TTL": "2",
                        "WORKER_HEARTBEAT": "1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    jobs.service.cache_clear()
    try:
        svc = jobs.service()
        record, _ = svc.submit(FixRequest(repo=str(Path(__file__).parent), issue="x"), {"kind": "cli", "user": "t"})
        svc.store.transition(record["id"], "running", expect={"queued"}, job=record["job_id"])
        svc.store.update(record["id"], {}, job=record["job_id"])  # its job has no live execution entry
        time.sleep(2.5)  # quiet for longer than the lease
        private_redis.shutdown()
        private_redis.start()
        assert not redis_settled(svc.store.conn, svc.settings)
        assert Watchdog(svc.settings, "test").check()["recovered"] == [], "Redis just came back: nobody judged"
        assert svc.store.get(record["id"])["status"] == "running"
        deadline = time.monotonic() + 30
        while not redis_settled(svc.store.conn, svc.settings) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(0.5)  # past the quiet time as well
        assert Watchdog(svc.settings, "test").check()["recovered"] == [record["id"]], "then the dead job is judged"
    finally:
        jobs.service.cache_clear()
        get_settings.cache_clear()
