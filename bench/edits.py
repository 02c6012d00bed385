"""Benchmark: the edit parser/applier (agent.edits) over a corpus of model-style answers.

    .venv/bin/python bench/edits.py [--cases bench/edit_cases] [--only NAME ...] [--verbose] [--json out.json|-]

Every case in bench/edit_cases/*.txt is run through parse_edits + apply_edits and classified:

- applied      the edits applied and the files equal the expected files;
- rejected     an EditError (or no edit at all) where rejection is expected or acceptable ("either");
- applicable   rejected although a careful human would have applied the answer (a missed fix, not harmful);
- misapplied   applied but the files differ from the expected ones, or applied where rejection was expected;
- crashed      an exception that is not an EditError (a bug in the module).

The target is misapplied == 0 and crashed == 0. Prints one row per category of flaw, the totals and
every case that is not classified applied/rejected. Exit status 1 when a case is misapplied or crashed.

Case format (one `.txt` per case; sections start with a header line `=== name[: value] ===`):

    === category: indentation ===          the row of the table
    === note: one line saying what the model did wrong ===
    === file: calc.py ===                  an input file (repeatable); flags: [crlf] [noeol]
    === answer ===                         the model's answer, verbatim; flag: [crlf]
    === expect: applied ===                applied | rejected [ErrorClass] | either (apply or reject)
    === expected file: calc.py ===         the file after the edits (only files that change or appear)

Section bodies run to the next header; trailing blank lines are dropped and every line ends in "\\n"
([noeol]: the last one does not; [crlf]: every line ends in "\\r\\n"). Escapes make invisible text
reviewable: `<TAB>` is a tab, `<SP>` a space (for trailing spaces), `<CR>` a carriage return.
Lines before the first header are comments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES_DIR = ROOT / "bench" / "edit_cases"
OUTCOMES = ("applied", "rejected", "applicable", "misapplied", "crashed")
_HEADER = re.compile(r"^=== (?P<name>[a-z][a-z ]*?)(?:: (?P<value>.*?))?(?P<flags>(?: \[[a-z]+\])*) ===$")
_FLAGS = re.compile(r"\s*\[(crlf|noeol)\]")
_ESCAPES = {"<TAB>": "\t", "<SP>": " ", "<CR>": "\r"}


class CaseFormatError(ValueError):
    """A case file that does not follow the format above."""


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    note: str
    files: dict[str, str]
    answer: str
    expect: str  # "applied" | "rejected" | "either"
    error: str  # expected EditError subclass name for "rejected", or ""
    expected: dict[str, str]  # the whole mapping after the edits (inputs updated by the expected files)


@dataclass
class Outcome:
    name: str
    category: str
    expect: str
    outcome: str  # one of OUTCOMES
    detail: str = ""
    methods: list[str] = field(default_factory=list)


def _body(lines: list[str], flags: set[str]) -> str:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    text = "".join(line + "\n" for line in lines)
    for escape, char in _ESCAPES.items():
        text = text.replace(escape, char)
    if "noeol" in flags and text.endswith("\n"):
        text = text[:-1]
    if "crlf" in flags:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def parse_case(text: str, name: str) -> Case:
    """Parse one case file's text (see the module docstring)."""
    sections: list[tuple[str, str, list[str]]] = []
    for line in text.split("\n"):
        match = _HEADER.match(line.rstrip("\r"))
        if match:
            sections.append((match["name"], (match["value"] or "") + match["flags"], []))
        elif sections:
            sections[-1][2].append(line.rstrip("\r"))
    meta: dict[str, str] = {}
    files: dict[str, str] = {}
    expected_files: dict[str, str] = {}
    answer: str | None = None
    for key, value, body in sections:
        flags = set(_FLAGS.findall(value))
        value = _FLAGS.sub("", value).strip()
        if key in ("category", "note", "expect"):
            meta[key] = value
        elif key == "file":
            files[value] = _body(body, flags)
        elif key == "expected file":
            expected_files[value] = _body(body, flags)
        elif key == "answer":
            answer = _body(body, flags)
        else:
            raise CaseFormatError(f"{name}: unknown section {key!r}")
    expect, _, error = meta.get("expect", "").partition(" ")
    if expect not in ("applied", "rejected", "either"):
        raise CaseFormatError(f"{name}: expect must be applied, rejected or either, not {meta.get('expect')!r}")
    if answer is None or "category" not in meta:
        raise CaseFormatError(f"{name}: a case needs a category and an answer")
    if expect == "rejected" and expected_files:
        raise CaseFormatError(f"{name}: a rejected case has no expected files")
    if expect != "rejected" and not expected_files:
        raise CaseFormatError(f"{name}: an applied case needs at least one expected file")
    return Case(name=name, category=meta["category"], note=meta.get("note", ""), files=files, answer=answer,
                expect=expect, error=error.strip(), expected={**files, **expected_files})


def load_corpus(directory: Path = CASES_DIR, only: list[str] | None = None) -> list[Case]:
    paths = sorted(directory.glob("*.txt"))
    cases = [parse_case(p.read_text(encoding="utf-8"), p.stem) for p in paths]
    return [c for c in cases if not only or c.name in only]


def _first_difference(got: dict[str, str], want: dict[str, str]) -> str:
    for path in sorted(set(got) | set(want)):
        a, b = got.get(path), want.get(path)
        if a == b:
            continue
        if a is None or b is None:
            return f"{path}: {'missing from the result' if a is None else 'unexpected in the result'}"
        a_lines, b_lines = a.splitlines(keepends=True), b.splitlines(keepends=True)
        for i, (x, y) in enumerate(zip(a_lines, b_lines, strict=False), 1):
            if x != y:
                return f"{path} line {i}: got {x!r}, expected {y!r}"
        i = min(len(a_lines), len(b_lines)) + 1
        return f"{path}: {len(a_lines)} lines, expected {len(b_lines)} (from line {i}: got " \
               f"{a_lines[i - 1:i]!r}, expected {b_lines[i - 1:i]!r})"
    return ""


def run_case(case: Case) -> Outcome:
    """Parse and apply one case's answer; classify the result (see the module docstring)."""
    from agent.edits import apply_edits, parse_edits
    from agent.edits.errors import EditError

    out = Outcome(case.name, case.category, case.expect + (f" {case.error}" if case.error else ""), "crashed")
    files = dict(case.files)
    try:
        edits = parse_edits(case.answer)
        if not edits:
            raise EditError("no edit found in the answer")
        new, applied = apply_edits(files, edits)
    except EditError as exc:
        got = type(exc).__name__
        if case.expect == "applied":
            out.outcome, out.detail = "applicable", f"{got}: {exc}"
        else:
            out.outcome = "rejected"
            if case.error and got != case.error and got != "EditError":
                out.detail = f"rejected with {got}, expected {case.error}: {exc}"
        return out
    except Exception as exc:  # noqa: BLE001 - a crash is one of the outcomes
        out.detail = f"{type(exc).__name__}: {exc}"
        return out
    if files != case.files:
        out.outcome, out.detail = "misapplied", "apply_edits mutated its input mapping"
        return out
    out.methods = [str(getattr(a, "method", "?")) for a in applied]
    if case.expect == "rejected":
        out.outcome = "misapplied"
        out.detail = f"applied ({', '.join(out.methods)}) where rejection was expected; " \
                     f"{_first_difference(new, case.files) or 'files unchanged'}"
    elif new == case.expected:
        out.outcome = "applied"
    else:
        out.outcome, out.detail = "misapplied", _first_difference(new, case.expected)
    return out


def summarize(outcomes: list[Outcome]) -> dict:
    by_category: dict[str, Counter] = {}
    for o in outcomes:
        by_category.setdefault(o.category, Counter())[o.outcome] += 1
    totals = Counter(o.outcome for o in outcomes)
    n = len(outcomes) or 1
    return {
        "cases": len(outcomes),
        "totals": {k: totals.get(k, 0) for k in OUTCOMES},
        "shares": {k: round(totals.get(k, 0) / n, 3) for k in OUTCOMES},
        "correct": totals.get("applied", 0) + totals.get("rejected", 0),
        "categories": {c: {k: v.get(k, 0) for k in OUTCOMES} for c, v in sorted(by_category.items())},
    }


def print_report(outcomes: list[Outcome], summary: dict, verbose: bool = False) -> None:
    width = max([len(c) for c in summary["categories"]] + [8])
    head = f"{'category':<{width}}  {'cases':>5}" + "".join(f"  {k:>10}" for k in OUTCOMES)
    print(head)
    print("-" * len(head))
    for category, counts in summary["categories"].items():
        total = sum(counts.values())
        print(f"{category:<{width}}  {total:>5}" + "".join(f"  {counts[k]:>10}" for k in OUTCOMES))
    print("-" * len(head))
    totals = summary["totals"]
    print(f"{'total':<{width}}  {summary['cases']:>5}" + "".join(f"  {totals[k]:>10}" for k in OUTCOMES))
    shares = summary["shares"]
    print(f"\napplied correctly {shares['applied']:.0%}, rejected {shares['rejected']:.0%} "
          f"(correct: {summary['correct']}/{summary['cases']}), rejected but applicable {shares['applicable']:.0%}, "
          f"misapplied {totals['misapplied']} ({shares['misapplied']:.0%}), crashed {totals['crashed']}")
    shown = [o for o in outcomes if verbose or o.outcome not in ("applied", "rejected") or o.detail]
    if shown:
        print()
    for o in shown:
        methods = f" [{', '.join(o.methods)}]" if o.methods else ""
        print(f"{o.outcome:>10}  {o.name} (expect {o.expect}){methods}" + (f": {o.detail}" if o.detail else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES_DIR, help="directory of case .txt files")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these cases (file stems)")
    parser.add_argument("--verbose", action="store_true", help="list every case, not only the failures")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout only)")
    args = parser.parse_args(argv)
    cases = load_corpus(args.cases, args.only)
    outcomes = [run_case(c) for c in cases]
    summary = summarize(outcomes)
    report = {**summary, "results": [asdict(o) for o in outcomes]}
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print_report(outcomes, summary, args.verbose)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if summary["totals"]["misapplied"] or summary["totals"]["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
