"""Building the default sandbox image: offline from Debian packages, or from python:3.11-slim."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from docker.errors import APIError, BuildError, ImageNotFound

from sandbox.client import docker_client
from sandbox.exceptions import SandboxError

ONLINE_BASE = "python:3.11-slim"
REGISTRY = ("registry-1.docker.io", 443)
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-pytest", "python3-coverage", "git", "ca-certificates")
IMAGE_CHANGES = ['CMD ["python3"]', "ENV LANG=C.UTF-8", "ENV PYTHONDONTWRITEBYTECODE=1"]


def image_exists(name: str, client: Any = None) -> bool:
    """True when the engine has the image."""
    client = client or docker_client()
    try:
        client.images.get(name)
        return True
    except ImageNotFound:
        return False


def build_image(name: str, *, offline: bool | None = None, client: Any = None) -> str:
    """Build the image and return its id.

    offline=None decides by what is reachable: the Dockerfile build when the python:3.11-slim base
    is on the engine or Docker Hub answers, mmdebstrap + `docker import` otherwise.
    """
    client = client or docker_client()
    if offline is None:
        offline = not (image_exists(ONLINE_BASE, client) or registry_reachable())
    return _build_offline(name, client) if offline else _build_online(name, client)


def ensure_image(name: str, *, client: Any = None) -> bool:
    """Build the image when the engine lacks it; True when a build happened."""
    client = client or docker_client()
    if image_exists(name, client):
        return False
    build_image(name, client=client)
    return True


def registry_reachable(address: tuple[str, int] = REGISTRY, timeout: float = 3.0) -> bool:
    """True when a TCP connection to the registry opens within timeout (DNS failure counts as no)."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def _build_online(name: str, client: Any) -> str:
    context = resources.files("sandbox").joinpath("images")
    try:
        with resources.as_file(context) as path:
            image, _logs = client.images.build(path=str(path), tag=name, rm=True, pull=False)
    except (BuildError, APIError) as exc:
        raise SandboxError(f"building {name} from {ONLINE_BASE} failed: {str(exc)[:300]}; "
                           "try `fixbot sandbox build-image --offline`") from None
    return str(image.id)


def _build_offline(name: str, client: Any) -> str:
    if shutil.which("mmdebstrap") is None:
        raise SandboxError("mmdebstrap is not installed; `apt-get install mmdebstrap`, or build with --online")
    repo, _, tag = name.partition(":")
    with tempfile.TemporaryDirectory(prefix="fixbot-image-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(DEBIAN_PACKAGES)}",
               DEBIAN_SUITE, str(rootfs)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise SandboxError(f"mmdebstrap failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
        try:
            client.api.import_image_from_file(str(rootfs), repository=repo, tag=tag or "latest",
                                              changes=IMAGE_CHANGES)
        except APIError as exc:
            raise SandboxError(f"docker import failed: {exc.explanation or exc}") from None
    return str(client.images.get(name).id)
