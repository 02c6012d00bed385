"""The sandbox as a Python developer's shell: tools, a writable home on a read-only root, pip installs that
persist from setup into the test runs, an offline wheelhouse and a setup network (real Docker, real HTTP index)."""

from __future__ import annotations

import functools
import http.server
import ipaddress
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.kinds import build_wheel
from sandbox import Sandbox
from sandbox.container import HOME

pytestmark = pytest.mark.docker

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1.0"

[project.scripts]
tinycli = "tinypkg:main"
"""
TINYDEP = {"tinydep/__init__.py": "def answer():\n    return 42\n"}


def test_a_developers_shell_on_a_read_only_root(make_box: Callable[..., Sandbox]) -> None:
    box = make_box("shell")
    res = box.exec(["bash", "-c", "set -e; python --version; python3 --version; pip --version; pytest --version; "
                    "coverage --version | head -1; "
                    "python -c 'import pytest_cov, xdist, pytest_asyncio, pytest_timeout, hypothesis; "
                    "print(\"plugins\")'; git --version"], timeout=60)
    assert res.exit_code == 0, res.stderr
    assert "plugins" in res.stdout and "pip " in res.stdout and "pytest 7" in res.stdout + res.stderr
    # HOME, caches and TMPDIR are writable; the root is not
    res = box.exec(["bash", "-c", 'mkdir -p ~/.cache/app && echo hi > ~/.cache/app/x && cat ~/.cache/app/x && '
                    'echo "$HOME $TMPDIR $XDG_CACHE_HOME" && touch "$TMPDIR/t" && touch /usr/x'], timeout=30)
    assert res.stdout.splitlines()[:2] == ["hi", f"{HOME} /tmp {HOME}/.cache"]
    assert res.exit_code != 0 and "Read-only file system" in res.stderr


def test_pip_installs_in_setup_persist_into_test_runs(make_box: Callable[..., Sandbox], tmp_path: Path) -> None:
    """`pip install -e .` works offline (Debian's pip refuses system installs: it goes to the user site on the
    home volume, and setuptools comes from the image's own wheels), and the test runs see it."""
    box = make_box("setup", timeout=120, memory="512m")
    box.put_files({"pyproject.toml": PYPROJECT, "tinypkg/__init__.py": "def main():\n    print('tiny ok')\n"})
    setup = box.run_setup("pip install -e .", timeout=120)
    assert setup.exit_code == 0, setup.stdout[-500:] + setup.stderr[-500:]
    res = box.exec(["bash", "-c", "tinycli && python -c 'import tinypkg, sys; print(tinypkg.__file__)'"], timeout=30)
    assert res.stdout.split() == ["tiny", "ok", "/workspace/tinypkg/__init__.py"], res.stderr
    failed = box.run_setup("pip install not-a-real-package-xyz", timeout=60)
    assert failed.exit_code != 0 and failed.duration < 30  # no network: pip does not retry an index for minutes
    assert "No matching distribution found for not-a-real-package-xyz" in failed.stdout + failed.stderr


def test_wheelhouse_installs_offline_and_stays_read_only(make_box: Callable[..., Sandbox], tmp_path: Path) -> None:
    house = tmp_path / "wheels"
    house.mkdir()
    build_wheel("tinydep", "1.0", TINYDEP, house)
    box = make_box("wheelhouse", timeout=120, memory="512m", wheelhouse=str(house))
    box.put_files({"requirements.txt": "tinydep==1.0\n"})
    setup = box.run_setup("pip install -r requirements.txt && touch /wheelhouse/x", timeout=120)
    assert "Successfully installed tinydep-1.0" in setup.stdout
    assert setup.exit_code != 0 and "Read-only file system" in setup.stderr  # the operator's wheels are safe
    res = box.exec(["python", "-c", "import tinydep; print(tinydep.answer())"], timeout=30)
    assert res.stdout.strip() == "42"


@pytest.fixture
def local_index(docker_client: Any, tmp_path: Path) -> Iterator[str]:
    """A PEP 503 "simple" index of one wheel, served over HTTP on the Docker bridge's host address."""
    root = tmp_path / "index"
    (root / "simple" / "tinydep").mkdir(parents=True)
    wheel = build_wheel("tinydep", "1.0", TINYDEP, root / "simple" / "tinydep")
    (root / "simple" / "tinydep" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    subnet = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = subnet.get("Gateway") or str(ipaddress.ip_network(subnet["Subnet"])[1])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer((gateway, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{gateway}:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)


def test_setup_network_uses_the_configured_index(make_box: Callable[..., Sandbox], local_index: str) -> None:
    box = make_box("network", timeout=120, memory="512m", setup_network=True, pip_index_url=local_index)
    setup = box.run_setup("pip install tinydep", timeout=120)
    assert setup.exit_code == 0, setup.stdout[-800:] + setup.stderr[-800:]
    assert box.exec(["python", "-c", "import tinydep; print(tinydep.answer())"], timeout=30).stdout.strip() == "42"
    # the test runs themselves never get the network
    res = box.exec(["python", "-c", f"import urllib.request; urllib.request.urlopen({local_index!r}, timeout=3)"],
                   timeout=30)
    assert res.exit_code != 0
