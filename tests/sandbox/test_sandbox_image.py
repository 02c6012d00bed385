"""Image versioning: an image fixbot built from an older recipe is rebuilt; the operator's own image never is."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import sandbox.image as image_mod
from sandbox.image import LABEL_RECIPE, ensure_image, image_status, recipe_hash

pytestmark = pytest.mark.docker


@pytest.fixture
def tiny_images(docker_client: Any) -> Iterator[Any]:
    """Makes empty images (no layers' worth of files) with chosen labels; removes them after."""
    made: list[str] = []

    def make(label: str | None) -> str:
        name = f"fixbot-test-image-{uuid.uuid4().hex[:8]}:t"
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w"):
            pass
        repo, tag = name.split(":")
        changes = [f"LABEL {LABEL_RECIPE}={label}"] if label else []
        docker_client.api.import_image_from_data(data.getvalue(), repository=repo, tag=tag, changes=changes)
        made.append(name)
        return name

    yield make
    for name in made:
        docker_client.images.remove(name, force=True)


def test_status_follows_the_recipe_label(docker_client: Any, tiny_images: Any, monkeypatch: Any) -> None:
    assert len(recipe_hash()) == 12 and recipe_hash() == recipe_hash()
    current, stale, foreign = tiny_images(recipe_hash()), tiny_images("000000000000"), tiny_images(None)
    assert image_status(current, docker_client) == "current"
    assert image_status(stale, docker_client) == "stale"
    assert image_status(foreign, docker_client) == "foreign"
    assert image_status("fixbot-test-image-missing:t", docker_client) == "missing"
    # the default name without a label is an image of a fixbot from before the label: stale
    monkeypatch.setattr(image_mod, "DEFAULT_IMAGE", foreign)
    assert image_status(foreign, docker_client) == "stale"


def test_ensure_rebuilds_only_what_fixbot_built_from_another_recipe(docker_client: Any, tiny_images: Any,
                                                                     monkeypatch: Any) -> None:
    built: list[str] = []
    monkeypatch.setattr(image_mod, "build_image", lambda name, client=None: built.append(name) or "id")
    current, stale, foreign = tiny_images(recipe_hash()), tiny_images("000000000000"), tiny_images(None)
    assert ensure_image(current, client=docker_client) is False
    assert ensure_image(foreign, client=docker_client) is False
    assert ensure_image(stale, client=docker_client) is True
    assert built == [stale]
