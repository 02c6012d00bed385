"""A task works on the commit it was proven on: publishing after the branch moved on, and a retried repair.

A real bare repository as the remote (file://), real `fixbot worker`, real Docker. While the tasks wait for a
person, a commit the sandbox never saw is pushed: it edits calc.py far from the fix and adds a test that
always fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.docker, pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calculate_total"
ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True, env=ENV, input=stdin).stdout


def test_publish_and_a_retry_use_the_proven_base_commit_after_the_branch_moved(cluster, tmp_path):
    work = tmp_path / "upstream"
    shutil.copytree(EXAMPLE, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    base = git(work, "rev-parse", "HEAD").strip()
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    issue = (EXAMPLE / "ISSUE.md").read_text()
    cluster.start_worker(KEEP_WORKDIR="true")  # the retried task's checkout is looked at afterwards
    published = cluster.submit(bare, issue)
    retried = cluster.submit(bare, issue)
    for task in (published, retried):
        record = cluster.wait(task["id"], {"awaiting_approval", "failed", "not_fixed"}, timeout=180)
        assert record["status"] == "awaiting_approval", record["reason"]
        assert record["result"]["base_commit"] == base

    with (work / "calc.py").open("a") as fh:  # the branch moves on: calc.py changes away from the fix ...
        fh.write("\n\ndef unrelated():\n    return 'added after the proof'\n")
    (work / "tests" / "test_later.py").write_text("def test_added_later():\n    assert False\n")  # ... and a test
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "later")
    git(work, "push", "-q", str(bare), "main")
    tip = git(bare, "rev-parse", "main").strip()
    assert tip != base

    svc = cluster.service
    svc.approve(published["id"], by="U2")
    done = cluster.wait(published["id"], {"published", "failed"}, timeout=180)
    assert done["status"] == "published", done["reason"]
    publication = done["publication"]
    assert publication["base_commit"] == base
    patch = publication["patch"]
    (preimage,) = re.findall(r"^index ([0-9a-f]+)\.\.[0-9a-f]+", patch, flags=re.M)
    assert git(work, "rev-parse", f"{base}:calc.py").strip().startswith(preimage), "made on the proven tree"
    assert not git(work, "rev-parse", f"{tip}:calc.py").strip().startswith(preimage)
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(bare), str(check))
    git(check, "checkout", "-q", base)
    git(check, "am", "-q", stdin=patch)  # the format-patch applies on the proven base
    assert "def unrelated" not in (check / "calc.py").read_text()
    assert git(check, "log", "-1", "--format=%b").count("Approved-by: U2") == 1

    first = svc.store.get(retried["id"])["result"]["final_patch"]["diff"]
    checkout = tmp_path / "work" / retried["id"] / "repo"
    shutil.rmtree(checkout)  # as on another host (or with the default, which removes it while the task waits)
    svc.reject(retried["id"], by="U3", feedback="refunds must be subtracted", retry=True)
    again = cluster.wait(retried["id"], {"awaiting_approval", "failed", "not_fixed"}, timeout=180)
    assert again["status"] == "awaiting_approval", again["reason"]
    assert again["result"]["base_commit"] == base and again["result"]["final_patch"]["diff"] != first
    assert git(checkout, "rev-parse", "HEAD").strip() == base, "fetched again at the proven commit"
    assert not (checkout / "tests" / "test_later.py").exists()
