"""`ExecResult`: what one command in the sandbox did, as plain JSON-able data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ExecResult:
    """Exit code, capped output and what the guards saw for one command.

    exit_code is None when the host-side guard had to kill the container; stdout and stderr keep
    their head and tail within the configured cap, with a "[... N bytes cut ...]" marker line.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: int = 0
    container_replaced: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)
