"""The head/tail capped output buffer."""

from __future__ import annotations

from sandbox.output import CappedOutput


def test_small_output_is_kept_whole() -> None:
    out = CappedOutput(100)
    out.write(b"hello ")
    out.write(b"world")
    assert out.text() == "hello world" and out.cut == 0


def test_flood_keeps_head_and_tail_with_a_marker() -> None:
    out = CappedOutput(100)
    out.write(b"HEAD" + b"x" * 10_000)
    for _ in range(1000):
        out.write(b"y" * 1000)
    out.write(b"TAIL")
    text = out.text()
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert out.cut == 4 + 10_000 + 1_000_000 + 4 - 100
    assert f"\n[... {out.cut} bytes cut ...]\n" in text
    assert len(out.head) + len(out.tail) == 100


def test_invalid_utf8_is_replaced() -> None:
    out = CappedOutput(10)
    out.write(b"\xff\xfeok")
    assert out.text() == "\ufffd\ufffdok"
