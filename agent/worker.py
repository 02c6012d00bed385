"""`fixbot worker`: rq's own Worker (or WorkerPool) with what fixbot needs around a job.

- Liveness is rq's: a busy worker refreshes its job's execution entry in rq's StartedJobRegistry every
  WORKER_HEARTBEAT s (rq's job heartbeat); the entry expires WORKER_LEASE_TTL s after the last one (rq
  adds 60 s; we add the lease, so a SIGKILLed worker is noticed in seconds, not minutes).
- The watchdog, a thread in every worker (one pass at a time across workers, by a short Redis lock),
  compares the task store with rq every WORKER_HEARTBEAT s:
  * a running or publishing task whose job has no live entry (its worker was SIGKILLed, paused past the
    lease, lost its host, or its job ended without recording an outcome) is recovered: the sandboxes of
    the task whose owner process is provably dead are reaped first, then TaskService.hand_back queues
    it again as a new job (TASK_INFRA_RETRIES, default once; it continues from its checkpoint) or fails
    it with a reason a person understands;
  * a queued or approved task whose job is missing or ended (a lost enqueue, or a task that waited out
    a checkpoint database outage) gets a new job;
  * the LangGraph threads of ended tasks are deleted (checkpoint retention).
  rq's own abandoned-job cleanup reaches the same `recover` through the jobs' on_failure callback. Jobs
  carry no rq Retry, so only `hand_back` ever reruns a task, and the store's fencing lets one caller act.
- A superseded job stops: at its next heartbeat the worker sees that the record names another job and
  kills its own work horse (whose writes are fenced meanwhile: agent.jobs).
- The work horse dies with its worker (PR_SET_PDEATHSIG), so a SIGKILLed worker never leaves a task
  running unseen; a horse killed alone (OOM) is recovered by the worker itself.
- SIGTERM: the current task may finish within WORKER_SHUTDOWN_GRACE s (the supervisor's grace, compose's
  stop_grace_period, must exceed it + WORKER_HEARTBEAT + a few seconds); past that (at the next
  heartbeat; at once with a grace of 0), or at a second signal, the horse is killed and the task handed
  back, without spending a retry.
- Redis restarts: the worker's connection retries every command until Redis is back
  (agent.tasks.service.connect(patient=True)); the watchdog judges nobody until heartbeats had time to
  resume.
- The sandbox reaper runs at start (and before a task is handed back, and after a cancel): it removes a
  sandbox only when its owner process is provably dead, its deadline passed, or this deployment's store
  says its task is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from agent.settings import Settings, get_settings
from agent.tasks.exceptions import StoreUnavailable, TaskNotFound
from agent.tasks.service import TaskService
from agent.tasks.states import ACTIVE, TERMINAL, WAITING, TaskStatus

S = TaskStatus
PR_SET_PDEATHSIG = 1
WORKER_TTL = 60  # rq's default is 420 s: a dead idle worker would count as alive for 8 minutes
log = logging.getLogger("fixbot.worker")
REAP_WAIT = 10.0  # seconds a recovery (or a worker's start) waits for the sandbox reaper before going on


def _service() -> TaskService:
    from agent.jobs import service

    return service()


# ---------------------------------------------------------------------- reaping
def over(svc: TaskService, task_id: str) -> bool:
    """Whether this deployment's store says the task's sandbox is no longer needed (no job may be running it:
    a sandbox exists only while its task is running or publishing)."""
    try:
        status = svc.store.get(task_id)["status"]
    except TaskNotFound:
        return False  # unknown here: maybe another deployment's, or a CLI run; never ours to judge
    return status in TERMINAL or status in (S.AWAITING_APPROVAL, S.QUEUED, S.APPROVED)


def reap_sandboxes(settings: Settings | None = None, *, task: str | None = None) -> list[str]:
    """Run the sandbox reaper for this deployment (`task`: only that task's sandboxes): owners provably dead,
    deadlines passed, tasks over."""
    from sandbox.reaper import reap

    settings = settings or get_settings()
    svc = _service()
    try:
        return reap(finished=lambda t: over(svc, t), deployment=settings.deployment, task=task)
    except Exception as exc:  # noqa: BLE001 - reaping is housekeeping: log, never crash the worker
        log.warning("sandbox reaper failed: %s", exc)
        return []


def reap_briefly(settings: Settings | None = None, *, task: str | None = None, wait: float = REAP_WAIT) -> bool:
    """`reap_sandboxes` in a thread of its own, waited for at most `wait` seconds: True when it finished.

    A busy or stuck Docker engine can take a minute to answer (DOCKER_TIMEOUT); recovering a task or
    starting a worker does not wait that long for housekeeping. Reaping later is safe: the reaper removes
    only sandboxes whose owner is provably dead, whose deadline passed or whose task is over, never those of
    a job that runs the task again.
    """
    def run() -> None:
        started = time.monotonic()
        removed = reap_sandboxes(settings, task=task)
        took = time.monotonic() - started
        if removed:
            log.info("reaped %d sandbox container(s)/volume(s)%s", len(removed), f" of {task}" if task else "")
        if took > REAP_WAIT:
            log.warning("the sandbox reaper took %.0f s (a slow Docker engine?)", took)

    thread = threading.Thread(target=run, name=f"fixbot-reaper-{task or 'all'}", daemon=True)
    thread.start()
    thread.join(wait)
    return not thread.is_alive()


def clean_work_dirs(settings: Settings) -> list[str]:
    """Remove checkouts left in WORK_DIR by dead workers whose tasks this deployment's store says are over.

    A folder is removed only when its name is a task id the store knows and that task is finished or
    waiting for a person (its checkout is fetched again if the work goes on); anything else stays.
    """
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


def recover(svc: TaskService, task_id: str, job_id: str, *, why: str, spend: bool = True) -> dict[str, Any] | None:
    """The task's job is gone (dead worker, killed horse, shutdown): reap first, then hand the task back.

    Reaping first, and only what the reaper may remove (a dead owner's sandboxes), never touches the
    sandbox of a rerun that already started, nor that of a live process that was merely paused.
    Returns the new record, or None when the job no longer held the task.
    """
    reap_briefly(task=task_id)  # then on in the background when Docker is slow: the task does not wait for it
    record = svc.hand_back(task_id, job=job_id, why=why, spend=spend)
    if record is not None:
        log.warning("task %s (job %s): %s -> %s", task_id, job_id, why, record["status"])
    return record


# ---------------------------------------------------------------------- the watchdog
def live_jobs(conn: Any) -> set[str]:
    """Ids of the jobs whose execution entry in any queue's StartedJobRegistry has not expired."""
    now = time.time()
    live: set[str] = set()
    for queue in Queue.all(connection=conn):
        registry = StartedJobRegistry(queue.name, connection=conn)
        for entry in conn.zrangebyscore(registry.key, now, "+inf"):
            live.add(registry.parse_job_id(entry))
    return live


def job_pending(conn: Any, job_id: str | None) -> bool:
    """Whether rq will still run (or is running) the job: queued in its queue or taken from it, deferred or
    scheduled, or started with a live entry. False for a missing job and one that ended (finished, failed,
    stopped, cancelled).

    The reads follow the job's life backwards (rq moves it queue -> intermediate list, adds its entry to the
    StartedJobRegistry, then marks it started), so a job moving on meanwhile is never taken for gone.
    """
    if not job_id:
        return False
    key = Job.key_for(job_id)
    status, origin = (v.decode() if isinstance(v, bytes) else v for v in conn.hmget(key, "status", "origin"))
    if status in (JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return True
    if status == JobStatus.QUEUED and origin:
        queue = Queue(origin, connection=conn)
        if conn.lpos(queue.key, job_id) is not None or conn.lpos(queue.intermediate_queue_key, job_id) is not None:
            return True
        status = conn.hget(key, "status")
        status = status.decode() if isinstance(status, bytes) else status
    return status == JobStatus.STARTED and job_id in live_jobs(conn)


def redis_settled(conn: Any, settings: Settings) -> bool:
    """Whether Redis has been up long enough for every live worker to have beaten since it started.

    Execution entries carry absolute expiry times: while Redis was down (or restarting from its AOF) no
    worker could beat, so right after it comes back every busy job looks dead (to the watchdog and to
    rq's abandoned-job cleanup alike). Redis's own uptime says so even to a process that slept through
    the outage. Unknown (INFO refused): settled.
    """
    try:
        uptime = float(conn.info("server").get("uptime_in_seconds", 0))
    except redis.ResponseError:
        return True
    settled = uptime >= settings.worker_lease_ttl + 2 * settings.worker_heartbeat
    if not settled:
        log.info("Redis is up for %.0f s only: judging no worker yet", uptime)
    return settled


class Watchdog(threading.Thread):
    """Every WORKER_HEARTBEAT s, one worker compares the task store with rq's jobs (see the module docstring)."""

    def __init__(self, settings: Settings, name: str) -> None:
        super().__init__(name=f"fixbot-watchdog-{name}", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()
        self.blind_until = 0.0  # after Redis was away, heartbeats need time to resume before anyone is judged

    def run(self) -> None:
        """Check every WORKER_HEARTBEAT seconds until stopped."""
        period = self.settings.worker_heartbeat
        while not self.stopped.wait(period):
            started = time.monotonic()
            try:
                self.check()
            except (redis.RedisError, StoreUnavailable) as exc:  # keep watching through a Redis blip
                log.warning("watchdog check failed: %s", exc)
                self.blind_until = time.monotonic() + self.settings.worker_lease_ttl + period
            except Exception as exc:  # noqa: BLE001 - e.g. the checkpoint database is down: heartbeats still count
                log.warning("watchdog check failed: %s", exc)
            took = time.monotonic() - started
            if took > 2 * period + 5:  # blocked, most likely on a Redis that was away
                log.warning("watchdog pass took %.0f s: judging no worker for the next %.0f s", took,
                            self.settings.worker_lease_ttl + period)
                self.blind_until = time.monotonic() + self.settings.worker_lease_ttl + period

    def check(self) -> dict[str, list[str]]:
        """One pass (skipped when another worker holds the lock); returns the ids it acted on, by kind."""
        svc = _service()
        conn = svc.store.conn
        done: dict[str, list[str]] = {"recovered": [], "requeued": [], "forgotten": []}
        lock = svc.store.keys.watchdog_lock()
        if not conn.set(lock, os.getpid(), nx=True, px=max(1000, int(self.settings.worker_heartbeat * 1000))):
            return done
        started = time.monotonic()
        try:
            if time.monotonic() >= self.blind_until and redis_settled(conn, self.settings):
                done["recovered"] = self.check_active(svc, started)
            done["requeued"] = self.check_waiting(svc)
            done["forgotten"] = self.forget_ended(svc)
        finally:
            conn.delete(lock)
        return done

    def check_active(self, svc: TaskService, started: float | None = None) -> list[str]:
        """Running or publishing tasks whose job has no live entry: recover them.

        `started` (monotonic) is when this pass began: a pass that was blocked (most likely on a Redis that
        was away) acts on nothing, since the workers' heartbeats were blocked as well; the watchdog then
        judges nobody for WORKER_LEASE_TTL + WORKER_HEARTBEAT s.
        """
        handled = []
        period = self.settings.worker_heartbeat
        for status in ACTIVE:
            for task_id in svc.store.ids_in(status):
                try:
                    record = svc.store.get(task_id)  # the record first, then rq: a job that claims the task
                except TaskNotFound:  # later has added its entry before it claimed
                    continue
                quiet = time.time() - float(record.get("updated_at") or 0)
                if record["status"] not in ACTIVE or quiet < self.settings.worker_lease_ttl:
                    continue
                if record.get("job_id") in live_jobs(svc.store.conn):
                    continue
                if started is not None and time.monotonic() - started > period + 5:
                    log.warning("watchdog pass blocked for %.0f s: judging no worker for the next %.0f s",
                                time.monotonic() - started, self.settings.worker_lease_ttl + period)
                    self.blind_until = time.monotonic() + self.settings.worker_lease_ttl + period
                    return handled
                why = "the worker running this task stopped responding (killed or crashed)"
                if recover(svc, task_id, str(record.get("job_id")), why=why) is not None:
                    handled.append(task_id)
        return handled

    def check_waiting(self, svc: TaskService) -> list[str]:
        """Queued or approved tasks whose job is missing or ended (and whose retry time came): a new job."""
        handled = []
        conn = svc.store.conn
        for status in WAITING:
            for task_id in svc.store.ids_in(status):
                try:
                    record = svc.store.get(task_id)
                except TaskNotFound:
                    continue
                if record["status"] not in WAITING or float(record.get("retry_at") or 0) > time.time():
                    continue
                if job_pending(conn, record.get("job_id")):
                    continue
                if svc.requeue_waiting(task_id, job=record.get("job_id")) is not None:
                    log.warning("task %s was %s without a job (%s): queued a new one", task_id, record["status"],
                                record.get("job_id"))
                    handled.append(task_id)
        return handled

    def forget_ended(self, svc: TaskService) -> list[str]:
        """Delete the checkpoint threads of tasks that ended more than WORKER_LEASE_TTL s ago and whose job is
        over (agent.retention; never raises)."""
        from agent.retention import sweep_threads

        return sweep_threads(svc, self.settings, grace=self.settings.worker_lease_ttl)


# ---------------------------------------------------------------------- the rq worker
class FixbotWorker(Worker):
    """rq's forking Worker plus the watchdog, a horse that dies with it, and tasks handed back when it must stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        kwargs.setdefault("job_monitoring_interval", max(1, int(settings.worker_heartbeat)))
        kwargs.setdefault("worker_ttl", WORKER_TTL)  # an idle worker that died leaves the registry within ~2 min
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.watchdog: Watchdog | None = None
        self._task: tuple[str, str] | None = None  # (task id, job id) of the job now running
        self._superseded: str | None = None  # the job id whose horse was killed because another job owns its task
        self._hand_back_at: float | None = None  # monotonic time past which a stopping worker gives its task back
        self._handing_back = False

    # liveness -------------------------------------------------------------
    def get_heartbeat_ttl(self, job: Job) -> int:
        """rq's heartbeat TTL with WORKER_LEASE_TTL in place of rq's fixed 60 s: the execution entry of a
        worker that stopped beating expires that long after its last beat."""
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - self.current_job_working_time, interval)
        return int(interval) + math.ceil(self.settings.worker_lease_ttl)

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Any = None) -> None:
        """rq's write of the working time, which its horse monitor makes on every beat: a Redis that is away
        (restarting) must not end the monitor, and with it the worker and its horse (rq/rq#1119). The
        worker's connection retries every command for as long as Redis is away (connect(patient=True));
        should one still fail, the beat is skipped: the next one writes it."""
        try:
            super().set_current_job_working_time(current_job_working_time, pipeline=pipeline)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.current_job_working_time = current_job_working_time
            self.log.warning("Worker %s: working time not written (Redis unreachable: %s)", self.name, exc)

    def clean_registries(self) -> None:
        """rq's registry maintenance, but not right after a Redis restart: it would take every busy job
        (whose entry expired while Redis was away) for abandoned and drop its entry for good."""
        if redis_settled(self.connection, self.settings):
            super().clean_registries()

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Remember which task the horse runs (for the heartbeat checks and a hand back)."""
        task_id = job.args[0] if job.args else None
        self._task = (task_id, job.id) if task_id else None
        self._superseded = None
        try:
            super().execute_job(job, queue)
        finally:
            self._task = None

    def maintain_heartbeats(self, job: Job) -> None:
        """rq's heartbeats; then stop the horse when its task is another job's now, or when the shutdown grace
        ran out."""
        try:
            super().maintain_heartbeats(job)
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # rq/rq#1119: never quit over a lost beat
            self.log.warning("Worker %s: heartbeat not written (Redis unreachable: %s)", self.name, exc)
            return
        if not self._task or not self.horse_pid:
            return
        task_id, job_id = self._task
        if self._hand_back_at is not None and time.monotonic() >= self._hand_back_at and not self._handing_back:
            self.log.warning("Worker %s: task %s cannot finish within WORKER_SHUTDOWN_GRACE: handing it back",
                             self.name, task_id)
            self._handing_back = True
            self.kill_horse()
            return
        try:
            owner, _status = _service().store.owner(task_id)
        except Exception:  # noqa: BLE001 - gone or unreadable: nothing to decide on this beat
            return
        if owner != job_id and self._superseded != job_id:
            self.log.warning("Worker %s: task %s is job %s's now: stopping job %s", self.name, task_id, owner, job_id)
            self._superseded = job_id
            self.kill_horse()

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        """The horse died without finishing (OOM killer, kill -9, or killed by us): hand the task back unless
        it is another job's now."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        task_id = job.args[0] if job.args else None
        if not task_id:
            return
        svc = _service()
        if self._superseded == job.id:
            reap_sandboxes(self.settings, task=task_id)
            return
        if self._handing_back:
            recover(svc, task_id, job.id, why="its worker was shut down", spend=False)
            return
        signame = (signal.Signals(os.WTERMSIG(ret_val)).name if ret_val and os.WIFSIGNALED(ret_val)
                   else f"exit {ret_val}")
        recover(svc, task_id, job.id, why=f"the process running this task was killed ({signame}; out of memory?)")

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
        nothing, and a scheduler outlives a SIGKILLed worker as an orphan."""
        kwargs["with_scheduler"] = False
        return super().work(*args, **kwargs)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """rq's bootstrap, then the checkouts of finished tasks removed, the watchdog thread started, and the
        reaper run once (waited for REAP_WAIT s at most: a slow Docker engine must not keep the worker from
        watching or from taking jobs)."""
        super().bootstrap(*args, **kwargs)
        try:
            cleaned = clean_work_dirs(self.settings)
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops a worker from starting
            self.log.warning("could not clean WORK_DIR: %s", exc)
            cleaned = []
        if cleaned:
            self.log.info("removed %d checkout(s) of finished tasks from WORK_DIR", len(cleaned))
        self.watchdog = Watchdog(self.settings, self.name)
        self.watchdog.start()
        reap_briefly(self.settings)  # leftovers of dead workers; a slow engine finishes it in the background

    def teardown(self) -> None:
        """Stop the watchdog, then rq's teardown."""
        if self.watchdog is not None and not self.is_horse:
            self.watchdog.stopped.set()
        super().teardown()

    def request_stop(self, signum: int, frame: Any) -> None:
        """Warm shutdown (rq's): the running task may finish within WORKER_SHUTDOWN_GRACE s, else it is handed
        back (at the first heartbeat past the grace, so within WORKER_HEARTBEAT s of it; with a grace of 0 at
        once), without spending a retry. A supervisor's own grace (compose's stop_grace_period) must be
        longer than WORKER_SHUTDOWN_GRACE + WORKER_HEARTBEAT + a few seconds, or its SIGKILL comes first and
        the task waits for the watchdog of another worker."""
        super().request_stop(signum, frame)
        if self._task and self._hand_back_at is None:
            self._hand_back_at = time.monotonic() + self.settings.worker_shutdown_grace
            if self.settings.worker_shutdown_grace <= 0 and self.horse_pid and not self._handing_back:
                self.log.warning("Worker %s: WORKER_SHUTDOWN_GRACE is 0: handing task %s back", self.name,
                                 self._task[0])
                self._handing_back = True
                self.kill_horse()

    def request_force_stop(self, signum: int, frame: Any) -> None:
        """Cold shutdown: rq kills the horse; the task goes back to the queue at once (not after the lease)."""
        task = self._task
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:  # the horse is dead now (a repeated signal within 1 s returns without this)
            if task and not self.is_horse:
                with contextlib.suppress(Exception):
                    recover(_service(), task[0], task[1], why="its worker was shut down", spend=False)
            raise


class RepeatFilter(logging.Filter):
    """Lets a log line that starts with `prefix` through at most once per `every` seconds; others pass.

    rq's WorkerPool logs "Waiting for workers to shutdown..." every second of a graceful stop, which lasts
    up to WORKER_SHUTDOWN_GRACE (a minute or more of the same line).
    """

    def __init__(self, prefix: str, every: float = 30.0) -> None:
        super().__init__()
        self.prefix, self.every, self.last = prefix, every, -math.inf

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


def run_worker(settings: Settings, *, queue: str | None = None, pool: int = 1, burst: bool = False,
               logging_level: str = "INFO") -> int:
    """Start one worker (pool=1) or rq's WorkerPool of `pool` workers on the task queue; returns when stopped.

    Before anything starts, Redis, Docker, the sandbox image and the checkpointer are checked: each failure
    is one line (StoreUnavailable, DockerUnavailable, ImageMissing, CheckpointUnavailable / ConfigError)
    instead of a worker that fails every task.
    """
    from agent.checkpoints import check_checkpointer
    from agent.tasks.service import connect
    from agent.tasks.store import reachable
    from sandbox.client import docker_client
    from sandbox.exceptions import ImageMissing
    from sandbox.image import image_exists

    conn = connect(settings)  # fail fast here; the workers' own connections are patient (agent.jobs.service)
    with reachable(conn):
        conn.ping()
    docker = docker_client()  # DockerUnavailable says how to start the engine
    try:
        if not image_exists(settings.sandbox_image, docker):  # else every task would fail on it
            raise ImageMissing.of(settings.sandbox_image)
    finally:
        docker.close()
    asyncio.run(check_checkpointer(settings))
    conn = connect(settings, patient=True)
    name = queue or settings.queue_name
    if pool <= 1:
        worker = FixbotWorker([Queue(name, connection=conn)], connection=conn)
        worker.work(burst=burst, logging_level=logging_level)
        return 0
    from rq.worker_pool import WorkerPool

    logging.getLogger("rq.worker_pool").addFilter(RepeatFilter("Waiting for workers to shutdown"))
    WorkerPool([name], connection=conn, num_workers=pool, worker_class=FixbotWorker).start(
        burst=burst, logging_level=logging_level)
    return 0
