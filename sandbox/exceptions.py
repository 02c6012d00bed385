"""Errors of the sandbox; each message says what to do about it."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of sandbox errors; str(error) is one line fit for a user."""


class DockerUnavailable(SandboxError):
    """The Docker engine cannot be reached."""


class ImageMissing(SandboxError):
    """The sandbox image is not present on the engine."""

    @classmethod
    def of(cls, image: str) -> ImageMissing:
        """The one message for a missing image: which one, and how to get it."""
        return cls(f"the sandbox image {image!r} is missing; build it with `fixbot sandbox build-image` "
                   "(or set SANDBOX_IMAGE)")


class ContainerStartError(SandboxError):
    """A container could not be created or started."""


class SandboxTimeout(SandboxError):
    """An operation on the sandbox outlived its deadline."""


class UnsafeArchive(SandboxError):
    """An archive entry would escape the target directory or is not a plain file/dir/link."""


class TreeTooLarge(SandboxError):
    """A directory to copy is larger, holds more entries or nests deeper than the limits allow."""


class UnreadableTree(SandboxError):
    """A directory to copy holds an entry that cannot be read (permissions, vanished while walked)."""
