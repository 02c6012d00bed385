"""Building the default sandbox image: offline from Debian packages, or from python:3.11-slim.

Both builds give a Python developer's shell: `python`, `python3`, `pip`, `pytest` and the common
test plugins (pytest-cov, pytest-xdist, pytest-asyncio, pytest-timeout, hypothesis), coverage and
git. Each image carries the label LABEL_RECIPE, a hash of the recipe that built it: an image
fixbot built from an older recipe is rebuilt by `ensure_image` (and `scripts/bootstrap.sh`), so a
machine never keeps testing with a stale image after an upgrade.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from docker.errors import APIError, BuildError, ImageNotFound

from sandbox.client import docker_client
from sandbox.config import DEFAULT_IMAGE
from sandbox.exceptions import SandboxError

ONLINE_BASE = "python:3.11-slim"
REGISTRY = ("registry-1.docker.io", 443)
DEBIAN_SUITE = "bookworm"
# Debian bookworm package names; the online Dockerfile installs the same tools from PyPI.
DEBIAN_PACKAGES = (
    "python3", "python-is-python3", "python3-pip", "python3-venv", "python3-wheel-whl",
    "python3-pytest", "python3-pytest-cov", "python3-pytest-xdist", "python3-pytest-asyncio",
    "python3-pytest-timeout", "python3-hypothesis", "python3-coverage", "git", "ca-certificates",
)
IMAGE_CHANGES = ('CMD ["python3"]', "ENV LANG=C.UTF-8", "ENV PYTHONDONTWRITEBYTECODE=1")
LABEL_RECIPE = "fixbot.image.recipe"

ImageStatus = Literal["missing", "current", "stale", "foreign"]


def recipe_hash() -> str:
    """12 hex digits naming this recipe: Debian suite and packages, image settings and the Dockerfile."""
    dockerfile = resources.files("sandbox").joinpath("images", "Dockerfile").read_bytes()
    digest = hashlib.sha256()
    for part in (DEBIAN_SUITE, *DEBIAN_PACKAGES, *IMAGE_CHANGES):
        digest.update(part.encode() + b"\0")
    digest.update(dockerfile)
    return digest.hexdigest()[:12]


def image_exists(name: str, client: Any = None) -> bool:
    """True when the engine has the image."""
    return image_status(name, client) != "missing"


def image_status(name: str, client: Any = None) -> ImageStatus:
    """missing; current (built from this recipe); stale (fixbot built it from another recipe, or it is the
    default image without a recipe label, as images before the label were); foreign (the operator's own)."""
    client = client or docker_client()
    try:
        image = client.images.get(name)
    except ImageNotFound:
        return "missing"
    label = (image.labels or {}).get(LABEL_RECIPE)
    if label == recipe_hash():
        return "current"
    if label is not None or name == DEFAULT_IMAGE:
        return "stale"
    return "foreign"


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
    """Build the image when the engine lacks it or has a stale one; True when a build happened.

    An image fixbot did not build (no recipe label, another name than the default) is used as it is.
    """
    client = client or docker_client()
    if image_status(name, client) in ("current", "foreign"):
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
            image, _logs = client.images.build(path=str(path), tag=name, rm=True, pull=False,
                                               labels={LABEL_RECIPE: recipe_hash()})
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
        changes = [*IMAGE_CHANGES, f"LABEL {LABEL_RECIPE}={recipe_hash()}"]
        try:
            client.api.import_image_from_file(str(rootfs), repository=repo, tag=tag or "latest", changes=changes)
        except APIError as exc:
            raise SandboxError(f"docker import failed: {exc.explanation or exc}") from None
    return str(client.images.get(name).id)
