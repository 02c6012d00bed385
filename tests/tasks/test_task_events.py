"""TaskEvents on real Redis Streams: per-task replay, bounded streams, consumer groups, sampling."""

from __future__ import annotations

import time

import pytest

from agent.tasks.events import TaskEvents

pytestmark = [pytest.mark.redis]


def test_emit_replay_and_follow(events):
    events.emit("fx-a", "queued", {"position": 1})
    events.emit("fx-b", "queued", {})
    events.emit("fx-a", "phase", {"phase": "reproduce", "text": "Running the tests"})
    got = events.replay("fx-a")
    assert [(e["kind"], e["task_id"]) for e in got] == [("queued", "fx-a"), ("phase", "fx-a")]
    assert got[1]["data"] == {"phase": "reproduce", "text": "Running the tests"} and got[0]["at"] <= time.time()
    assert events.replay("fx-a", after=got[0]["id"]) == got[1:]
    assert events.follow("fx-a", got[-1]["id"], block_ms=50) == []
    events.emit("fx-a", "finished", {"status": "fixed"})
    assert [e["kind"] for e in events.follow("fx-a", got[-1]["id"], block_ms=50)] == ["finished"]


def test_streams_are_bounded(redis_conn, keys):
    small = TaskEvents(redis_conn, keys, maxlen=100, global_maxlen=150)
    for n in range(1000):
        small.emit("fx-long", "phase", {"n": n})
    assert redis_conn.xlen(keys.events("fx-long")) < 300  # MAXLEN ~ trims by whole nodes
    assert redis_conn.xlen(keys.all_events()) < 300
    assert small.replay("fx-long")[-1]["data"] == {"n": 999}


def test_candidate_events_are_sampled(events):
    for n in range(50):
        events.emit("fx-c", "candidate", {"n": n})
    time.sleep(0.35)
    events.emit("fx-c", "candidate", {"n": 50})
    kept = [e["data"]["n"] for e in events.replay("fx-c")]
    assert kept == [0, 50]


def test_consumer_group_delivers_each_event_once_and_claims_a_dead_consumers(events):
    events.ensure_group("notifier")
    events.ensure_group("notifier")  # idempotent
    for n in range(10):
        events.emit(f"fx-{n}", "phase", {"n": n})
    a = events.read_group("notifier", "replica-a", block_ms=100, count=4)
    b = events.read_group("notifier", "replica-b", block_ms=100, count=100)
    assert len(a) == 4 and len(b) == 6
    assert {e["data"]["n"] for _, e in a} | {e["data"]["n"] for _, e in b} == set(range(10))
    assert events.ack("notifier", [i for i, _ in b]) == 6
    assert events.read_group("notifier", "replica-b", block_ms=50) == []
    time.sleep(0.05)
    claimed = events.claim_stale("notifier", "replica-b", min_idle_ms=10)  # replica-a died before acking
    assert sorted(e["data"]["n"] for _, e in claimed) == sorted(e["data"]["n"] for _, e in a)


def test_emit_never_raises_when_redis_is_gone(keys):
    import redis

    dead = TaskEvents(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), keys)
    dead.emit("fx-x", "phase", {"text": "lost, not raised"})
