"""TaskStore on a real Redis: records, atomic transitions, indexes, pagination, idempotency, retention."""

from __future__ import annotations

import json
import threading
import time

import pytest

from agent.tasks.exceptions import DuplicateDecision, IllegalTransition, StoreUnavailable, TaskNotFound
from agent.tasks.store import TaskStore

pytestmark = [pytest.mark.redis]


EXAMPLE = {"repo": "https://github.com/acme/shop", "issue": "totals are wrong", "test_command": "python3 -m pytest -q",
           "branch": None, "language": "python", "setup_command": None, "hints": []}


def new(store, **origin):
    record, created = store.create(EXAMPLE, {"kind": "slack", **origin}, engine="search")
    assert created
    return record


def test_create_and_get_round_trip_plain_json(store, redis_conn, keys):
    record = new(store, channel="C1", user="U1", thread_ts="1.2")
    assert record["status"] == "queued" and record["id"].startswith("fx-")
    got = store.get(record["id"])
    assert got == record
    assert json.loads(redis_conn.get(keys.task(record["id"]))) == record
    assert redis_conn.ttl(keys.task(record["id"])) == -1, "an unfinished task never expires"


def test_transition_sets_timestamps_and_refuses_illegal_moves(store):
    rec = new(store, user="U1")
    running = store.transition(rec["id"], "running")
    assert running["started_at"] and running["status"] == "running"
    waiting = store.transition(rec["id"], "awaiting_approval", fields={"risk": {"level": "low", "reasons": []}})
    assert waiting["proposed_at"] and waiting["risk"]["level"] == "low"
    decision = {"action": "approve", "by": "U2", "at": time.time(), "feedback": None}
    approved = store.transition(rec["id"], "approved", by="U2", fields={"decision": decision})
    assert approved["decided_at"]
    with pytest.raises(DuplicateDecision, match=r"is already approved \(by U2 at \d\d:\d\d UTC\): cannot approve it"):
        store.transition(rec["id"], "approved", by="U3", expect={"awaiting_approval"})
    with pytest.raises(IllegalTransition, match="is approved .*cannot reject it"):
        store.transition(rec["id"], "rejected", expect={"awaiting_approval"})


def test_failed_task_cannot_be_approved_and_published_cannot_be_cancelled(store):
    a = new(store)
    store.transition(a["id"], "running")
    store.transition(a["id"], "failed", reason="the worker died twice")
    with pytest.raises(IllegalTransition, match=f"task {a['id']} is failed .*cannot approve it"):
        store.transition(a["id"], "approved")
    b = new(store)
    for status in ("running", "awaiting_approval", "approved", "publishing", "published"):
        store.transition(b["id"], status)
    with pytest.raises(IllegalTransition, match="is published .*cannot cancel it"):
        store.transition(b["id"], "cancelled", by="U9")


def test_racing_decisions_have_one_winner(store, redis_conn, keys):
    rec = new(store)
    store.transition(rec["id"], "running")
    store.transition(rec["id"], "awaiting_approval")
    wins, losses = [], []
    barrier = threading.Barrier(8)

    def click(n):
        other = TaskStore(type(redis_conn).from_url(_url(redis_conn)), keys)  # another replica's connection
        barrier.wait()
        try:
            target = "approved" if n % 2 else "rejected"
            other.transition(rec["id"], target, by=f"U{n}", expect={"awaiting_approval"})
            wins.append(n)
        except IllegalTransition:
            losses.append(n)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7
    final = store.get(rec["id"])
    assert final["status"] == ("approved" if wins[0] % 2 else "rejected")
    assert redis_conn.zscore(keys.by_status(final["status"]), rec["id"]) is not None
    assert redis_conn.zscore(keys.by_status("awaiting_approval"), rec["id"]) is None


def _url(conn):
    kw = conn.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def test_terminal_records_expire_after_the_retention_and_nothing_else_does(store, redis_conn, keys, events):
    rec = new(store)
    events.emit(rec["id"], "queued", {})
    store.transition(rec["id"], "running")
    store.update(rec["id"], {"progress": {"phase": "repair", "text": "x", "candidates_tried": 3, "attempts": 0}})
    assert redis_conn.ttl(keys.task(rec["id"])) == -1
    store.transition(rec["id"], "not_fixed", reason="no plausible patch")
    assert 3500 < redis_conn.ttl(keys.task(rec["id"])) <= 3600
    assert 3500 < redis_conn.ttl(keys.events(rec["id"])) <= 3600
    store.update(rec["id"], {"result": {"status": "not_fixed"}})
    assert redis_conn.ttl(keys.task(rec["id"])) > 3500, "an update keeps the expiry"


def test_recent_pages_newest_first_with_filters(store):
    made = [new(store, channel="C1" if n % 2 else "C2", user=f"U{n % 3}") for n in range(7)]
    page, cursor = store.recent(limit=3)
    assert [r["id"] for r in page] == [r["id"] for r in reversed(made)][:3]
    seen = [r["id"] for r in page]
    while cursor:
        page, cursor = store.recent(limit=3, cursor=cursor)
        seen += [r["id"] for r in page]
    assert seen == [r["id"] for r in reversed(made)]
    c1, _ = store.recent(channel="C1")
    assert {r["id"] for r in c1} == {r["id"] for r in made if r["origin"]["channel"] == "C1"}
    u0, _ = store.recent(requester="U0")
    assert {r["id"] for r in u0} == {r["id"] for r in made if r["origin"]["user"] == "U0"}
    store.transition(made[0]["id"], "running")
    running, cursor = store.recent(status="running")
    assert [r["id"] for r in running] == [made[0]["id"]] and cursor is None
    both, _ = store.recent(channel="C2", status="queued")
    assert {r["id"] for r in both} == {r["id"] for r in made[1:] if r["origin"]["channel"] == "C2"}


def test_expired_records_drop_out_of_the_indexes(store, redis_conn, keys):
    a, b = new(store), new(store)
    redis_conn.delete(keys.task(a["id"]))  # as if its retention ran out
    page, _ = store.recent()
    assert [r["id"] for r in page] == [b["id"]]
    assert redis_conn.zscore(keys.recent(), a["id"]) is None


def test_idempotency_key_returns_the_existing_task(store, redis_conn, keys):
    first, created = store.create(EXAMPLE, {"kind": "api"}, engine="search", idempotency_key="req-42")
    again, created_again = store.create(EXAMPLE, {"kind": "api"}, engine="search", idempotency_key="req-42")
    assert created and not created_again and again["id"] == first["id"]
    other, created_other = store.create(EXAMPLE, {"kind": "api"}, engine="search", idempotency_key="req-43")
    assert created_other and other["id"] != first["id"]
    idem = [k for k in redis_conn.scan_iter(match=f"{keys.prefix}:idem:*")]
    assert len(idem) == 2 and 0 < redis_conn.ttl(idem[0]) <= 24 * 3600


def test_unknown_and_hostile_ids(store):
    for bad in ("fx-nope", "", "x" * 500, "../etc", "fx-1 2"):
        with pytest.raises(TaskNotFound, match="no task"):
            store.get(bad)


def test_stats_counts_and_medians(store):
    a, b, c = new(store), new(store), new(store)
    store.transition(a["id"], "running")
    store.update(a["id"], {"attempts": 2, "tokens": {"prompt": 5, "completion": 5, "total": 10}})
    store.transition(a["id"], "awaiting_approval")
    store.transition(b["id"], "running")
    store.transition(b["id"], "not_fixed")
    stats = store.stats()
    assert stats["tasks"] == 3 and stats["by_status"]["queued"] == 1 and stats["by_status"]["not_fixed"] == 1
    assert stats["success_rate"] == 0.5 and stats["median_attempts"] == 2 and stats["tokens"] == 10
    assert stats["median_time_to_fix"] is not None and stats["workers_alive"] == 0
    assert c["id"]


def test_unreachable_redis_is_one_clear_error(keys):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    with pytest.raises(StoreUnavailable, match=r"cannot reach Redis at 127.0.0.1:1/0 .*start it or set REDIS_URL"):
        TaskStore(dead, keys).get("fx-123")
