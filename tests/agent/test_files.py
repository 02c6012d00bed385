"""Files as they are: encodings, byte-order marks, CRLF and tabs survive reading, splicing, diffing (pure)."""

from __future__ import annotations

import pytest

from agent.edits.diff import unified_diff
from agent.edits.encoding import decode_source, encode_source
from agent.edits.errors import EncodingProblem
from agent.edits.splice import Splice, apply_splices, changed_line_count, lines_of, minimal
from agent.graph.nodes.common import read_sources
from agent.repair.mutate import generate_candidates
from agent.repair.region import changed_unit_text, syntax_error, unit_for
from agent.review import review_change

LATIN1 = "# -*- coding: latin-1 -*-\nNAME = 'café'\n"


@pytest.mark.parametrize(("data", "encoding", "text"), [
    pytest.param(b"x = 1\n", "utf-8", "x = 1\n", id="plain"),
    pytest.param(b"\xef\xbb\xbfx = '\xc3\xa9'\r\n", "utf-8-sig", "x = 'é'\r\n", id="bom-crlf"),
    pytest.param(LATIN1.encode("latin-1"), "iso-8859-1", LATIN1, id="pep263-latin1"),
    pytest.param(b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\x80'\n", "cp1252",
                 "#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '€'\n", id="cookie-second-line"),
])
def test_decode_follows_python_and_encode_round_trips(data: bytes, encoding: str, text: str) -> None:
    decoded = decode_source(data)
    assert decoded.text == text and decoded.encoding == encoding
    assert encode_source(decoded.text, data) == data  # byte for byte, BOM and CRLF included


def test_undecodable_and_unencodable_text_are_clear_errors() -> None:
    with pytest.raises(EncodingProblem, match="not valid UTF-8"):
        decode_source(b"name = '\xe9'\n")  # latin-1 bytes without a declaration: Python would refuse it too
    with pytest.raises(EncodingProblem, match="bad encoding declaration"):
        decode_source(b"# coding: no-such-codec\nx = 1\n")
    with pytest.raises(EncodingProblem, match="cannot represent"):
        encode_source(LATIN1.replace("café", "caf✓"), LATIN1.encode("latin-1"))


def test_a_new_file_is_utf8_and_a_changed_declaration_wins() -> None:
    assert encode_source("x = 'é'\n", None) == "x = 'é'\n".encode()
    relabelled = LATIN1.replace("latin-1", "utf-8")
    assert encode_source(relabelled, LATIN1.encode("latin-1")) == relabelled.encode()


def test_read_sources_keeps_line_endings_and_notes_what_it_skips(tmp_path) -> None:
    (tmp_path / "crlf.py").write_bytes(b"def f():\r\n\treturn 1\r\n")
    (tmp_path / "latin.py").write_bytes(LATIN1.encode("latin-1"))
    (tmp_path / "blob.py").write_bytes(b"\x00\xff\xfe binary\n")
    notes: list[str] = []
    sources = read_sources(str(tmp_path), notes=notes)
    assert sources == {"crlf.py": "def f():\r\n\treturn 1\r\n", "latin.py": LATIN1}
    assert len(notes) == 1 and notes[0].startswith("skipped blob.py: not valid UTF-8")


def test_lines_split_on_newline_only() -> None:
    assert lines_of("a = 1\r\n\x0cb = 2\nc") == ["a = 1\r\n", "\x0cb = 2\n", "c"]


def test_splices_apply_in_order_and_refuse_overlaps() -> None:
    text = "abcdef"
    assert apply_splices(text, [Splice("f", 4, 5, "E"), Splice("f", 0, 1, "A")]) == "AbcdEf"
    with pytest.raises(ValueError):
        apply_splices(text, [Splice("f", 0, 3, "x"), Splice("f", 2, 4, "y")])
    assert minimal("total += x", Splice("f", 0, 10, "total -= x")) == Splice("f", 6, 7, "-")


def test_changed_line_count_counts_like_a_diff() -> None:
    text = "a\nb\nc\n"
    assert changed_line_count(text, Splice("f", 2, 3, "B")) == 2  # one line out, one in
    assert changed_line_count(text, Splice("f", 2, 2, "x\n")) == 1  # one line added
    assert changed_line_count(text, Splice("f", 2, 4, "")) == 1  # one line deleted


CRLF_TABS = ("def total(xs):\r\n\tresult = 0\r\n\tfor x in xs:\r\n\t\tif x > 0:\r\n\t\t\tresult += x\r\n"
             "\treturn result\r\n")


def test_a_one_token_fix_in_a_crlf_tab_file_is_a_one_line_diff() -> None:
    line = 4  # `if x > 0:`
    cands = generate_candidates("calc.py", CRLF_TABS, [(line, 1.0)])
    fix = next(c for c in cands if c.description.startswith("`>` changed to `!=`"))
    new = fix.new_text(CRLF_TABS)
    assert new == CRLF_TABS.replace("x > 0", "x != 0")
    diff = unified_diff({"calc.py": CRLF_TABS}, {"calc.py": new})
    changed = [d for d in diff.splitlines(keepends=True) if d[:1] in "+-" and not d.startswith(("---", "+++"))]
    assert changed == ["-\t\tif x > 0:\r\n", "+\t\tif x != 0:\r\n"]


def test_inserted_and_deleted_lines_take_the_files_endings_and_tabs() -> None:
    cands = generate_candidates("calc.py", CRLF_TABS, [(5, 1.0)])
    inserts = [c for c in cands if c.operator in ("stmt_insert", "stmt_delete")]
    assert inserts
    for cand in inserts:
        new = cand.new_text(CRLF_TABS)
        assert "\n" not in new.replace("\r\n", ""), cand.description  # every line still ends in CRLF
        assert not any(line.startswith(" ") for line in new.splitlines()), cand.description  # tabs only


def test_unit_is_the_outermost_function_under_its_class_headers() -> None:
    source = ("import os\n\n\nclass A:\n    X = 1\n\n    def f(self):\n        def g():\n            return 1\n"
              "        return g() + 1\n\n\nY = 2\n")
    start = source.index("return 1")
    unit = unit_for(source, Splice("m.py", start, start + 8, "return 2"))
    assert unit is not None and (unit.first, unit.last, unit.headers) == (7, 10, ("class A:",))
    text, _unit = changed_unit_text(source, [Splice("m.py", start, start + 8, "return 2")]) or ("", None)
    assert text.splitlines()[6] == "    def f(self):" and text.splitlines()[5] == "class A:"
    y = source.index("Y = 2")
    assert unit_for(source, Splice("m.py", y, y + 5, "Y = 3")) == type(unit)(13, 13, ())  # module level
    assert syntax_error("m.py", source, [Splice("m.py", start, start + 8, "return (")]) is not None
    assert syntax_error("m.py", source, [Splice("m.py", start, start + 8, "return 2")]) is None


def test_review_parses_only_what_changed_and_still_catches_a_break() -> None:
    big = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(300))
    new = big.replace("return x + 7\n", "return x - 7\n")
    assert review_change("m.py", big, new).ok
    broken = big.replace("return x + 7\n", "return x -\n")
    verdict = review_change("m.py", big, broken)
    assert not verdict.ok and "no longer parses" in verdict.reason and "line 30" in verdict.reason
