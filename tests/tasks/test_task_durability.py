"""Durability across processes and restarts: PostgreSQL checkpoints shared by workers, Redis restarted with AOF."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from task_cluster import Cluster, PrivateRedis

from agent.checkpoints import open_checkpointer
from agent.exceptions import CheckpointUnavailable, ConfigError
from agent.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.slow
def test_a_task_paused_by_one_worker_resumes_on_another_through_postgres(cluster, postgres_database, tmp_path):
    cluster.env["CHECKPOINT_URL"] = postgres_database
    first = cluster.start_worker(CHECKPOINT_DB=str(tmp_path / "first.sqlite"))
    task = cluster.submit(EXAMPLES / "calculate_total")
    paused = cluster.wait(task["id"], {"awaiting_approval"})
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    # Another process with its own (empty) SQLite file: only the shared PostgreSQL has the paused thread.
    cluster.start_worker(CHECKPOINT_DB=str(tmp_path / "second.sqlite"))
    cluster.service.approve(task["id"], by="U2")
    done = cluster.wait(task["id"], {"published", "failed"})
    assert done["status"] == "published", done["reason"]
    assert "+++ b/calc.py" in done["publication"]["patch"]
    assert paused["result"]["final_patch"]["diff"].splitlines()[3:] == \
        done["result"]["final_patch"]["diff"].splitlines()[3:]
    assert not (tmp_path / "first.sqlite").exists() and not (tmp_path / "second.sqlite").exists()
    import psycopg

    with psycopg.connect(postgres_database) as conn:
        threads = {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert task["id"] in threads


async def test_checkpointer_refuses_a_non_postgres_url_and_an_unreachable_server():
    bad = load_settings(_env_file=None, checkpoint_url="mysql://x@127.0.0.1/db")
    with pytest.raises(ConfigError, match="must be a postgresql:// URL"):
        async with open_checkpointer(bad):
            pass
    down = load_settings(_env_file=None, checkpoint_url="postgresql://u:secret@127.0.0.1:1/db")
    with pytest.raises(CheckpointUnavailable, match="cannot reach the checkpoint database") as caught:
        async with open_checkpointer(down):
            pass
    assert "secret" not in str(caught.value)


@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.slow
def test_queued_tasks_survive_a_redis_crash_with_aof_and_then_run(tmp_path, sandbox_image, docker_client):
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    cluster = Cluster(tmp_path / "c", sandbox_image, docker_client, server.url)
    (tmp_path / "c").mkdir()
    try:
        tasks = [cluster.submit(EXAMPLES / "calculate_total"), cluster.submit(EXAMPLES / "in_range")]
        time.sleep(1.5)  # appendfsync everysec: what was acknowledged more than a second ago is on disk
        server.crash()
        server.start()
        cluster._service = None  # a new connection to the restarted server
        svc = cluster.service
        assert svc.queue.job_ids == [t["id"] for t in tasks]
        assert [svc.store.get(t["id"])["status"] for t in tasks] == ["queued", "queued"]
        cluster.start_worker()
        for task in tasks:
            assert cluster.wait(task["id"], {"awaiting_approval"}, timeout=120)["result"]["final_patch"]
    finally:
        cluster.stop()
        server.stop()


def test_a_new_sqlite_checkpoint_file_opened_by_several_processes_at_once(tmp_path):
    """Two workers starting their first tasks together: switching the new file to WAL needs it alone."""
    import subprocess
    import sys

    db = tmp_path / "fresh" / "checkpoints.sqlite"
    code = ("import asyncio, sys\nfrom agent.checkpoints import open_checkpointer\n"
            "from agent.settings import load_settings\n"
            "async def main():\n"
            "    async with open_checkpointer(load_settings(_env_file=None, checkpoint_db=sys.argv[1])) as saver:\n"
            "        assert saver.is_setup\n"
            "        await saver.adelete_thread('fx-none')\n"
            "asyncio.run(main())\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
