"""Checkpoint retention (agent.retention) on the real Redis with both savers: SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio
import operator
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from rq.job import Job

from agent import retention
from agent.checkpoints import open_checkpointer
from agent.request import FixRequest
from agent.settings import load_settings
from agent.worker import Watchdog

pytestmark = [pytest.mark.redis]
REQ = FixRequest(repo="https://github.com/acme/shop", issue="totals are wrong")


class State(TypedDict):
    notes: Annotated[list[str], operator.add]


def _graph(saver: Any) -> Any:
    graph = StateGraph(State)
    graph.add_node("reproduce", lambda state: {"notes": ["secret test output"]})
    graph.add_node("repair", lambda state: {"notes": ["a patch"]})
    graph.add_edge(START, "reproduce")
    graph.add_edge("reproduce", "repair")
    graph.add_edge("repair", END)
    return graph.compile(checkpointer=saver)


async def _write_threads(settings: Any, thread_ids: list[str]) -> None:
    async with open_checkpointer(settings) as saver:
        for thread_id in thread_ids:
            await _graph(saver).ainvoke({"notes": []}, {"configurable": {"thread_id": thread_id}})


async def _threads(settings: Any, thread_ids: list[str]) -> set[str]:
    """The ids among `thread_ids` that still have a checkpoint or a pending write."""
    found = set()
    async with open_checkpointer(settings) as saver:
        for thread_id in thread_ids:
            if [c async for c in saver.alist({"configurable": {"thread_id": thread_id}})]:
                found.add(thread_id)
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def checkpoints(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Worker settings on a fresh checkpoint store of each kind (a new SQLite file; a new PostgreSQL database)."""
    retention._paused_until = 0.0
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        return load_settings(_env_file=None, checkpoint_url=url, worker_lease_ttl=5)
    return load_settings(_env_file=None, checkpoint_db=tmp_path / "fresh" / "checkpoints.sqlite", worker_lease_ttl=5)


def _ended(svc: Any, status: str, **decision: Any) -> str:
    record, _ = svc.submit(REQ, {"kind": "cli", "user": "u"})
    task_id = record["id"]
    if status == "cancelled":
        svc.cancel(task_id, by="u")
        return task_id
    Job.fetch(record["job_id"], connection=svc.store.conn).cancel()  # the run job is over (no worker here)
    svc.store.transition(task_id, "running")
    if status == "rejected":
        svc.store.transition(task_id, "awaiting_approval")
        svc.reject(task_id, by="u", **decision)
    else:
        svc.store.transition(task_id, status, reason="no patch")
    return task_id


def test_threads_of_ended_tasks_go_and_the_others_stay(worker_service, checkpoints):
    svc = worker_service
    cancelled_while_queued = _ended(svc, "cancelled")
    # A store where no task ever ran (a fresh SQLite file has no tables yet): the sweep still works.
    assert retention.sweep_threads(svc, checkpoints, grace=0) == [cancelled_while_queued]
    assert svc.store.ended(before=time.time()) == []

    not_fixed = _ended(svc, "not_fixed")
    rejected = _ended(svc, "rejected")  # its resume job is queued: it still has to end the graph
    expired = _ended(svc, "failed")
    waiting, _ = svc.submit(REQ, {"kind": "cli", "user": "u"})
    svc.store.transition(waiting["id"], "running")
    svc.store.transition(waiting["id"], "awaiting_approval")
    every = [not_fixed, rejected, expired, waiting["id"]]
    asyncio.run(_write_threads(checkpoints, every))
    assert asyncio.run(_threads(checkpoints, every)) == set(every)
    svc.store.conn.delete(svc.store.keys.task(expired))  # as when TASK_RETENTION_DAYS passed

    assert retention.sweep_threads(svc, checkpoints, grace=3600) == [], "ended too recently"
    assert sorted(retention.sweep_threads(svc, checkpoints, grace=0)) == sorted([not_fixed, expired])
    assert asyncio.run(_threads(checkpoints, every)) == {rejected, waiting["id"]}
    assert svc.store.ended(before=time.time()) == [rejected], "kept until its job is over"

    job = Job.fetch(svc.store.get(rejected)["job_id"], connection=svc.store.conn)
    job.cancel()  # the resume job is over (as when it finished)
    assert retention.sweep_threads(svc, checkpoints, grace=0) == [rejected]
    assert asyncio.run(_threads(checkpoints, every)) == {waiting["id"]}, "a task waiting for a person keeps its thread"
    assert svc.store.ended(before=time.time()) == []


def test_an_unreachable_checkpoint_database_neither_loses_ids_nor_stops_the_watchdog(worker_service, checkpoints,
                                                                                    caplog):
    svc = worker_service
    ended = _ended(svc, "not_fixed")
    down = load_settings(_env_file=None, checkpoint_url="postgresql://fixbot:secret@127.0.0.1:1/none",
                         worker_lease_ttl=0.1)
    watchdog = Watchdog(down, "test")
    time.sleep(0.2)
    assert watchdog.check()["forgotten"] == [], "the check went on and said what it did"
    assert "could not delete the checkpoints of ended tasks" in caplog.text and "secret" not in caplog.text
    assert svc.store.ended(before=time.time()) == [ended], "the id stays for a later pass"
    assert retention.sweep_threads(svc, checkpoints, grace=0) == [], "paused for RETRY_AFTER s after a failure"
    retention._paused_until = 0.0
    assert retention.sweep_threads(svc, checkpoints, grace=0) == [ended]


@pytest.mark.docker
@pytest.mark.slow
def test_a_worker_deletes_the_thread_of_a_task_once_it_ended(cluster):
    cluster.start_worker()
    examples = Path(__file__).resolve().parents[2] / "examples"
    task = cluster.submit(examples / "gcd")
    cluster.wait(task["id"], {"awaiting_approval"}, timeout=180)
    settings = cluster.settings()
    assert asyncio.run(_threads(settings, [task["id"]])) == {task["id"]}, "the paused thread is kept while it waits"
    cluster.service.reject(task["id"], by="U2")  # its resume job ends the graph, then the thread can go
    deadline = time.monotonic() + 60
    while asyncio.run(_threads(settings, [task["id"]])) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert asyncio.run(_threads(settings, [task["id"]])) == set(), cluster.logs()[-3000:]
    assert cluster.service.store.ended(before=time.time()) == []
    record = cluster.service.store.get(task["id"])
    assert record["status"] == "rejected" and record["result"]["status"] == "rejected", "the resume job ran first"
