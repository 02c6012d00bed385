"""Tar archives in and out of a sandbox: built with the sandbox user's ownership, extracted safely."""

from __future__ import annotations

import errno
import io
import os
import posixpath
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sandbox.exceptions import UnreadableTree, UnsafeArchive
from sandbox.walk import check_size, measure, walk

SPOOL_MAX = 8 * 1024 * 1024  # archives larger than this go to a temporary file, not memory


@contextmanager
def spool(chunks: Iterable[bytes]) -> Iterator[IO[bytes]]:
    """A seekable file holding a byte stream (in memory when small, on disk when large)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX) as fh:
        for chunk in chunks:
            fh.write(chunk)
        fh.seek(0)
        yield fh


def safe_relpath(name: str) -> str:
    """A normalised relative path, or UnsafeArchive for absolute paths and `..` escapes."""
    if not name or "\x00" in name:
        raise UnsafeArchive(f"refused archive entry {name!r}: empty or NUL in name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"refused archive entry {name!r}: absolute path")
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchive(f"refused archive entry {name!r}: it leaves the target directory")
    return norm


def _info(name: str, uid: int, gid: int, *, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.uid, info.gid, info.mode, info.type, info.mtime = uid, gid, mode, kind, 0
    info.uname = info.gname = "sandbox"
    return info


@contextmanager
def tar_directory(src: Path, *, uid: int, gid: int, exclude: Sequence[str] = (".git",),
                  max_bytes: int | None = None, max_entries: int | None = None) -> Iterator[IO[bytes]]:
    """Archive a host directory as uid:gid; links that point outside the tree are dropped, never followed.

    The tree is measured first (sandbox.walk.measure: hard-linked content once, sparse files at their
    full size, no recursion) and TreeTooLarge is raised before anything is spooled when it exceeds
    `max_bytes` or `max_entries`. Hard links become link entries, so their content is stored once.
    """
    src = src.resolve()
    excluded = set(exclude)

    def skip(_rel: str, name: str) -> bool:
        return name in excluded

    check_size(measure(src, skip=skip), max_bytes=max_bytes, max_entries=max_entries, what=f"the folder {src}")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX) as buf:
        try:
            _write_tree(buf, src, uid, gid, skip)
        except OSError as exc:  # a file changed, vanished or was unreadable while it was copied
            name = os.path.relpath(os.fsdecode(exc.filename), src) if exc.filename else str(src)
            raise UnreadableTree(f"could not copy {name!r}: {exc.strerror or exc}") from None
        buf.seek(0)
        yield buf


def _write_tree(buf: IO[bytes], src: Path, uid: int, gid: int, skip: Callable[[str, str], bool]) -> None:
    first_link: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(_info(".", uid, gid, mode=0o755, kind=tarfile.DIRTYPE))  # the target dir itself
        for entry in walk(src, skip=skip):
            if entry.kind == "link":
                _add_link(tar, src, entry.path, entry.rel, uid, gid)
            elif entry.kind == "dir":
                tar.addfile(_info(entry.rel, uid, gid, mode=0o755, kind=tarfile.DIRTYPE))
            elif entry.kind == "file":
                st = entry.st
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in first_link:
                    info = _info(entry.rel, uid, gid, mode=mode, kind=tarfile.LNKTYPE)
                    info.linkname = first_link[key]
                    tar.addfile(info)
                    continue
                first_link.setdefault(key, entry.rel)
                info = _info(entry.rel, uid, gid, mode=mode)
                info.size = st.st_size
                with _open_same(entry.path, st) as fh:
                    tar.addfile(info, fh)


def _open_same(path: str, st: os.stat_result) -> IO[bytes]:
    """Open the very file that was walked: never through a link swapped in since, never a different inode."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise OSError(errno.ESTALE, "the file changed while it was being copied", path)
    return os.fdopen(fd, "rb")


def _add_link(tar: tarfile.TarFile, root: Path, path: str, rel: str, uid: int, gid: int) -> None:
    target = os.readlink(path)
    resolved = os.path.realpath(os.path.join(os.path.dirname(path), target))
    if os.path.isabs(target) or not (resolved == str(root) or resolved.startswith(str(root) + os.sep)):
        return  # a link leaving the tree is not copied into the sandbox
    info = _info(rel, uid, gid, mode=0o777, kind=tarfile.SYMTYPE)
    info.linkname = target
    tar.addfile(info)


@contextmanager
def tar_files(files: Mapping[str, bytes | str], *, uid: int, gid: int) -> Iterator[IO[bytes]]:
    """Archive a few in-memory files (parent directories included) owned by uid:gid."""
    buf = io.BytesIO()
    dirs_done: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(_info(".", uid, gid, mode=0o755, kind=tarfile.DIRTYPE))
        for name, content in files.items():
            rel = safe_relpath(name)
            parent = posixpath.dirname(rel)
            parts: list[str] = []
            while parent and parent not in dirs_done:
                parts.append(parent)
                parent = posixpath.dirname(parent)
            for d in reversed(parts):
                tar.addfile(_info(d, uid, gid, mode=0o755, kind=tarfile.DIRTYPE))
                dirs_done.add(d)
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = _info(rel, uid, gid, mode=0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    yield buf


def check_members(members: Iterable[tarfile.TarInfo], *, strip: str | None = None) -> list[tarfile.TarInfo]:
    """Validate every entry; links must resolve inside the tree; devices and fifos are refused."""
    checked = []
    for member in members:
        name = member.name
        if strip is not None:
            if name == strip:
                continue
            if not name.startswith(strip + "/"):
                raise UnsafeArchive(f"refused archive entry {name!r}: outside {strip!r}")
            name = name[len(strip) + 1 :]
        rel = safe_relpath(name)
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeArchive(f"refused archive entry {name!r}: not a file, directory or link")
        if member.issym() or member.islnk():
            link = member.linkname
            if member.islnk() and strip is not None and link.startswith(strip + "/"):
                link = link[len(strip) + 1 :]
            base = posixpath.dirname(rel) if member.issym() else ""
            if posixpath.isabs(link) or posixpath.normpath(posixpath.join(base, link)).startswith(".."):
                raise UnsafeArchive(f"refused archive entry {name!r}: link to {member.linkname!r} leaves the tree")
        clone = tarfile.TarInfo(rel)
        for attr in ("size", "mode", "type", "linkname", "mtime"):
            setattr(clone, attr, getattr(member, attr))
        if member.islnk():
            clone.linkname = link
        clone.offset_data, clone.offset = member.offset_data, member.offset
        clone.mode &= 0o777
        checked.append(clone)
    return checked


def extract_tar(data: bytes | IO[bytes], dest: Path, *, strip: str | None = None) -> list[str]:
    """Extract an archive into dest; every entry's name and link is checked before anything is written.

    Refused with UnsafeArchive: absolute names, `..` escapes, links leaving the tree, devices and fifos,
    and entries whose directory resolves outside dest through a link extracted earlier.
    """
    fileobj = io.BytesIO(data) if isinstance(data, bytes) else data
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        members = check_members(tar.getmembers(), strip=strip)
        dest.mkdir(parents=True, exist_ok=True)
        root = os.path.realpath(dest)
        for member in members:
            target = dest / member.name
            parent = os.path.realpath(target.parent)
            if parent != root and not parent.startswith(root + os.sep):
                raise UnsafeArchive(f"refused archive entry {member.name!r}: its directory leaves the tree")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.issym():
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(member.linkname, target)
            elif member.islnk():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = os.path.realpath(dest / member.linkname)
                if not source.startswith(root + os.sep) or not os.path.isfile(source):
                    raise UnsafeArchive(f"refused archive entry {member.name!r}: hard link leaves the tree")
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(Path(source).read_bytes())
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink():
                    target.unlink()  # never write through a link
                extracted = tar.extractfile(member)
                target.write_bytes(extracted.read() if extracted else b"")
                os.chmod(target, member.mode or 0o644)
        return [m.name for m in members]
