"""Every Redis key name fixbot uses, from one place, under one configurable prefix (REDIS_PREFIX)."""

from __future__ import annotations


class Keys:
    """Key names under `prefix` (default "fixbot"): `Keys("fixbot").task("fx-1") == "fixbot:task:fx-1"`.

    Two deployments on one Redis database differ by prefix. rq's own keys (`rq:...`) are rq's.
    """

    def __init__(self, prefix: str = "fixbot") -> None:
        if not prefix or any(ch.isspace() for ch in prefix):
            raise ValueError(f"bad Redis key prefix {prefix!r}")
        self.prefix = prefix

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def task(self, task_id: str) -> str:
        """String: the task record as JSON."""
        return self._k("task", task_id)

    def events(self, task_id: str) -> str:
        """Stream: the task's events, oldest first."""
        return self._k("events", task_id)

    def all_events(self) -> str:
        """Stream: every task's events, read by the notifiers through consumer groups."""
        return self._k("events")

    def recent(self) -> str:
        """Sorted set: task ids scored by creation time (epoch seconds)."""
        return self._k("idx", "recent")

    def by_channel(self, channel: str) -> str:
        """Sorted set: task ids of one chat channel, scored by creation time."""
        return self._k("idx", "channel", channel)

    def by_requester(self, user: str) -> str:
        """Sorted set: task ids of one requester, scored by creation time."""
        return self._k("idx", "requester", user)

    def by_status(self, status: str) -> str:
        """Sorted set: task ids currently in one status, scored by the time they entered it."""
        return self._k("idx", "status", status)

    def idempotency(self, key: str) -> str:
        """String: the task id created for one idempotency key (expires after 24 h)."""
        return self._k("idem", key)

    def channel_config(self, channel: str) -> str:
        """Hash: per-channel /fix defaults (written by the Slack face)."""
        return self._k("channel", channel, "config")

    def seen_event(self, event_id: str) -> str:
        """String: a Slack event id already handled (dedupe of redeliveries)."""
        return self._k("seen", event_id)

    def ended(self) -> str:
        """Sorted set: tasks that reached a terminal status, scored by that time, until their checkpoint thread is
        deleted (the workers' sweep reads it)."""
        return self._k("idx", "ended")

    def watchdog_lock(self) -> str:
        """String: held for one pass by the one worker that checks the tasks against rq's jobs."""
        return self._k("lock", "watchdog")
