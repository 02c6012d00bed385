"""The checkpoint database (CHECKPOINT_URL) going away is an outage to wait out, not a reason to fail a task.

Real PostgreSQL (the server scripts/test starts): a database made for each test, which is made to refuse
connections (ALLOW_CONNECTIONS false, its sessions ended) and then to accept them again; real `fixbot worker`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from agent.tasks.exceptions import DuplicateDecision

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calculate_total"


class Database:
    """A PostgreSQL database of this test's own that can be made to refuse connections."""

    def __init__(self, admin_url: str) -> None:
        import psycopg
        from psycopg import sql

        self.admin_url = admin_url
        self.name = f"fixbot_outage_{uuid.uuid4().hex[:10]}"
        self.ident = sql.Identifier(self.name)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(self.ident))
        self.url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{self.name}"))

    def _admin(self, *statements: tuple[object, tuple[object, ...]]) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            for statement, params in statements:
                admin.execute(statement, params)

    def refuse(self) -> None:
        """New connections are refused and the open ones are ended, as when the server goes down."""
        from psycopg import sql

        self._admin((sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(self.ident), ()),
                    (sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"),
                     (self.name,)))

    def accept(self) -> None:
        from psycopg import sql

        self._admin((sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(self.ident), ()))

    def drop(self) -> None:
        from psycopg import sql

        self.accept()
        self._admin((sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(self.ident), ()))


@pytest.fixture
def outage_db(postgres_database: str) -> Iterator[Database]:
    db = Database(postgres_database)  # the session's database serves as the admin connection: never refused
    yield db
    db.drop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.redis
@pytest.mark.docker
def test_a_worker_with_an_unreachable_checkpoint_database_says_so_in_one_line_and_stops(cluster):
    url = f"postgresql://fixbot:hunter2secret@127.0.0.1:{_closed_port()}/fixbot"
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "worker"], env={**cluster.env, "CHECKPOINT_URL": url},
                          capture_output=True, text=True, timeout=120, cwd=cluster.tmp, stdin=subprocess.DEVNULL)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0
    assert "cannot reach the checkpoint database (CHECKPOINT_URL)" in out, out
    assert len(out.splitlines()) == 1 and "Traceback" not in out and "hunter2secret" not in out, out


@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.slow
def test_an_approval_waits_out_a_checkpoint_database_outage_and_then_publishes(cluster, outage_db):
    cluster.env.update(CHECKPOINT_URL=outage_db.url, TASK_RETRY_DELAY="1")
    worker = cluster.start_worker()
    task = cluster.submit(EXAMPLE)
    tid = task["id"]
    assert cluster.wait(tid, {"awaiting_approval", "failed"}, timeout=180)["status"] == "awaiting_approval"
    outage_db.refuse()
    svc = cluster.service
    try:
        svc.approve(tid, by="U2")
        waiting = cluster.wait_event(tid, "requeued", timeout=60)
        assert "cannot reach the checkpoint database" in waiting["data"]["reason"]
        assert waiting["data"]["retry_in"] == 1
        deadline = time.monotonic() + 60
        while svc.store.get(tid)["waits"] < 2 and time.monotonic() < deadline:  # it tries again, and waits again
            time.sleep(0.2)
        record = svc.store.get(tid)
        assert record["waits"] >= 2 and record["status"] in ("approved", "publishing"), record
        assert record["decision"]["by"] == "U2" and record["infra_retries"] == 0
        with pytest.raises(DuplicateDecision, match="already approved"):
            svc.approve(tid, by="U3")  # the approval is kept: nobody has to approve again
    finally:
        outage_db.accept()
    done = cluster.wait(tid, {"published", "failed"}, timeout=180)
    assert done["status"] == "published", done["reason"]
    assert done["decision"]["by"] == "U2" and done["infra_retries"] == 0
    assert "failed" not in cluster.kinds(tid) and cluster.kinds(tid)[-1] == "published"
    assert worker.poll() is None


@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.slow
def test_a_task_submitted_during_an_outage_waits_queued_and_runs_afterwards(cluster, outage_db):
    cluster.env.update(CHECKPOINT_URL=outage_db.url, TASK_RETRY_DELAY="1")
    cluster.start_worker()
    deadline = time.monotonic() + 60  # the database answers at the worker's start
    while "Listening on" not in cluster.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Listening on" in cluster.logs(), cluster.logs()
    svc = cluster.service
    outage_db.refuse()
    try:
        task = cluster.submit(EXAMPLE)
        waiting = cluster.wait_event(task["id"], "requeued", timeout=60)
        assert "cannot reach the checkpoint database" in waiting["data"]["reason"]
        record = cluster.wait(task["id"], {"queued", "failed"}, timeout=10)
        assert record["status"] == "queued" and record["retry_at"] and record["infra_retries"] == 0
    finally:
        outage_db.accept()
    done = cluster.wait(task["id"], {"awaiting_approval", "failed"}, timeout=180)
    assert done["status"] == "awaiting_approval", done["reason"]
    assert done["infra_retries"] == 0 and "failed" not in cluster.kinds(task["id"])
    assert svc.store.get(task["id"])["result"]["final_patch"]


@pytest.mark.redis
@pytest.mark.docker
def test_a_worker_without_its_sandbox_image_says_so_in_one_line_and_stops(cluster):
    """A new-user trial: with SANDBOX_IMAGE naming no image the worker started and failed every task it took."""
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "worker"],
                          env={**cluster.env, "SANDBOX_IMAGE": "fixbot-sandbox:no-such-tag"},
                          capture_output=True, text=True, timeout=120, cwd=cluster.tmp, stdin=subprocess.DEVNULL)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0
    assert "the sandbox image 'fixbot-sandbox:no-such-tag' is missing" in out, out
    assert len(out.splitlines()) == 1 and "Traceback" not in out, out
