"""`Sandbox`: one hardened container per task, reused for many runs, on size-capped volumes."""

from __future__ import annotations

import re
import signal
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from sandbox.archive import extract_tar, safe_relpath, spool, tar_directory, tar_files
from sandbox.client import docker_client
from sandbox.config import SandboxConfig, size_bytes
from sandbox.container import HOME, TOOLS, WORKSPACE, create_volume, parse_user, remove_quietly, start_container
from sandbox.exceptions import ContainerStartError, SandboxError
from sandbox.execution import RawRun, stream_exec
from sandbox.output import CappedOutput
from sandbox.procs import CLEANER_ARGV, OOM_PROBE_ARGV, oom_kills, wrap
from sandbox.result import ExecResult

CLEANUP_LIMIT = 3.0  # seconds the leftover cleanup may take before the container is replaced instead


class Sandbox:
    """A task's sandbox: `create`, copy a workspace in, `exec` many times, read back, `destroy`.

    Three tmpfs-backed volumes hold the workspace, our tools and the sandbox user's home (where the
    setup command's `pip install` puts packages, in ~/.local). A tiny idle "holder" container keeps
    them mounted (a tmpfs volume loses its content when no running container mounts it), so the work
    container can be killed and replaced after a fork bomb or a host-side timeout without losing files.
    """

    workspace = WORKSPACE
    tools = TOOLS

    def __init__(self, client: Any, task_id: str, config: SandboxConfig) -> None:
        self.client = client
        self.task_id = task_id
        self.config = config
        self.uid, self.gid = parse_user(config.user)
        self.name = f"fixbot-{_slug(task_id)}-{uuid.uuid4().hex[:8]}"
        self.volumes: dict[str, str] = {}
        self._volume_objs: list[Any] = []
        self.container: Any = None
        self.holder: Any = None
        self._oom_seen = 0
        self._lock = threading.RLock()

    @classmethod
    def create(cls, task_id: str, config: SandboxConfig | None = None, *, client: Any = None) -> Sandbox:
        """Start the task's container with its workspace and tools volumes."""
        config = config or SandboxConfig()
        box = cls(client or docker_client(), task_id, config)
        try:
            for path, size, tag in ((WORKSPACE, config.workspace_size, "ws"), (TOOLS, config.tools_size, "tools"),
                                    (HOME, config.home_size, "home")):
                vol = create_volume(box.client, f"{box.name}-{tag}", size, task_id, config)
                box._volume_objs.append(vol)
                box.volumes[vol.name] = path
            holder_cfg = replace(config, memory="16m", cpus=0.05, pids=8)
            with ThreadPoolExecutor(max_workers=1) as pool:  # both starts in parallel: ~0.3 s saved per create
                holder = pool.submit(start_container, box.client, f"{box.name}-hold", task_id, holder_cfg,
                                     box.volumes)
                try:
                    box._start()
                finally:
                    box.holder = holder.result()
        except BaseException:
            without_sigint(box.destroy)  # a second Ctrl-C must not leave half of it behind
            raise
        return box

    def _start(self) -> None:
        self.container = start_container(self.client, f"{self.name}-{uuid.uuid4().hex[:4]}", self.task_id,
                                         self.config, self.volumes)
        self._oom_seen = 0

    def replace_container(self) -> None:
        """Kill the work container and start a fresh one on the same volumes (the workspace survives)."""
        with self._lock:
            if self.container is not None:
                remove_quietly(self.container)
            self._start()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ------------------------------------------------------------------ files
    def put_workspace(self, src: Path, *, exclude: Sequence[str] = (".git",)) -> None:
        """Copy a host directory into /workspace, files owned by the sandbox user.

        Symlinks are kept only when they stay inside the tree; `exclude` names are skipped at any depth.
        A tree larger than the workspace volume (hard-linked content once) or with more entries than
        config.workspace_max_entries raises TreeTooLarge before anything is copied.
        """
        src = Path(src)
        if not src.is_dir():
            raise SandboxError(f"no directory {src} to copy into the sandbox")
        limit = size_bytes(self.config.workspace_size)
        with tar_directory(src, uid=self.uid, gid=self.gid, exclude=exclude, max_bytes=limit,
                           max_entries=self.config.workspace_max_entries) as data:
            self._put(WORKSPACE, data)

    def put_files(self, files: Mapping[str, bytes | str], *, base: str = WORKSPACE) -> None:
        """Write or overwrite a few files under base (relative paths only; base is a sandbox volume)."""
        with tar_files(files, uid=self.uid, gid=self.gid) as data:
            self._put(_volume_path(base), data)

    def _put(self, base: str, data: Any) -> None:
        try:
            if not self.container.put_archive(base, data):
                raise SandboxError(f"could not copy files into the sandbox at {base}")
        except APIError as exc:
            raise SandboxError(f"could not copy files into the sandbox: {exc.explanation or exc}") from None

    def read_file(self, path: str, *, base: str = WORKSPACE, max_bytes: int | None = None) -> bytes:
        """The bytes of one regular file in the sandbox (relative to base).

        Raises SandboxError when the path is missing, not a regular file (a link, a folder) or, with
        `max_bytes`, larger than that; nothing larger is ever read into memory.
        """
        rel = safe_relpath(path)
        try:
            stream, stat = self.container.get_archive(f"{_volume_path(base)}/{rel}")
        except NotFound:
            raise SandboxError(f"no file {rel!r} in the sandbox") from None
        except APIError as exc:
            raise SandboxError(f"could not read {rel!r} from the sandbox: {exc.explanation or exc}") from None
        if max_bytes is not None and int((stat or {}).get("size") or 0) > max_bytes:
            stream.close()
            raise SandboxError(f"{rel!r} in the sandbox is larger than {max_bytes} bytes")
        with spool(stream) as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise SandboxError(f"{rel!r} in the sandbox is not a regular file")
            if max_bytes is not None and member.size > max_bytes:
                raise SandboxError(f"{rel!r} in the sandbox is larger than {max_bytes} bytes")
            handle = tar.extractfile(member)
            return handle.read() if handle else b""

    def get_workspace(self, dest: Path) -> list[str]:
        """Copy /workspace out to dest; entries that would escape it (or devices) raise UnsafeArchive.

        Returns the relative names extracted.
        """
        try:
            stream, _stat = self.container.get_archive(WORKSPACE)
        except APIError as exc:
            raise SandboxError(f"could not copy the workspace out: {exc.explanation or exc}") from None
        with spool(stream) as fh:
            return extract_tar(fh, Path(dest), strip=WORKSPACE.strip("/"))

    # ------------------------------------------------------------------ runs
    def exec(self, cmd: Sequence[str] | str, *, timeout: float | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        """Run a command in the warm container with a hard time limit and capped output.

        A string runs under `sh -c` inside the container, never on the host. After a timeout or an
        OOM kill, leftover processes are killed; if the container cannot start a process at all (e.g.
        a fork bomb holds every pid) it is replaced, keeping the volumes, and the run is retried once.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(part) for part in cmd]
        if not argv:
            raise SandboxError("empty command")
        limit = float(timeout if timeout is not None else self.config.timeout)
        if limit <= 0:
            raise SandboxError(f"timeout must be positive, got {limit}")
        with self._lock:
            raw = self._run(argv, limit, workdir, env)
            replaced = False
            if raw.start_failed:
                self.replace_container()
                raw, replaced = self._run(argv, limit, workdir, env), True
                if raw.start_failed:
                    raise ContainerStartError(f"the sandbox could not start the command: {raw.error or 'exit 126'}")
            if raw.guard_fired:
                self._start()
                return _result(raw, None, timed_out=True, replaced=True)
            code = raw.exit_code
            # GNU timeout SIGKILLs its own process group when time is up, so a timeout shows as 137.
            timed_out = code in (124, 137) and raw.duration >= limit
            if timed_out:  # first, so the probe below never competes with a fork bomb's leftovers
                replaced = self._clean_up() or replaced
            oom = code == 137 and not replaced and self._oom_happened()
            if oom and not timed_out:
                replaced = self._clean_up() or replaced
            return _result(raw, code, timed_out=timed_out, oom=oom, replaced=replaced)

    def _run(self, argv: list[str], limit: float, workdir: str | None, env: Mapping[str, str] | None) -> RawRun:
        container = self.container
        return stream_exec(self.client.api, container.id, wrap(argv, limit), user=self.config.user,
                           workdir=workdir or WORKSPACE, env=env, cap=self.config.output_cap,
                           guard_after=limit + self.config.guard_grace,
                           on_guard=lambda: remove_quietly(container))

    def _oom_happened(self) -> bool:
        try:
            res = self.container.exec_run(OOM_PROBE_ARGV, user=self.config.user)
        except (APIError, DockerException):
            return False
        current = oom_kills(res.output)
        happened = current > self._oom_seen
        self._oom_seen = current
        return happened

    def _clean_up(self) -> bool:
        """Kill what a timed-out or OOM-killed run left behind; replace the container if that fails.

        Returns True when the container was replaced. Bounded by CLEANUP_LIMIT: under a fork bomb
        that pins the CPU quota even starting a process takes long, and a fresh container is quicker.
        """
        container = self.container
        raw = stream_exec(self.client.api, container.id, CLEANER_ARGV, user=self.config.user, workdir="/tmp",
                          env=None, cap=1024, guard_after=CLEANUP_LIMIT, on_guard=lambda: remove_quietly(container))
        if raw.exit_code == 0 and not raw.guard_fired:
            return False
        self.replace_container()
        return True

    def run_setup(self, cmd: str, *, timeout: float | None = None) -> ExecResult:
        """The optional setup phase (e.g. `pip install -e .`) in a short-lived container on the same volumes.

        It runs under bash in the repository root, as in a terminal, and gets a network only when
        config.setup_network is set (pip then uses config.pip_index_url, else PyPI; without one pip
        installs from config.wheelhouse and the image's own wheels). Every other limit is the same.
        What it installs with pip lands in the home volume's user site and stays for every test run.
        """
        limit = float(timeout if timeout is not None else self.config.timeout)
        started = time.monotonic()
        setup = start_container(self.client, f"{self.name}-setup-{uuid.uuid4().hex[:4]}", self.task_id,
                                self.config, self.volumes, network=self.config.setup_network,
                                command=["timeout", "-s", "KILL", f"{limit:.3f}", "bash", "-c", cmd],
                                workdir=WORKSPACE)
        try:
            code: int | None
            try:
                code = int(setup.wait(timeout=limit + self.config.guard_grace).get("StatusCode", -1))
            except Exception:  # noqa: BLE001 - requests' read timeout: the host-side guard
                code = None
            duration = time.monotonic() - started
            raw = RawRun(code, *_capped_logs(setup, self.config.output_cap), duration)
            timed_out = code is None or (code == 137 and duration >= limit)
            return _result(raw, code, timed_out=timed_out)
        finally:
            remove_quietly(setup)

    def destroy(self) -> None:
        """Remove the containers and volumes; safe to call twice."""
        with self._lock:
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


def without_sigint(fn: Callable[[], None]) -> None:
    """Run fn with Ctrl-C deferred (main thread only), so a second Ctrl-C cannot leak a half-removed sandbox."""
    if threading.current_thread() is not threading.main_thread():
        fn()
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        fn()
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def _capped_logs(container: Any, cap: int) -> tuple[CappedOutput, CappedOutput]:
    out, err = CappedOutput(cap // 2), CappedOutput(cap - cap // 2)
    for chunk in container.logs(stdout=True, stderr=False, stream=True):
        out.write(chunk)
    for chunk in container.logs(stdout=False, stderr=True, stream=True):
        err.write(chunk)
    return out, err


def _result(raw: RawRun, code: int | None, *, timed_out: bool = False, oom: bool = False,
            replaced: bool = False) -> ExecResult:
    return ExecResult(code, raw.out.text(), raw.err.text(), round(raw.duration, 4), timed_out, oom,
                      raw.out.cut + raw.err.cut, replaced)


def _volume_path(base: str) -> str:
    """base if it is one of the sandbox's volumes (or inside one); files cannot be copied elsewhere."""
    norm = "/" + "/".join(p for p in base.split("/") if p and p != ".")
    if ".." in norm.split("/") or not any(norm == v or norm.startswith(v + "/") for v in (WORKSPACE, TOOLS)):
        raise SandboxError(f"files can only be copied under {WORKSPACE} or {TOOLS}, not {base!r}")
    return norm


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text)[:40] or "task"


__all__ = ["ExecResult", "Sandbox"]
