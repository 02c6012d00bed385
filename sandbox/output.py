"""A byte buffer that keeps the head and the tail of a stream within a cap."""

from __future__ import annotations


class CappedOutput:
    """Keeps the first and last `cap // 2` bytes; counts what was cut in between."""

    def __init__(self, cap: int) -> None:
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        """Add bytes; memory stays bounded however much arrives."""
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def cut(self) -> int:
        """Bytes dropped from the middle."""
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        """Decoded output with a marker where bytes were cut."""
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.cut:
            return f"{head}\n[... {self.cut} bytes cut ...]\n{tail}"
        return head + tail
