"""Runs in a real hardened container: exit codes, timeouts, fork bombs, OOM, disk, output, network, env."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from sandbox import ExecResult, Sandbox
from sandbox.container import BASE_ENV

pytestmark = pytest.mark.docker

PASSING = {
    "conftest.py": "",
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}
FAILING = {**PASSING, "calc.py": "def add(a, b):\n    return a - b\n"}
PERSISTENT_BOMB = (  # in its own session, so only the cleanup (or a new container) can stop it
    "import os\nos.setsid()\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)


def test_passing_pytest_project(box: Sandbox) -> None:
    box.put_files(PASSING)
    res = box.exec("python3 -m pytest -q -p no:cacheprovider")
    assert res.exit_code == 0 and res.ok, res
    assert "1 passed" in res.stdout
    assert not (res.timed_out or res.oom_killed or res.container_replaced)


def test_failing_pytest_project(box: Sandbox) -> None:
    box.put_files(FAILING)
    res = box.exec(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    assert res.exit_code == 1 and not res.ok
    assert "1 failed" in res.stdout and "assert -1 == 5" in res.stdout


def test_result_is_json_able(box: Sandbox) -> None:
    import json

    res = box.exec("echo out; echo err >&2; exit 3")
    data = json.loads(json.dumps(res.to_dict()))
    assert data["exit_code"] == 3 and data["stdout"] == "out\n" and data["stderr"] == "err\n"
    assert ExecResult(**data) == res


def test_string_runs_under_sh_in_the_container_not_on_the_host(box: Sandbox) -> None:
    res = box.exec("echo $HOME $(id -u) > /workspace/who.txt; cat /workspace/who.txt; hostname")
    assert res.stdout.splitlines()[0] == "/home/fixbot 1000"
    assert res.stdout.splitlines()[1] != os.uname().nodename


def test_workdir_and_env(box: Sandbox) -> None:
    res = box.exec("pwd; echo $EXTRA", workdir="/fixbot", env={"EXTRA": "x1"})
    assert res.stdout == "/fixbot\nx1\n"


def test_infinite_loop_times_out_and_the_container_stays_usable(box: Sandbox) -> None:
    started = time.monotonic()
    res = box.exec("while :; do :; done", timeout=1)
    assert res.timed_out and not res.ok and res.exit_code == 137
    assert time.monotonic() - started < 6
    assert not res.container_replaced
    again = box.exec("echo alive")
    assert again.ok and again.stdout == "alive\n"


def test_host_guard_kills_a_run_whose_in_container_timeout_was_disabled(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("guard")
    box.put_files({"keep.txt": "kept"})
    # the run stops its own `timeout` process, so only the host-side guard can end it
    started = time.monotonic()
    res = box.exec("kill -STOP $PPID; sleep 60", timeout=1)
    assert res.exit_code is None and res.timed_out and res.container_replaced
    assert time.monotonic() - started < 1 + box.config.guard_grace + 5
    assert box.read_file("keep.txt") == b"kept", "the workspace survives a replaced container"
    assert box.exec("echo alive").stdout == "alive\n"


def test_fork_bomb_is_contained(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("bomb", cpus=0.5)
    box.put_files({"keep.txt": "kept"})
    started = time.monotonic()
    res = box.exec(["python3", "-c", PERSISTENT_BOMB], timeout=2)
    assert res.timed_out and not res.ok
    assert time.monotonic() - started < 15
    assert subprocess.run(["true"], timeout=5).returncode == 0, "the host can still start processes"
    after = box.exec("echo alive; cat keep.txt; echo; ls /proc | grep -c '^[0-9]'")
    assert after.ok and after.stdout.startswith("alive\nkept\n")
    assert int(after.stdout.split()[-1]) < 10, "no bomb process survives"


def test_an_escaped_fork_bomb_is_swept_when_the_run_ends(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("escaped", cpus=0.5)
    box.put_files({"keep.txt": "kept"})
    # a bomb escaping into its own session would outlive a run that exits normally and hold every pid
    hold = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.005)\n"
    quoted = hold.replace("'", "'\\''")
    left = box.exec(f"setsid python3 -c '{quoted}' >/dev/null 2>&1 & sleep 1; echo started", timeout=10)
    assert left.stdout == "started\n" and left.exit_code == 0
    res = box.exec("cat keep.txt")
    assert res.ok and res.stdout == "kept" and not res.container_replaced


def test_exec_that_cannot_start_replaces_the_container(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("nostart")
    box.put_files({"keep.txt": "kept"})
    box.container.pause()  # the engine refuses to exec into it, as it does when no process can start
    res = box.exec("cat keep.txt")
    assert res.container_replaced and res.ok and res.stdout == "kept"


def test_memory_hog_is_oom_killed(box: Sandbox) -> None:
    res = box.exec(["python3", "-c", "b = bytearray(1024 * 1024 * 1024)"], timeout=20)
    assert res.oom_killed and res.exit_code == 137 and not res.timed_out
    ordinary = box.exec(["sh", "-c", "exit 137"])
    assert ordinary.exit_code == 137 and not ordinary.oom_killed, "OOM is told from the cgroup counter"
    assert box.exec("echo alive").ok


FILL = """
import errno, sys
path, n = sys.argv[1], 0
try:
    for i in range(1000):
        with open(f"{path}/fill{i}", "wb") as fh:
            for _ in range(64):
                fh.write(b"x" * 65536)
                n += 65536
except OSError as exc:
    print(errno.errorcode[exc.errno], n)
    sys.exit(0)
print("NOERROR", n)
"""


@pytest.mark.parametrize("where, cap_mb", [("/workspace", 32), ("/tmp", 16), ("/fixbot", 8)])
def test_disk_fill_hits_the_size_cap_not_the_host_disk(box: Sandbox, where: str, cap_mb: int) -> None:
    free_before = shutil.disk_usage("/").free
    res = box.exec(["python3", "-c", FILL, where], timeout=30)
    code, written = res.stdout.split()
    assert code in ("ENOSPC", "EFBIG", "EDQUOT"), res
    assert int(written) <= cap_mb * 1024 * 1024
    assert free_before - shutil.disk_usage("/").free < cap_mb * 1024 * 1024 // 2, "host disk untouched"
    box.exec(f"rm -f {where}/fill*")


def test_file_size_limit(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("fsize", fsize=1024 * 1024)
    res = box.exec(["python3", "-c", FILL, "/workspace"])
    assert res.stdout.split()[0] == "EFBIG"


def test_output_flood_is_capped_quickly(box: Sandbox) -> None:
    started = time.monotonic()
    res = box.exec("head -c 50000000 /dev/zero | tr '\\0' a; echo END", timeout=30)
    assert time.monotonic() - started < 15
    assert res.ok and res.truncated >= 50_000_000 - box.config.output_cap
    assert "bytes cut ...]\n" in res.stdout and res.stdout.endswith("END\n")
    assert len(res.stdout) + len(res.stderr) < box.config.output_cap + 100


def test_network_is_off(box: Sandbox) -> None:
    probe = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('CONNECTED')\n"
             "except OSError as exc:\n    print('BLOCKED', exc.errno)\n")
    res = box.exec(["python3", "-c", probe])
    assert res.stdout.startswith("BLOCKED"), res
    ifaces = box.exec("cat /proc/net/dev").stdout
    assert "lo:" in ifaces and "eth0" not in ifaces


@pytest.mark.parametrize("target", ["/etc/evil", "/usr/evil", "/evil", "/usr/lib/python3/dist-packages/evil.py"])
def test_writes_outside_the_volumes_fail(box: Sandbox, target: str) -> None:
    res = box.exec(f"echo x > {target}")
    assert res.exit_code != 0
    assert "Read-only file system" in res.stderr or "Permission denied" in res.stderr


def test_runs_unprivileged(box: Sandbox) -> None:
    res = box.exec("id -u; id -g; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    uid, gid, cap, nnp = res.stdout.split("\n")[:4]
    assert (uid, gid) == ("1000", "1000")
    assert cap.split()[1] == "0000000000000000" and nnp.split()[1] == "1"


def test_host_environment_never_reaches_the_container(make_box: Callable[..., Sandbox],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXBOT_FAKE_SECRET", "sk-test-do-not-leak-123")
    box = make_box("env")
    res = box.exec("env")
    assert "sk-test-do-not-leak-123" not in res.stdout and "FIXBOT_FAKE_SECRET" not in res.stdout
    names = {line.split("=", 1)[0] for line in res.stdout.splitlines()}
    assert names <= set(BASE_ENV) | {"PIP_FIND_LINKS", "PIP_NO_INDEX", "HOSTNAME", "PWD", "SHLVL", "_"}, names


def test_limits_are_applied(box: Sandbox) -> None:
    host = box.container.attrs["HostConfig"]
    cfg = box.config
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] and host["Init"]
    assert host["Memory"] == host["MemorySwap"] == 192 * 1024 * 1024
    assert host["NanoCpus"] == int(cfg.cpus * 1e9) and host["PidsLimit"] == cfg.pids
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert {u["Name"] for u in host["Ulimits"]} == {"nofile", "fsize"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "1", "max-size": cfg.log_max_size}}
    assert box.container.attrs["Config"]["User"] == cfg.user


def test_setup_phase_runs_in_its_own_container_on_the_same_volumes(box: Sandbox) -> None:
    res = box.run_setup("echo prepared > /workspace/setup.txt; cat /proc/net/dev", timeout=20)
    assert res.ok and "eth0" not in res.stdout, "no network unless SANDBOX_SETUP_NETWORK"
    assert box.read_file("setup.txt") == b"prepared\n"
    assert box.run_setup("sleep 30", timeout=1).timed_out


def test_processes_left_running_after_a_normal_exit_are_killed(box: Sandbox) -> None:
    """A test that starts a daemon and never stops it must not leave it eating the next run's pids and CPU."""
    started = box.exec("sh -c 'while :; do :; done' >/dev/null 2>&1 & sleep 300 >/dev/null 2>&1 & echo started",
                       timeout=20)
    assert started.exit_code == 0 and started.stdout.strip() == "started" and not started.timed_out
    listing = box.exec("for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done", timeout=20)
    assert listing.exit_code == 0 and "sleep infinity" in listing.stdout  # the container's idle process stays
    assert "sleep 300" not in listing.stdout and "while :" not in listing.stdout, listing.stdout
    assert box.exec("exit 3", timeout=20).exit_code == 3  # the command's own exit code survives the sweep
