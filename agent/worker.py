"""`fixbot worker`: rq's own Worker (or WorkerPool) with what fixbot needs around a job.

- A lease per running task: the worker's main process sets `lease(task_id)` before it forks the work
  horse and refreshes it with rq's job heartbeat (every WORKER_HEARTBEAT s); it expires WORKER_LEASE_TTL s
  after the last heartbeat. rq alone notices a SIGKILLed worker only when its StartedJobRegistry entry
  expires (job monitoring interval + 60 s) and a maintenance pass runs (every 10 min by default).
- A watchdog thread in every worker: a task `running` or `publishing` without a lease belongs to a dead
  worker. One worker (a short Redis lock) retires the dead job, reaps its sandboxes and either queues
  the task again (TASK_INFRA_RETRIES, default once; the run continues from its checkpoint) or fails it
  with a reason a person understands. Detection takes at most lease TTL + heartbeat + watchdog period.
- The work horse dies with its worker (PR_SET_PDEATHSIG), so a SIGKILLed worker never leaves a task
  running unseen; a horse killed alone (OOM) is handled by rq's horse monitor and our handler.
- SIGTERM: rq's warm shutdown finishes the current task; a second signal (cold shutdown) kills the horse
  and hands the task back to the queue at once.
- The sandbox reaper runs at start (and after a dead worker or a cancel): it removes a sandbox only when
  its owner process is provably dead, its deadline passed, or this deployment's store says its task is over.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from typing import Any

from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from agent.settings import Settings, get_settings
from agent.tasks.exceptions import IllegalTransition, TaskNotFound
from agent.tasks.service import TaskService
from agent.tasks.states import TERMINAL, TaskStatus

S = TaskStatus
PR_SET_PDEATHSIG = 1
WORKER_TTL = 60  # rq's default is 420 s: a dead idle worker would count as alive for 8 minutes
log = logging.getLogger("fixbot.worker")


def _service() -> TaskService:
    from agent.jobs import service

    return service()


# ---------------------------------------------------------------------- reaping
def over(svc: TaskService, task_id: str) -> bool:
    """Whether this deployment's store says the task's sandbox is no longer needed."""
    try:
        status = svc.store.get(task_id)["status"]
    except TaskNotFound:
        return False  # unknown here: maybe another deployment's, or a CLI run; never ours to judge
    return status in TERMINAL or status in (S.AWAITING_APPROVAL, S.QUEUED, S.APPROVED)


def reap_sandboxes(settings: Settings | None = None, *, also: str | None = None) -> list[str]:
    """Run the sandbox reaper for this deployment (`also`: a task id whose sandboxes go in any case)."""
    from sandbox.reaper import reap

    settings = settings or get_settings()
    svc = _service()
    try:
        return reap(finished=lambda t: t == also or over(svc, t), deployment=settings.deployment)
    except Exception as exc:  # noqa: BLE001 - reaping is housekeeping: log, never crash the worker
        log.warning("sandbox reaper failed: %s", exc)
        return []


def clean_work_dirs(settings: Settings) -> list[str]:
    """Remove checkouts left in WORK_DIR by dead workers whose tasks this deployment's store says are over.

    A folder is removed only when its name is a task id the store knows and that task is finished or
    waiting for a person (its checkout is fetched again if the work goes on); anything else stays.
    """
    import shutil
    from pathlib import Path

    root = Path(settings.work_dir).expanduser()
    if not root.is_dir():
        return []
    svc = _service()
    removed = []
    for path in root.iterdir():
        if path.is_dir() and not path.is_symlink() and path.name.startswith("fx-"):
            try:
                status = svc.store.get(path.name)["status"]
            except TaskNotFound:
                continue
            if status in TERMINAL or status == S.AWAITING_APPROVAL:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


def reap_task(task_id: str) -> list[str]:
    """Remove a cancelled or dead task's sandboxes (labelled with this deployment)."""
    return reap_sandboxes(also=task_id)


# ---------------------------------------------------------------------- the dead-worker watchdog
def retire_job(conn: Any, job_id: str | None) -> None:
    """Make a dead worker's job inert: out of the StartedJobRegistry (so rq never retries it too) and deleted."""
    if not job_id:
        return
    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return
    with contextlib.suppress(Exception):
        job.started_job_registry.remove_executions(job)
    with contextlib.suppress(Exception):
        job.delete(remove_from_queue=True)


def handle_dead(svc: TaskService, settings: Settings, task_id: str, *, why: str) -> dict[str, Any] | None:
    """The task's worker is gone: queue it again (retries left) or fail it; reap its sandboxes. Returns the record."""
    record = svc.store.get(task_id)
    status = record["status"]
    if status not in (S.RUNNING, S.PUBLISHING):
        return None
    retire_job(svc.store.conn, record.get("job_id"))
    used = int(record.get("infra_retries") or 0)
    try:
        if used < settings.task_infra_retries:
            back = S.QUEUED if status == S.RUNNING else S.APPROVED
            record = svc.store.transition(task_id, back, reason=f"{why}; running it again",
                                          fields={"infra_retries": used + 1}, expect={status})
            record = svc.enqueue_rerun(record)
            svc.events.emit(task_id, "requeued", {"reason": why, "retry": used + 1})
        else:
            reason = (f"{why}, {used + 1} time(s); giving up: run it again, and if it keeps happening "
                      "check the workers' memory and logs")
            record = svc.store.transition(task_id, S.FAILED, reason=reason, expect={status})
            svc.events.emit(task_id, "failed", {"reason": reason})
    except IllegalTransition:
        return None
    reap_task(task_id)
    return record


class Watchdog(threading.Thread):
    """Finds running tasks whose worker's lease expired and hands them to `handle_dead`."""

    def __init__(self, settings: Settings, name: str) -> None:
        super().__init__(name=f"fixbot-watchdog-{name}", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()

    def run(self) -> None:
        """Check every WORKER_HEARTBEAT seconds until stopped."""
        while not self.stopped.wait(self.settings.worker_heartbeat):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - keep watching through a Redis blip
                log.warning("watchdog check failed: %s", exc)

    def check(self) -> list[str]:
        """One pass; returns the ids of the dead workers' tasks it handled."""
        svc = _service()
        conn, keys = svc.store.conn, svc.store.keys
        handled = []
        for status in (S.RUNNING, S.PUBLISHING):
            for task_id in svc.store.ids_in(status):
                if conn.exists(keys.lease(task_id)):
                    continue
                lock = keys.watchdog_lock(task_id)
                if not conn.set(lock, os.getpid(), nx=True, ex=60):
                    continue
                try:
                    record = svc.store.get(task_id)
                    quiet = time.time() - float(record.get("updated_at") or 0)
                    if conn.exists(keys.lease(task_id)) or quiet < self.settings.worker_lease_ttl:
                        continue
                    why = "the worker running this task stopped responding (killed or crashed)"
                    if handle_dead(svc, self.settings, task_id, why=why) is not None:
                        handled.append(task_id)
                        log.warning("task %s: %s", task_id, why)
                except TaskNotFound:
                    continue
                finally:
                    conn.delete(lock)
        return handled


# ---------------------------------------------------------------------- the rq worker
def _horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """rq's work_horse_killed_handler: the horse died alone (OOM killer, kill -9 on it)."""
    task_id = job.args[0] if job.args else None
    if not task_id:
        return
    signame = signal.Signals(os.WTERMSIG(ret_val)).name if ret_val and os.WIFSIGNALED(ret_val) else f"exit {ret_val}"
    svc = _service()
    try:
        record = svc.store.get(task_id)
    except TaskNotFound:
        return
    if record["status"] not in (S.RUNNING, S.PUBLISHING) or record.get("job_id") != job.id:
        reap_task(task_id)
        return
    why = f"the process running this task was killed ({signame}; out of memory?)"
    used = int(record.get("infra_retries") or 0)
    if (job.retries_left or 0) > 0 and used < get_settings().task_infra_retries:
        back = S.QUEUED if record["status"] == S.RUNNING else S.APPROVED
        try:  # rq's Retry enqueues the same job again right after this handler
            svc.store.transition(task_id, back, reason=f"{why}; running it again", fields={"infra_retries": used + 1},
                                 expect={record["status"]})
            svc.events.emit(task_id, "requeued", {"reason": why, "retry": used + 1})
        except IllegalTransition:
            pass
    else:
        job.retries_left = 0
        try:
            svc.store.transition(task_id, S.FAILED, reason=why, expect={record["status"]})
            svc.events.emit(task_id, "failed", {"reason": why})
        except IllegalTransition:
            pass
    reap_task(task_id)


class FixbotWorker(Worker):
    """rq's forking Worker plus a task lease, a dead-worker watchdog and a horse that dies with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        kwargs.setdefault("job_monitoring_interval", max(1, int(settings.worker_heartbeat)))
        kwargs.setdefault("worker_ttl", WORKER_TTL)  # an idle worker that died leaves the registry within ~2 min
        kwargs.setdefault("work_horse_killed_handler", _horse_killed)
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.watchdog: Watchdog | None = None
        self._task_id: str | None = None

    # the lease ------------------------------------------------------------
    def _lease_key(self, task_id: str) -> str:
        return _service().store.keys.lease(task_id)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Hold the task's lease while the horse runs it."""
        task_id = job.args[0] if job.args else None
        ttl_ms = int(self.settings.worker_lease_ttl * 1000)
        if task_id:
            self._task_id = task_id
            self.connection.set(self._lease_key(task_id), self.name, px=ttl_ms)
        try:
            super().execute_job(job, queue)
        finally:
            if task_id:
                key = self._lease_key(task_id)
                with contextlib.suppress(Exception):
                    if self.connection.get(key) == self.name.encode():
                        self.connection.delete(key)
            self._task_id = None

    def maintain_heartbeats(self, job: Job) -> None:
        """rq's heartbeats, plus the lease."""
        super().maintain_heartbeats(job)
        if self._task_id:
            self.connection.set(self._lease_key(self._task_id), self.name,
                                px=int(self.settings.worker_lease_ttl * 1000))

    # the horse ------------------------------------------------------------
    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """Die with the worker: a SIGKILLed worker must not leave its horse running a task nobody watches."""
        parent = os.getppid()
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)
        super().main_work_horse(job, queue)

    # start and stop -------------------------------------------------------
    def work(self, *args: Any, **kwargs: Any) -> bool:
        """rq's work loop without its scheduler process (rq's WorkerPool asks for one): fixbot schedules
        nothing (its retries have no delay), and a scheduler outlives a SIGKILLed worker as an orphan."""
        kwargs["with_scheduler"] = False
        return super().work(*args, **kwargs)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """rq's bootstrap, then the reaper once and the watchdog thread."""
        super().bootstrap(*args, **kwargs)
        removed = reap_sandboxes(self.settings)
        if removed:
            self.log.info("reaped %d leftover sandbox container(s)/volume(s)", len(removed))
        try:
            cleaned = clean_work_dirs(self.settings)
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops a worker from starting
            self.log.warning("could not clean WORK_DIR: %s", exc)
            cleaned = []
        if cleaned:
            self.log.info("removed %d checkout(s) of finished tasks from WORK_DIR", len(cleaned))
        self.watchdog = Watchdog(self.settings, self.name)
        self.watchdog.start()

    def teardown(self) -> None:
        """Stop the watchdog, then rq's teardown."""
        if self.watchdog is not None and not self.is_horse:
            self.watchdog.stopped.set()
        super().teardown()

    def request_force_stop(self, signum: int, frame: Any) -> None:
        """Cold shutdown: rq kills the horse; the task goes back to the queue at once (not after the lease)."""
        task_id = self._task_id
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:  # the horse is dead now (a repeated signal within 1 s returns without this)
            if task_id and not self.is_horse:
                self._hand_back(task_id)
            raise

    def _hand_back(self, task_id: str) -> None:
        svc = _service()
        with contextlib.suppress(Exception):
            record = svc.store.get(task_id)
            status = record["status"]
            if status in (S.RUNNING, S.PUBLISHING):
                retire_job(self.connection, record.get("job_id"))
                back = S.QUEUED if status == S.RUNNING else S.APPROVED
                record = svc.store.transition(task_id, back, reason="its worker was shut down; running it again",
                                              expect={status})
                svc.enqueue_rerun(record)
                svc.events.emit(task_id, "requeued", {"reason": "its worker was shut down"})
            reap_task(task_id)


def run_worker(settings: Settings, *, queue: str | None = None, pool: int = 1, burst: bool = False,
               logging_level: str = "INFO") -> int:
    """Start one worker (pool=1) or rq's WorkerPool of `pool` workers on the task queue; returns when stopped."""
    from agent.tasks.service import connect
    from agent.tasks.store import reachable
    from sandbox.client import docker_client

    conn = connect(settings)
    with reachable(conn):  # one clear line (StoreUnavailable) instead of rq's retry loop when Redis is down
        conn.ping()
    docker_client().close()  # DockerUnavailable says how to start the engine; a worker without it fails every task
    name = queue or settings.queue_name
    if pool <= 1:
        worker = FixbotWorker([Queue(name, connection=conn)], connection=conn)
        worker.work(burst=burst, logging_level=logging_level)
        return 0
    from rq.worker_pool import WorkerPool

    WorkerPool([name], connection=conn, num_workers=pool, worker_class=FixbotWorker).start(
        burst=burst, logging_level=logging_level)
    return 0
