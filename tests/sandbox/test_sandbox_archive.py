"""Archive building and safe extraction, called directly (no Docker needed)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from sandbox.archive import check_members, extract_tar, safe_relpath, tar_directory, tar_files
from sandbox.exceptions import UnsafeArchive


def make_tar(*entries: tuple[str, bytes, str]) -> bytes:
    """entries: (name, type, data-or-linkname)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
                tar.addfile(info)
            elif kind == tarfile.REGTYPE:
                data = payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil", "a/../../evil", "..", "", "C:/x"])
def test_safe_relpath_refuses_escapes(name: str) -> None:
    with pytest.raises(UnsafeArchive):
        safe_relpath(name)


@pytest.mark.parametrize("name, expected", [("a/b", "a/b"), ("./a//b", "a/b"), ("a/../b", "b")])
def test_safe_relpath_normalises(name: str, expected: str) -> None:
    assert safe_relpath(name) == expected


@pytest.mark.parametrize(
    "entries",
    [
        [("../evil.txt", tarfile.REGTYPE, "x")],
        [("/tmp/evil-abs.txt", tarfile.REGTYPE, "x")],
        [("link", tarfile.SYMTYPE, "/etc")],
        [("link", tarfile.SYMTYPE, "../../outside")],
        [("d/link", tarfile.SYMTYPE, "../..")],
        [("hard", tarfile.LNKTYPE, "../outside")],
        [("dev", tarfile.CHRTYPE, "")],
        [("fifo", tarfile.FIFOTYPE, "")],
    ],
    ids=["dotdot", "absolute", "symlink-abs", "symlink-up", "nested-symlink-up", "hardlink-up", "chardev", "fifo"],
)
def test_extract_refuses_unsafe_entries(tmp_path: Path, entries: list[tuple[str, bytes, str]]) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        extract_tar(make_tar(("ok.txt", tarfile.REGTYPE, "fine"), *entries), dest)
    assert not (tmp_path / "evil.txt").exists()
    assert not dest.exists() or not any(dest.iterdir()), "nothing is written when an entry is refused"


def test_extract_refuses_a_chain_of_links_that_resolves_outside(tmp_path: Path) -> None:
    # each link looks inside on its own; together y/.. is the parent of dest
    dest = tmp_path / "dest"
    archive = make_tar(("y", tarfile.SYMTYPE, "."), ("x", tarfile.SYMTYPE, "y/.."),
                       ("x/evil.txt", tarfile.REGTYPE, "x"))
    with pytest.raises(UnsafeArchive):
        extract_tar(archive, dest)
    assert not (tmp_path / "evil.txt").exists()


def test_extract_never_writes_through_an_existing_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("original")
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "f.txt")
    extract_tar(make_tar(("f.txt", tarfile.REGTYPE, "new")), dest)
    assert outside.read_text() == "original"
    assert (dest / "f.txt").read_text() == "new" and not (dest / "f.txt").is_symlink()


def test_extract_keeps_inside_links_and_strips_the_prefix(tmp_path: Path) -> None:
    archive = make_tar(("workspace", tarfile.DIRTYPE, ""), ("workspace/pkg", tarfile.DIRTYPE, ""),
                       ("workspace/pkg/a.py", tarfile.REGTYPE, "A = 1\n"),
                       ("workspace/alias.py", tarfile.SYMTYPE, "pkg/a.py"),
                       ("workspace/copy.py", tarfile.LNKTYPE, "workspace/pkg/a.py"))
    names = extract_tar(archive, tmp_path, strip="workspace")
    assert set(names) == {"pkg", "pkg/a.py", "alias.py", "copy.py"}
    assert (tmp_path / "alias.py").read_text() == "A = 1\n" and (tmp_path / "alias.py").is_symlink()
    assert (tmp_path / "copy.py").read_text() == "A = 1\n"


def test_check_members_refuses_entries_outside_the_stripped_prefix() -> None:
    with tarfile.open(fileobj=io.BytesIO(make_tar(("other/x", tarfile.REGTYPE, "x"))), mode="r:") as tar:
        with pytest.raises(UnsafeArchive):
            check_members(tar.getmembers(), strip="workspace")


def test_tar_directory_owner_excludes_and_links(tmp_path: Path) -> None:
    src = tmp_path / "repo"
    (src / "pkg").mkdir(parents=True)
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref")
    (src / "pkg" / "mod.py").write_text("X = 1\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    (src / "inside").symlink_to("pkg/mod.py")
    (tmp_path / "secret.txt").write_text("host secret")
    (src / "escape").symlink_to("../secret.txt")
    (src / "absolute").symlink_to(tmp_path / "secret.txt")
    with tar_directory(src, uid=1000, gid=1000) as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {"pkg", "pkg/mod.py", "run.sh", "inside"} <= set(members)
    assert not {"escape", "absolute", ".git", ".git/HEAD"} & set(members)
    assert all(m.uid == 1000 and m.gid == 1000 for m in members.values())
    assert members["run.sh"].mode == 0o755 and members["pkg/mod.py"].mode == 0o644
    assert members["."].isdir(), "an explicit root entry, so the workspace root is not left root-owned"


def test_tar_files_adds_parents_and_refuses_escapes() -> None:
    with tar_files({"a/b/c.txt": "hi", "d.bin": b"\x00"}, uid=1000, gid=1000) as fh:
        with tarfile.open(fileobj=fh, mode="r:") as tar:
            members = {m.name: m for m in tar.getmembers()}
    assert members["a"].isdir() and members["a/b"].isdir() and members["a/b/c.txt"].size == 2
    assert all(m.uid == 1000 for m in members.values())
    for bad in ("../x", "/etc/x"):
        with pytest.raises(UnsafeArchive), tar_files({bad: "x"}, uid=1000, gid=1000):
            pass
