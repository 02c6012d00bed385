"""Copying files in and out of a real sandbox: ownership, round trip, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxError, UnsafeArchive

pytestmark = pytest.mark.docker


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("[core]\n")
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / "data.bin").write_bytes(bytes(range(256)))
    (repo / "alias.py").symlink_to("pkg/mod.py")
    (root / "host-secret.txt").write_text("secret")
    (repo / "leak").symlink_to(root / "host-secret.txt")
    return repo


def test_workspace_files_arrive_owned_by_the_sandbox_user(box: Sandbox, tmp_path: Path) -> None:
    box.exec("rm -rf /workspace/* /workspace/.[!.]*")
    box.put_workspace(make_repo(tmp_path))
    res = box.exec("find /workspace -printf '%U:%G %y %P\\n' | sort")
    lines = res.stdout.splitlines()
    assert all(line.startswith("1000:1000 ") for line in lines), lines
    names = {line.split(" ", 2)[2] for line in lines}
    assert {"", "pkg", "pkg/mod.py", "data.bin", "alias.py"} <= names
    assert not {"leak", ".git", ".git/config"} & names, "outside links and .git are not copied"
    assert box.exec("cat alias.py").stdout == "def f():\n    return 1\n"
    assert box.exec("touch /workspace/new && mkdir /workspace/pkg/sub").ok, "the sandbox user can write"


def test_put_files_read_file_and_tools_volume(box: Sandbox) -> None:
    box.put_files({"deep/er/x.txt": "one", "bin.dat": b"\x00\xff"})
    assert box.read_file("deep/er/x.txt") == b"one" and box.read_file("bin.dat") == b"\x00\xff"
    box.put_files({"deep/er/x.txt": "two"})
    assert box.read_file("deep/er/x.txt") == b"two"
    box.put_files({"runner.py": "print('tool')"}, base=box.tools)
    assert box.exec(["python3", f"{box.tools}/runner.py"]).stdout == "tool\n"
    assert box.exec(f"stat -c %u:%g {box.tools} {box.tools}/runner.py").stdout == "1000:1000\n1000:1000\n"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt"])
def test_put_files_refuses_escaping_names(box: Sandbox, name: str) -> None:
    with pytest.raises(UnsafeArchive):
        box.put_files({name: "x"})


def test_files_go_only_into_the_volumes(box: Sandbox) -> None:
    for base in ("/etc", "/tmp", "/workspace/../etc"):
        with pytest.raises(SandboxError):
            box.put_files({"x": "y"}, base=base)
    with pytest.raises(SandboxError):
        box.read_file("does/not/exist.txt")


def test_get_workspace_round_trip(box: Sandbox, tmp_path: Path) -> None:
    box.exec("rm -rf /workspace/* /workspace/.[!.]*")
    box.put_workspace(make_repo(tmp_path))
    assert box.exec("printf 'def f():\\n    return 2\\n' > pkg/mod.py && mkdir -p out && echo made > out/new.txt").ok
    dest = tmp_path / "back"
    names = box.get_workspace(dest)
    assert "pkg/mod.py" in names
    assert (dest / "pkg" / "mod.py").read_text() == "def f():\n    return 2\n"
    assert (dest / "out" / "new.txt").read_text() == "made\n"
    assert (dest / "data.bin").read_bytes() == bytes(range(256))
    assert (dest / "alias.py").is_symlink() and (dest / "alias.py").read_text() == "def f():\n    return 2\n"


@pytest.mark.parametrize("link", ["/etc/passwd", "../../../etc", "pkg/../../outside"])
def test_get_workspace_refuses_links_planted_by_untrusted_code(box: Sandbox, tmp_path: Path, link: str) -> None:
    box.exec("rm -rf /workspace/* /workspace/.[!.]*")
    box.put_files({"pkg/a.py": "A = 1\n"})
    assert box.exec(["ln", "-s", link, "/workspace/planted"]).ok
    dest = tmp_path / "back"
    with pytest.raises(UnsafeArchive):
        box.get_workspace(dest)
    assert not dest.exists() or not any(dest.iterdir())
    box.exec("rm -f /workspace/planted")
