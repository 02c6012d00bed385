"""A git remote on loopback for trying the bot without a forge: `git daemon` serving bare repositories.

The Slack face takes repositories by URL only (chatbot.slack.validation), so a local trial (tests,
the bench) publishes a folder, e.g. examples/calculate_total, as a bare repository
and hands the bot `git://127.0.0.1:<port>/<name>.git`. The daemon is read-only (no receive-pack),
serves only its own base directory, and listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0"}


class GitServer:
    """Bare repositories under `base`, served by `git daemon` once `start()` is called."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def publish(self, folder: Path, name: str) -> Path:
        """Commit the files of `folder` (a plain folder, not a repository) as `<base>/<name>.git`; returns its path."""
        env = {**os.environ, **_GIT_ENV}
        bare = self.base / f"{name}.git"
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / name
            shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache"))
            for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                         ["-c", "user.name=fixbot", "-c", "user.email=fixbot@localhost", "commit", "-q", "-m",
                          f"{name}: as published for a local trial"]):
                subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True, timeout=60)
            self.base.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "clone", "-q", "--bare", "--", str(work), str(bare)], env=env, check=True,
                           capture_output=True, timeout=60)
        return bare

    def start(self, timeout: float = 10.0) -> str:
        """Run `git daemon` on a free loopback port; returns the base URL (git://127.0.0.1:<port>/)."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={self.port}", f"--base-path={self.base}",
             "--export-all", "--informative-errors", str(self.base)],
            env={**os.environ, **_GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self.url
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"git daemon did not listen on 127.0.0.1:{self.port}")

    @property
    def url(self) -> str:
        """The base URL of the served repositories."""
        return f"git://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        """Stop the daemon (and the processes it forked for clones)."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, 15)
            self._proc.wait(timeout=10)
        self._proc = None
