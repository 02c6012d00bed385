"""`Sandbox`: one hardened container per task, reused for many runs, on size-capped volumes."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from sandbox.archive import extract_tar, safe_relpath, tar_directory, tar_files
from sandbox.client import docker_client
from sandbox.config import SandboxConfig
from sandbox.container import TOOLS, TOOLS_SIZE, WORKSPACE, create_volume, remove_quietly, start_container
from sandbox.exceptions import ContainerStartError, SandboxError, SandboxTimeout
from sandbox.output import CappedOutput

GRACE = 15.0  # seconds the host waits beyond the in-container timeout before killing the container
# PID 1 reaps orphans (so killed leftovers never pile up as zombies against the pids limit) and,
# unlike an init that runs `sleep` as a child, survives `kill -9 -1` used to clean up after a timeout.
REAPER = (
    "import os, time\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        time.sleep(1)\n"
)
_OOM = re.compile(r"oom_kill (\d+)")
# Kill everything but PID 1 until nothing is left (a fork bomb respawns while being killed).
CLEANER = (
    "import os, time\n"
    "me = os.getpid()\n"
    "end = time.monotonic() + 3\n"
    "while time.monotonic() < end:\n"
    "    try:\n"
    "        os.kill(-1, 9)\n"
    "    except ProcessLookupError:\n"
    "        pass\n"
    "    left = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me)]\n"
    "    if not left:\n"
    "        raise SystemExit(0)\n"
    "    time.sleep(0.05)\n"
    "raise SystemExit(1)\n"
)


@dataclass(frozen=True)
class ExecResult:
    """What one command in the sandbox did."""

    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: int = 0
    container_replaced: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


class Sandbox:
    """A task's sandbox: `create`, copy a workspace in, `exec` many times, read back, `destroy`."""

    workspace = WORKSPACE
    tools = TOOLS

    def __init__(self, client: Any, task_id: str, config: SandboxConfig) -> None:
        self.client = client
        self.task_id = task_id
        self.config = config
        self.uid, _, gid = config.user.partition(":")
        self.gid = gid or self.uid
        suffix = uuid.uuid4().hex[:8]
        self.name = f"fixbot-{_slug(task_id)}-{suffix}"
        self.volumes: dict[str, str] = {}
        self._volume_objs: list[Any] = []
        self.container: Any = None
        self.holder: Any = None
        self._oom_seen = 0
        self._lock = threading.Lock()

    @classmethod
    def create(cls, task_id: str, config: SandboxConfig | None = None, *, client: Any = None) -> Sandbox:
        """Start the task's container with its workspace and tools volumes."""
        config = config or SandboxConfig()
        box = cls(client or docker_client(), task_id, config)
        try:
            for path, size, tag in ((WORKSPACE, config.workspace_size, "ws"), (TOOLS, TOOLS_SIZE, "tools")):
                vol = create_volume(box.client, f"{box.name}-{tag}", size, task_id, config)
                box._volume_objs.append(vol)
                box.volumes[vol.name] = path
            # tmpfs-backed volumes lose their content when no running container mounts them: a tiny
            # idle holder keeps the workspace alive while the work container is killed and replaced.
            holder_cfg = replace(config, memory="32m", cpus=0.05, pids=8)
            box.holder = start_container(box.client, f"{box.name}-hold", task_id, holder_cfg, box.volumes,
                                         command=["sleep", "infinity"])
            box._start()
        except BaseException:
            box.destroy()
            raise
        return box

    def _start(self) -> None:
        self.container = start_container(self.client, f"{self.name}-{uuid.uuid4().hex[:4]}", self.task_id,
                                         self.config, self.volumes, command=["python3", "-c", REAPER])
        self._oom_seen = 0

    def replace_container(self) -> None:
        """Kill the container and start a fresh one on the same volumes (the workspace survives)."""
        if self.container is not None:
            remove_quietly(self.container)
        self._start()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ------------------------------------------------------------------ files
    def put_workspace(self, src: Path, *, exclude: Sequence[str] = (".git",)) -> None:
        """Copy a host directory into /workspace, files owned by the sandbox user."""
        data = tar_directory(Path(src), uid=int(self.uid), gid=int(self.gid), exclude=exclude)
        self._put(WORKSPACE, data)

    def put_files(self, files: Mapping[str, bytes | str], *, base: str = WORKSPACE) -> None:
        """Write or overwrite a few files under base (relative paths only)."""
        self._put(base, tar_files(files, uid=int(self.uid), gid=int(self.gid)))

    def _put(self, base: str, data: bytes) -> None:
        try:
            if not self.container.put_archive(base, data):
                raise SandboxError(f"could not copy files into the sandbox at {base}")
        except APIError as exc:
            raise SandboxError(f"could not copy files into the sandbox: {exc.explanation or exc}") from None

    def read_file(self, path: str, *, base: str = WORKSPACE) -> bytes:
        """The bytes of one file in the sandbox."""
        rel = safe_relpath(path)
        try:
            stream, _stat = self.container.get_archive(f"{base}/{rel}")
        except NotFound:
            raise SandboxError(f"no file {rel!r} in the sandbox") from None
        import io
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(b"".join(stream)), mode="r:") as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise SandboxError(f"{rel!r} is not a regular file")
            handle = tar.extractfile(member)
            return handle.read() if handle else b""

    def get_workspace(self, dest: Path) -> list[str]:
        """Copy /workspace out to dest, refusing any entry that would escape it."""
        stream, _stat = self.container.get_archive(WORKSPACE)
        return extract_tar(stream, Path(dest), strip=WORKSPACE.strip("/"))

    # ------------------------------------------------------------------ runs
    def exec(self, cmd: Sequence[str] | str, *, timeout: float | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        """Run a command (a string goes to `sh -c` inside the container) with a hard time limit."""
        with self._lock:
            return self._exec(cmd, timeout or self.config.timeout, workdir, env, retry=True)

    def _exec(self, cmd: Sequence[str] | str, timeout: float, workdir: str | None,
              env: Mapping[str, str] | None, *, retry: bool) -> ExecResult:
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        # Runs are first in line for the OOM killer, so a memory hog never takes PID 1 (the container) down.
        wrapped = ["sh", "-c", 'echo 1000 > /proc/self/oom_score_adj 2>/dev/null; exec "$@"', "sh",
                   "timeout", "-k", "2", f"{timeout:.3f}", *argv]
        api = self.client.api
        started = time.monotonic()
        out, err = CappedOutput(self.config.output_cap // 2), CappedOutput(self.config.output_cap // 2)
        guard_fired = threading.Event()

        def guard() -> None:
            guard_fired.set()
            remove_quietly(self.container)

        timer = threading.Timer(timeout + GRACE, guard)
        timer.daemon = True
        try:
            exec_id = api.exec_create(self.container.id, wrapped, workdir=workdir or WORKSPACE,
                                      environment=dict(env or {}), user=self.config.user)["Id"]
            timer.start()
            for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
                if chunk_out:
                    out.write(chunk_out)
                if chunk_err:
                    err.write(chunk_err)
            code = api.exec_inspect(exec_id).get("ExitCode")
        except (APIError, DockerException) as exc:
            code = None
            if not guard_fired.is_set():
                timer.cancel()
                if retry:  # the container cannot start a process (e.g. pids exhausted): replace it, try once more
                    self.replace_container()
                    again = self._exec(cmd, timeout, workdir, env, retry=False)
                    return ExecResult(**{**again.to_dict(), "container_replaced": True})
                raise ContainerStartError(f"the sandbox could not run the command: {exc}") from None
        finally:
            timer.cancel()
        duration = time.monotonic() - started
        if guard_fired.is_set():
            self._start()
            return self._result(None, out, err, duration, timed_out=True, replaced=True)
        if (code is None or code in (126, 127, 255, -1)) and not self._alive():
            if retry:
                self.replace_container()
                again = self._exec(cmd, timeout, workdir, env, retry=False)
                return ExecResult(**{**again.to_dict(), "container_replaced": True})
        timed_out = code == 124 or (code == 137 and duration >= timeout - 0.05)
        oom = False
        replaced = False
        if code == 137 and not timed_out:
            oom = self._oom_happened()
        if timed_out or oom:
            replaced = self._clean_up()
        return self._result(code, out, err, duration, timed_out=timed_out, oom=oom, replaced=replaced)

    def _result(self, code: int | None, out: CappedOutput, err: CappedOutput, duration: float, *,
                timed_out: bool = False, oom: bool = False, replaced: bool = False) -> ExecResult:
        return ExecResult(code, out.text(), err.text(), round(duration, 4), timed_out, oom, out.cut + err.cut,
                          replaced)

    def _alive(self) -> bool:
        try:
            self.container.reload()
        except (APIError, DockerException):
            return False
        return bool(self.container.status == "running")

    def _oom_happened(self) -> bool:
        probe = ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"]
        try:
            res = self.container.exec_run(probe, user=self.config.user)
        except (APIError, DockerException):
            return True
        counts = [int(n) for n in _OOM.findall(res.output.decode("utf-8", "replace"))]
        current = max(counts, default=0)
        happened = current > self._oom_seen
        self._oom_seen = current
        return happened

    def _clean_up(self) -> bool:
        """Kill what a timed-out or killed run left behind; replace the container if that fails."""
        try:
            res = self.container.exec_run(["python3", "-c", CLEANER], user=self.config.user)
            if res.exit_code == 0:
                return False
        except (APIError, DockerException):
            pass
        self.replace_container()
        return True

    def run_setup(self, cmd: str, *, timeout: float | None = None) -> ExecResult:
        """The optional setup phase in a short-lived container on the same volumes (network by config)."""
        limit = timeout or self.config.timeout
        started = time.monotonic()
        setup = start_container(self.client, f"{self.name}-setup-{uuid.uuid4().hex[:4]}", self.task_id,
                                self.config, self.volumes, network=self.config.setup_network,
                                command=["timeout", "-k", "2", f"{limit:.3f}", "sh", "-c", cmd])
        try:
            try:
                status = setup.wait(timeout=limit + GRACE)
                code: int | None = int(status.get("StatusCode", -1))
            except Exception:  # noqa: BLE001 - the wait itself timed out
                code = None
            out, err = CappedOutput(self.config.output_cap // 2), CappedOutput(self.config.output_cap // 2)
            out.write(setup.logs(stdout=True, stderr=False))
            err.write(setup.logs(stdout=False, stderr=True))
            duration = time.monotonic() - started
            timed_out = code is None or code == 124
            return self._result(code, out, err, duration, timed_out=timed_out)
        finally:
            remove_quietly(setup)

    def destroy(self) -> None:
        """Remove the container and volumes; safe to call twice."""
        for attr in ("container", "holder"):
            if getattr(self, attr) is not None:
                remove_quietly(getattr(self, attr))
                setattr(self, attr, None)
        for vol in self._volume_objs:
            for _ in range(20):  # the engine may still hold the mount for a moment after removal
                try:
                    remove_quietly(vol)
                    break
                except APIError:
                    time.sleep(0.1)
        self._volume_objs = []


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text)[:40] or "task"


def run_once(command: Sequence[str] | str, config: SandboxConfig, *, workspace: Path | None = None,
             timeout: float | None = None, task_id: str | None = None) -> ExecResult:
    """A fresh sandbox for one command, removed afterwards whatever happens."""
    box = Sandbox.create(task_id or f"run-{uuid.uuid4().hex[:8]}", config)
    try:
        if workspace is not None:
            box.put_workspace(workspace)
        return box.exec(command, timeout=timeout)
    finally:
        box.destroy()


__all__ = ["ExecResult", "Sandbox", "SandboxTimeout", "run_once"]
