"""Small programs run inside the container as the sandbox user: cleanup after a run, the OOM counter."""

from __future__ import annotations

import re

# Freeze every process with one kill(-1, SIGSTOP) (atomic against fork, so a fork bomb cannot outrun
# it), SIGKILL all but PID 1 (docker-init), this shell and the idle `sleep infinity` (the first child
# of PID 1; orphans are appended after it), then wake the sleeper. `kill -9 -1` alone would kill the
# sleeper too, and the container would stop with it. Plain sh with builtins only: it must start and
# finish while a fork bomb competes for the CPU and the pids.
_KILL_LEFTOVERS = r"""
i=0
left=1
while [ -n "$idle" ] && [ $i -lt 200 ]; do
  kill -s STOP -1 2>/dev/null
  left=0
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case $p in 1|$$|$idle) continue;; esac
    { read -r stat < "$d/stat"; } 2>/dev/null || continue
    case $stat in *") Z "*) continue;; esac
    kill -s KILL "$p" 2>/dev/null && left=1
  done
  kill -s CONT "$idle" 2>/dev/null
  [ $left = 0 ] && break
  i=$((i + 1))
done
"""
_IDLE = "read -r idle _ < /proc/1/task/1/children\n"  # the file has no final newline: read "fails" yet sets idle

# Exit 0 when nothing is left, 1 when processes survived 200 rounds, 3 when the idle process is missing.
CLEANER = _IDLE + '[ -n "$idle" ] || exit 3\n' + _KILL_LEFTOVERS + "[ $left = 0 ] || exit 1\nexit 0\n"

CLEANER_ARGV = ["sh", "-c", CLEANER]

# cgroup v1 exposes "oom_kill N" in memory.oom_control; cgroup v2 in memory.events.
OOM_PROBE_ARGV = ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"]
_OOM = re.compile(rb"oom_kill (\d+)")


def oom_kills(probe_output: bytes) -> int:
    """The cgroup's OOM-kill counter from the probe's output (0 when unreadable)."""
    return max((int(n) for n in _OOM.findall(probe_output or b"")), default=0)


# After the command ends normally, whatever it left running (a daemon a test started and never
# stopped, `cmd &`, even a fork bomb in its own session) is killed so it cannot eat the pids, CPU or
# memory of the next run: the CLEANER's freeze-and-kill loop, inline so that this shell ($$) is the
# one spared and the command's exit code is kept.
SWEEP = 'echo 1000 > /proc/self/oom_score_adj 2>/dev/null\n"$@"\nrc=$?\n' + _IDLE + _KILL_LEFTOVERS + "exit $rc\n"


def wrap(argv: list[str], timeout: float) -> list[str]:
    """The argv that runs `argv` under GNU timeout, first in line for the OOM killer, then sweeps leftovers.

    `timeout -s KILL` puts itself and the command in a new process group and SIGKILLs that group
    when time is up (exit 137). oom_score_adj 1000 makes the run, never the idle PID 1 child, the
    OOM killer's victim, so the container survives a memory hog. The command runs at nice 19 so the
    sweep after it (and the cleaner) win the CPU quota against anything it left spinning, a fork bomb
    included; alone in its container the command still gets the whole quota. The exit code is the command's.
    """
    return ["sh", "-c", SWEEP, "sh", "nice", "-n", "19", "timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
