"""Connecting to the Docker engine, with a message that says how to start it."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from sandbox.exceptions import DockerUnavailable


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A connected client, or DockerUnavailable saying how to start the engine."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DockerUnavailable(
            "cannot reach the Docker engine "
            f"({reason}); start it (`sudo systemctl start docker`, Docker Desktop, or `dockerd &` as root) "
            "or set DOCKER_HOST"
        ) from None
    return client
