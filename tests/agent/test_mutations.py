"""Mutation operators of the search-based repair engine (agent/repair): pure, no Docker.

Every row is a small function with one classic single-line bug (QuixBugs style). The suspicious line is the one
marked `# bug`; the row names the exact fixed source that must be among the candidates generated for that line,
the operator that produces it and the words its description must use. Replacement rows give the buggy fragment
and its fix, so the expected source keeps every other character of the file, the marker comment included.
"""

from __future__ import annotations

import ast
import collections
import json

import pytest

from agent.repair.candidate import Candidate
from agent.repair.mutate import generate_candidates
from agent.repair.operators import prior

MARK = "# bug"
PATH = "pkg/mod.py"


def suspicious_line(source: str) -> int:
    """1-based number of the single line carrying the `# bug` marker."""
    found = [i for i, line in enumerate(source.splitlines(), 1) if MARK in line]
    assert len(found) == 1, f"fixture must mark exactly one line, found {found}"
    return found[0]


def fixed(source: str, bug: str, fix: str) -> str:
    """The source with `bug` replaced by `fix` on the marked line only (everything else kept byte for byte)."""
    lines = source.splitlines(keepends=True)
    index = suspicious_line(source) - 1
    assert lines[index].count(bug) == 1, f"{bug!r} must occur once on {lines[index]!r}"
    lines[index] = lines[index].replace(bug, fix)
    return "".join(lines)


def deleted(source: str) -> str:
    """The source without its marked line."""
    lines = source.splitlines(keepends=True)
    del lines[suspicious_line(source) - 1]
    return "".join(lines)


def candidates(source: str, line: int | None = None, **kwargs) -> list[Candidate]:
    line = suspicious_line(source) if line is None else line
    return generate_candidates(PATH, source, [(line, 1.0)], **kwargs)


def assert_well_formed(source: str, cands: list[Candidate]) -> None:
    """Invariants every candidate list must hold."""
    assert cands, "no candidates at all"
    texts = [c.new_text(source) for c in cands]
    assert len(set(texts)) == len(texts), "duplicate candidate sources"
    assert source not in texts, "a candidate is identical to the original"
    for cand in cands:
        ast.parse(cand.new_text(source))  # raises on a candidate that does not parse
        assert cand.path == PATH
        assert cand.description.strip() and cand.operator


def show(cands: list[Candidate], limit: int = 60) -> str:
    return "\n".join(f"  {c.operator:16} {c.cost:5} {c.description}" for c in cands[:limit])


def replace(case_id: str, source: str, bug: str, fix: str, operator: str | None, description: str, *marks):
    """A row whose fix rewrites part of the marked line."""
    return pytest.param(source, fixed(source, bug, fix), operator, description, id=case_id, marks=marks)


def whole(case_id: str, source: str, expected: str, operator: str | None, description: str, *marks):
    """A row whose fix is given as the whole expected file (statement insertions and deletions)."""
    return pytest.param(source, expected, operator, description, id=case_id, marks=marks)


# --- fixtures: small buggy functions ---------------------------------------------------------------------------

BINARY_SEARCH = """\
def binary_search(arr, x):
    lo, hi = 0, len(arr) - 1
    while lo < hi:  # bug: misses the last candidate
        mid = (lo + hi) // 2
        if arr[mid] < x:
            lo = mid + 1
        elif arr[mid] > x:
            hi = mid - 1
        else:
            return mid
    return -1
"""

SQRT = """\
def sqrt(x, epsilon):
    approx = x / 2
    while abs(x - approx ** 2) > epsilon:
        approx = 0.5 * (approx - x / approx)  # bug
    return approx
"""

MIDPOINT = """\
def midpoint(lo, hi):
    return (lo + hi) / 2  # bug: an index must be an int
"""

IN_RANGE = """\
def in_range(x, lo, hi):
    return x >= lo or x <= hi  # bug
"""

BITCOUNT = """\
def bitcount(n):
    count = 0
    while n:
        n ^= n - 1  # bug
        count += 1
    return count
"""

CLEAR_LOW_BIT = """\
def clear_low_bit(n):
    return n | (n - 1)  # bug
"""

PRIMES = """\
def primes_upto(n):
    out = []
    for k in range(2, n + 1):
        if not all(k % d for d in range(2, k)):  # bug
            out.append(k)
    return out
"""

ODDS = """\
def is_even(n):
    return n % 2 == 0


def odds(xs):
    out = []
    for x in xs:
        if is_even(x):  # bug
            out.append(x)
    return out
"""

ODDS_COMPREHENSION = """\
def is_even(n):
    return n % 2 == 0


def odds(xs):
    return [x for x in xs if is_even(x)]  # bug
"""

IS_ODD = """\
def is_even(n):
    return n % 2 == 0


def is_odd(n):
    return is_even(n)  # bug
"""

NEGATED_DISTANCE = """\
def distance(a, b):
    return -abs(a - b)  # bug
"""

IS_SORTED = """\
def is_sorted(xs):
    for a, b in zip(xs, xs[1:]):
        if a > b:
            return True  # bug
    return True
"""

TO_BASE = """\
import string


def to_base(num, b):
    result = ''
    alphabet = string.digits + string.ascii_uppercase
    while num > 0:
        i = num % b
        num = num // b
        result = result + alphabet[i]  # bug: digits come out reversed
    return result
"""

DISTANCE = """\
def elapsed(start, end):
    return start - end  # bug
"""

FACTORIAL = """\
def factorial(n):
    result = 0  # bug
    for k in range(1, n + 1):
        result *= k
    return result
"""

KTH_SMALLEST = """\
def kth_smallest(xs, k):
    return sorted(xs)[k]  # bug: k is 1-based
"""

LAST = """\
def last(xs):
    return xs[len(xs)]  # bug
"""

TAKE = """\
def take(xs, n):
    return xs[:n - 1]  # bug
"""

REST_AFTER = """\
def rest_after(xs, i):
    return xs[i:]  # bug: includes xs[i]
"""

SUM_TO = """\
def sum_to(n):
    total = 0
    for k in range(n):  # bug: n itself is left out
        total += k
    return total
"""

HARMONIC = """\
def harmonic(n):
    total = 0.0
    for k in range(n):  # bug: 1/0
        total += 1 / k
    return total
"""

COUNT_FROM_ZERO = """\
def squares(n):
    out = []
    for k in range(1, n):  # bug: 0 is a square too
        out.append(k * k)
    return out
"""

PAIRWISE = """\
def pairwise_diffs(xs):
    out = []
    prev = xs[0]
    for x in xs:  # bug: the first difference is always 0
        out.append(x - prev)
        prev = x
    return out
"""

TAIL_FROM = """\
def tail_from(xs, k):
    if xs[k] is None:
        return []
    return list(xs)  # bug
"""

TOTAL = """\
def total(xs):
    s = 0
    for x in xs[1:]:  # bug: skips the first element
        s += x
    return s
"""

FIND_MAX_INDEX = """\
def find_max_index(xs):
    best = 0
    for i in range(1, len(xs)):
        if xs[i] > xs[best]:
            best = i
    return i  # bug
"""

RECT = """\
class Rect:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.width  # bug
"""

SMALLEST = """\
def smallest(xs):
    return max(xs)  # bug
"""

ALL_POSITIVE = """\
def all_positive(xs):
    return any(x > 0 for x in xs)  # bug
"""

HAS_SUFFIX = """\
def has_suffix(name, suffix):
    return name.startswith(suffix)  # bug
"""

COUNT_ODDS = """\
def is_even(n):
    return n % 2 == 0


def is_odd(n):
    return n % 2 == 1


def count_odds(xs):
    return sum(1 for x in xs if is_even(x))  # bug
"""

POWER_MOD = """\
def power_mod(base, exp, mod):
    return pow(exp, base, mod)  # bug
"""

CLAMP = """\
def clamp(lo, x, hi):
    return max(lo, min(x, hi))


def clamp_all(xs, lo, hi):
    return [clamp(hi, lo, x) for x in xs]  # bug
"""

MEAN = """\
def mean(total, count):
    return int(total / count)  # bug: truncates
"""

MAX_SUBLIST_SUM = """\
def max_sublist_sum(arr):
    max_ending_here = 0
    max_so_far = 0
    for x in arr:
        max_ending_here = max_ending_here + x  # bug
        max_so_far = max(max_so_far, max_ending_here)
    return max_so_far
"""

LONGEST_RUN = """\
def longest_run(xs):
    best = cur = 0
    prev = None
    for x in xs:
        cur = cur + 1 if x == prev else 1
        best = cur  # bug: forgets earlier runs
        prev = x
    return best
"""

LEAVES = """\
def leaves(node):
    if node.children:
        return [leaf for child in node.children for leaf in leaves(child)]
    return []  # bug: a leaf is its own list of leaves
"""

CONTAINS = """\
def contains(xs, target):
    found = False
    for x in xs:
        if x == target:
            found = True
            break
    return True  # bug
"""

DRAIN = """\
def drain(stack):
    out = []
    while True:  # bug: pops from an empty stack
        out.append(stack.pop())
    return out
"""

BEST_SCORE = """\
def best_score(scores):
    best = None
    for s in scores:
        if s > best:  # bug: fails on the first score
            best = s
    return best
"""

EXTEND_RUN = """\
def extend_run(xs, x):
    if x > xs[-1]:  # bug: IndexError on []
        xs.append(x)
    return xs
"""

COUNT_EVENS = """\
def count_evens(xs):
    count = 0
    for x in xs:
        if x > 0 and x % 2 == 0:  # bug: negative evens count too
            count += 1
    return count
"""

RUNNING_TOTAL = """\
def running_total(xs):
    total = 0
    sums = []
    for x in xs:
        total = 0  # bug
        total += x
        sums.append(total)
    return sums
"""

SKIP_BLANKS = """\
def skip_blanks(lines):
    i = 0
    out = []
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        out.append(lines[i])  # bug: loops forever
    return out
"""

POSITIVES = """\
def positives(xs):
    out = []
    for x in xs:
        if x <= 0:  # bug: nothing is ever kept
            continue
    return out
"""

UNIQUE = """\
def unique(xs):
    seen = set()
    out = []
    for x in xs:
        if x not in seen:
            out.append(x)  # bug: seen never grows
    return out
"""

SQUARES = """\
def squares(xs):
    out = []
    for x in xs:  # bug: the function returns None
        out.append(x * x)
"""

REVERSE_LINKED_LIST = """\
def reverse_linked_list(node):
    prevnode = None
    while node:
        nextnode = node.successor
        node.successor = prevnode  # bug
        node = nextnode
    return prevnode
"""

MERGE = """\
def merge(left, right):
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])  # bug: j never advances
    return out + left[i:] + right[j:]
"""


def _insert_after_marked(source: str, text: str) -> str:
    lines = source.splitlines(keepends=True)
    lines.insert(suspicious_line(source), text + "\n")
    return "".join(lines)


OPERATOR_CASES = [
    replace("cmp-lt-to-le", BINARY_SEARCH, "lo < hi", "lo <= hi", "cmp_swap",
            "`<` changed to `<=` in `binary_search`, line 3"),
    replace("cmp-ge-to-gt", IN_RANGE, "x >= lo", "x > lo", "cmp_swap", "`>=` changed to `>`"),
    replace("arith-minus-to-plus", SQRT, "approx - x", "approx + x", "binop_swap", "`-` changed to `+`"),
    replace("arith-div-to-floordiv", MIDPOINT, "/ 2", "// 2", "binop_swap", "`/` changed to `//`"),
    replace("bool-or-to-and", IN_RANGE, " or ", " and ", "boolop_swap", "`or` changed to `and`"),
    replace("bitwise-or-to-and", CLEAR_LOW_BIT, "n | (n - 1)", "n & (n - 1)", "binop_swap", "`|` changed to `&`"),
    replace("bitwise-augassign-xor-to-and", BITCOUNT, "n ^= n - 1", "n &= n - 1", "augassign_swap",
            "`^=` changed to `&=`"),
    replace("negation-removed", PRIMES, "if not all(", "if all(", "negation_drop",
            "`not` removed from `not all(k % d for d in range(2, k))`"),
    replace("negation-added-if", ODDS, "if is_even(x)", "if not is_even(x)", "negation_add",
            "condition `is_even(x)` negated"),
    replace("negation-added-comprehension-filter", ODDS_COMPREHENSION, "if is_even(x)", "if not is_even(x)",
            "negation_add", "is_even(x)"),
    replace("negation-added-returned-predicate", IS_ODD, "return is_even(n)", "return not is_even(n)",
            "negation_add", "is_even(n)"),
    replace("unary-minus-removed", NEGATED_DISTANCE, "-abs(", "abs(", "negation_drop",
            "`-` removed from `-abs(a - b)`"),
    replace("operands-swapped-concat", TO_BASE, "result + alphabet[i]", "alphabet[i] + result", "operand_swap",
            "operands of `result + alphabet[i]` swapped"),
    replace("operands-swapped-minus", DISTANCE, "start - end", "end - start", "operand_swap",
            "operands of `start - end` swapped"),
]

OFF_BY_ONE_CASES = [
    replace("constant-plus-one", FACTORIAL, "result = 0", "result = 1", "off_by_one", "constant `0` changed to `1`"),
    replace("index-minus-one", KTH_SMALLEST, "[k]", "[k - 1]", "off_by_one", "index `k` changed to `k - 1`"),
    replace("index-len-minus-one", LAST, "xs[len(xs)]", "xs[len(xs) - 1]", "off_by_one",
            "index `len(xs)` changed to `len(xs) - 1`"),
    replace("slice-upper-bound", TAKE, "xs[:n - 1]", "xs[:n]", "off_by_one",
            "upper slice bound `n - 1` changed to `n`"),
    replace("slice-lower-bound", REST_AFTER, "xs[i:]", "xs[i + 1:]", "off_by_one",
            "lower slice bound `i` changed to `i + 1`"),
    replace("range-bound-plus-one", SUM_TO, "range(n)", "range(n + 1)", "off_by_one",
            "range bound `n` changed to `n + 1`"),
    replace("range-start-added", HARMONIC, "range(n)", "range(1, n)", "off_by_one",
            "`range(n)` changed to `range(1, n)`"),
    replace("range-start-removed", COUNT_FROM_ZERO, "range(1, n)", "range(n)", "arg_drop",
            "argument `1` dropped from `range()`"),
    replace("slice-added-1", PAIRWISE, "in xs:", "in xs[1:]:", "slice_add", "`xs` changed to `xs[1:]`"),
    replace("slice-added-k", TAIL_FROM, "list(xs)", "list(xs[k:])", "slice_add", "`xs` changed to `xs[k:]`"),
    replace("slice-removed", TOTAL, "xs[1:]", "xs", "slice_drop", "slice `xs[1:]` replaced by `xs`"),
]

NAME_CASES = [
    replace("variable", FIND_MAX_INDEX, "return i", "return best", "name_replace", "`i` replaced by `best`"),
    replace("sibling-attribute", RECT, "self.width * self.width", "self.width * self.height", "attr_replace",
            "`.width` replaced by `.height`"),
    replace("max-to-min", SMALLEST, "max(xs)", "min(xs)", "call_replace", "`max()` replaced by `min()`"),
    replace("any-to-all", ALL_POSITIVE, "any(", "all(", "call_replace", "`any()` replaced by `all()`"),
    replace("method-sibling", HAS_SUFFIX, ".startswith(", ".endswith(", "call_replace",
            "`.startswith()` replaced by `.endswith()`"),
    replace("function-in-scope", COUNT_ODDS, "is_even(x)", "is_odd(x)", "call_replace",
            "`is_even()` replaced by `is_odd()`"),
    replace("args-swapped", POWER_MOD, "pow(exp, base, mod)", "pow(base, exp, mod)", "args_swap",
            "arguments `exp` and `base` swapped"),
    replace("args-rotated", CLAMP, "clamp(hi, lo, x)", "clamp(lo, x, hi)", "args_rotate",
            "arguments of `clamp` rotated"),
]

EXPRESSION_CASES = [
    replace("call-unwrapped", MEAN, "int(total / count)", "total / count", "call_unwrap",
            "`int(total / count)` changed to `total / count`"),
    replace("wrapped-max-0", MAX_SUBLIST_SUM, "= max_ending_here + x", "= max(0, max_ending_here + x)", "call_wrap",
            "`max_ending_here + x` wrapped as `max(0, max_ending_here + x)`"),
    replace("wrapped-max-name", LONGEST_RUN, "best = cur", "best = max(best, cur)", "call_wrap",
            "max(best, cur)"),
    replace("empty-list-filled", LEAVES, "return []", "return [node]", "literal_fill", "`[]` changed to `[node]`"),
    replace("true-to-false", IS_SORTED, "return True", "return False", "constant_replace",
            "`True` changed to `False`"),
    replace("true-to-name", CONTAINS, "return True", "return found", "constant_to_name",
            "`True` changed to `found`"),
    replace("while-true-to-condition", DRAIN, "while True", "while stack", "constant_to_name",
            "`True` changed to `stack`"),
]

CONDITION_CASES = [
    replace("guard-is-none", BEST_SCORE, "if s > best", "if best is None or s > best", "guard_add",
            "condition `s > best` changed to `best is None or s > best`"),
    replace("guard-not-empty", EXTEND_RUN, "if x > xs[-1]", "if not xs or x > xs[-1]", "guard_add",
            "condition `x > xs[-1]` changed to `not xs or x > xs[-1]`"),
    replace("clause-dropped", COUNT_EVENS, "x > 0 and x % 2 == 0", "x % 2 == 0", "clause_drop",
            "clause `x > 0` dropped"),
]

STATEMENT_CASES = [
    whole("deleted", RUNNING_TOTAL, deleted(RUNNING_TOTAL), "stmt_delete", "deleted `total = 0`"),
    whole("inserted-copy-of-nearby", SKIP_BLANKS, _insert_after_marked(SKIP_BLANKS, "        i += 1"), "stmt_insert",
          "inserted `i += 1` after `out.append(lines[i])`"),
    # the marked line is the `if`; the statement goes after its whole block (its one-line body `continue`)
    whole("inserted-append", POSITIVES, POSITIVES.replace("continue\n", "continue\n        out.append(x)\n"),
          "stmt_insert", "inserted `out.append(x)` after `if x <= 0:"),
    whole("inserted-set-add", UNIQUE, _insert_after_marked(UNIQUE, "            seen.add(x)"), "stmt_insert",
          "inserted `seen.add(x)` after `out.append(x)`"),
    whole("inserted-return", SQUARES, SQUARES + "    return out\n", "return_add",
          "added `return out` at the end of `squares`"),
    whole("inserted-assignment-shape", REVERSE_LINKED_LIST,
          _insert_after_marked(REVERSE_LINKED_LIST, "        prevnode = node"), "stmt_insert",
          "prevnode = node"),
    whole("inserted-counter-shape", MERGE, _insert_after_marked(MERGE, "            j += 1"), "stmt_insert",
          "j += 1"),
]


# --- fixtures for the ingredient shapes (CapGen / ssFix / SimFix) ---------------------------------------------

DEPTH = """\
def depth(node, child_depth):
    return 1 + child_depth(node)  # bug: the caller already counts this level
"""

SHORTEST_PATHS = """\
def shortest_paths(source, weight_by_edge):
    weight_by_node = {v: float('inf') for u, v in weight_by_edge}
    weight_by_node[source] = 0
    for i in range(len(weight_by_node) - 1):
        for (u, v), weight in weight_by_edge.items():
            weight_by_edge[u, v] = min(weight_by_node[u] + weight, weight_by_node[v])  # bug
    return weight_by_node
"""

WINDOW_TOTAL = """\
def window_total(values, start, stop):
    width = stop - start
    chunk = values[start:stop]
    return sum(values) / width  # bug: the window, not the whole list
"""

SPREAD = """\
def spread(low, high, delta):
    lo = abs(low)
    hi = abs(high)
    return hi - lo + delta  # bug: delta is a distance too
"""

SCALE = """\
def scale(width, height, border):
    w = width * 2
    h = height * 2
    return w + h + border  # bug: the border is doubled like the rest
"""

BUCKET = """\
def first_of(cache, key):
    if cache[key]:  # bug: a defaultdict lookup adds the key
        return cache[key][0]
    return None
"""

INGREDIENT_CASES = [
    replace("lookup-made-forgiving", BUCKET, "if cache[key]", "if cache.get(key)", "subscript_get",
            "`cache[key]` changed to `cache.get(key)`"),
    replace("operand-dropped", DEPTH, "1 + child_depth(node)", "child_depth(node)", "operand_drop",
            "`1 + child_depth(node)` changed to `child_depth(node)`"),
    replace("donor-expression", SHORTEST_PATHS, "weight_by_edge[u, v] = min", "weight_by_node[v] = min",
            "donor_replace", "`weight_by_edge[u, v]` replaced by `weight_by_node[v]`"),
    replace("bound-variable", WINDOW_TOTAL, "sum(values)", "sum(chunk)", "name_replace",
            "`values` replaced by `chunk`"),
    replace("subexpression-to-bound-variable", WINDOW_TOTAL, "return sum(values) / width", "return chunk / width",
            "expr_to_name", "`sum(values)` replaced by `chunk`"),
    replace("operation-from-nearby-abs", SPREAD, "+ delta", "+ abs(delta)", "op_apply",
            "`delta` changed to `abs(delta)`"),
    replace("operation-from-nearby-times", SCALE, "+ border", "+ border * 2", "op_apply",
            "`border` changed to `border * 2`"),
]

ALL_CASES = (OPERATOR_CASES + OFF_BY_ONE_CASES + NAME_CASES + EXPRESSION_CASES + CONDITION_CASES + STATEMENT_CASES
             + INGREDIENT_CASES)


@pytest.mark.parametrize(("source", "expected", "operator", "description"), ALL_CASES)
def test_fix_is_among_candidates(source: str, expected: str, operator: str, description: str) -> None:
    ast.parse(expected)  # the row itself is sound
    cands = candidates(source)
    assert_well_formed(source, cands)
    matches = [c for c in cands if c.new_text(source) == expected]
    assert matches, f"expected fix not generated; candidates:\n{show(cands)}"
    (match,) = matches
    assert match.operator == operator, match
    assert description in match.description, match.description


# --- formatting: untouched text survives byte for byte --------------------------------------------------------

FORMATTED = """\
# -*- coding: utf-8 -*-
\"\"\"Module docstring — with ünïcode.\"\"\"

LIMIT   =  10    # odd spacing at module level


def label(lo, hi):   # header comment
    \"\"\"Docstring line.\"\"\"
    lo,hi = lo , hi-1        # odd spacing kept

    # a comment between statements
    text = "größe ✓" if lo<hi else "klein"  # bug: non-ASCII before the change
    return text   # trailing   comment
"""


def test_untouched_lines_keep_their_exact_text() -> None:
    cands = candidates(FORMATTED)
    assert_well_formed(FORMATTED, cands)
    marked = suspicious_line(FORMATTED)
    original = FORMATTED.splitlines(keepends=True)
    others = collections.Counter(line for i, line in enumerate(original, 1) if i != marked)
    for cand in cands:
        kept = collections.Counter(cand.new_text(FORMATTED).splitlines(keepends=True))
        lost = others - kept
        assert not lost, f"{cand.description} changed untouched lines {list(lost)}"


def test_edit_on_the_marked_line_keeps_its_spacing_comment_and_unicode() -> None:
    cands = candidates(FORMATTED)
    expected = fixed(FORMATTED, "lo<hi", "lo<=hi")
    (match,) = [c for c in cands if c.new_text(FORMATTED) == expected]
    assert match.operator == "cmp_swap"
    assert match.description == "`<` changed to `<=` in `label`, line 12"
    negated = fixed(FORMATTED, "if lo<hi else", "if not (lo<hi) else")
    assert any(c.new_text(FORMATTED) == negated for c in cands), show(cands)


def test_inserted_statement_takes_the_indentation_of_its_block() -> None:
    cands = [c for c in candidates(SKIP_BLANKS) if c.operator == "stmt_insert"]
    assert cands
    for cand in cands:
        new_line = cand.new_text(SKIP_BLANKS).splitlines()[cand.line - 1]
        assert new_line.startswith("        ") and not new_line.startswith("         "), (cand.description, new_line)


def test_deleting_the_only_statement_of_a_block_leaves_pass() -> None:
    source = "def f(xs):\n    for x in xs:\n        print(x)  # bug\n    return xs\n"
    cands = candidates(source)
    (match,) = [c for c in cands if c.operator == "stmt_delete"]
    assert match.new_text(source) == "def f(xs):\n    for x in xs:\n        pass\n    return xs\n"


# --- per-family invariants over every fixture ------------------------------------------------------------------

FIXTURES = {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, str) and value.endswith("\n") and MARK in value}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_candidates_are_unique_parse_and_differ_from_the_original(name: str) -> None:
    source = FIXTURES[name]
    cands = candidates(source)
    assert_well_formed(source, cands)
    keys = [(-prior(c.operator), c.cost) for c in cands]
    assert keys == sorted(keys), "one line: likeliest shapes first, then simplest first"


# --- ranking and API promises ----------------------------------------------------------------------------------

def test_operator_swaps_rank_before_guards_and_statement_edits() -> None:
    cands = candidates(BINARY_SEARCH)
    assert cands[0].new_text(BINARY_SEARCH) == fixed(BINARY_SEARCH, "lo < hi", "lo <= hi")
    position = {c.operator: i for i, c in reversed(list(enumerate(cands)))}  # first index of each operator
    last_swap = max(i for i, c in enumerate(cands) if c.operator == "cmp_swap")
    for heavier in ("guard_add", "stmt_insert"):
        assert last_swap < position[heavier], show(cands)


def test_more_suspicious_line_first_and_dedup_across_lines() -> None:
    first, second = 3, 6  # `while lo < hi`, `lo = mid + 1`
    ranked = generate_candidates(PATH, BINARY_SEARCH, [(first, 0.9), (second, 0.4)])
    alone_first = generate_candidates(PATH, BINARY_SEARCH, [(first, 0.9)])
    alone_second = generate_candidates(PATH, BINARY_SEARCH, [(second, 0.4)])
    seen = {c.new_text(BINARY_SEARCH) for c in alone_first}
    assert ranked == alone_first + [c for c in alone_second if c.new_text(BINARY_SEARCH) not in seen]
    texts = [c.new_text(BINARY_SEARCH) for c in ranked]
    assert len(texts) == len(set(texts))


def test_same_statement_twice_is_mutated_once() -> None:
    multi = "def f(a, b):\n    return (a +\n            b)  # bug\n"
    once = generate_candidates(PATH, multi, [(2, 1.0)])
    assert generate_candidates(PATH, multi, [(2, 1.0), (3, 0.5)]) == once
    assert generate_candidates(PATH, multi, [(3, 1.0)]) == once


def test_limit_truncates_the_ranked_list_and_generation_is_deterministic() -> None:
    full = candidates(BINARY_SEARCH)
    assert len(full) > 5
    assert candidates(BINARY_SEARCH, limit=5) == full[:5]
    assert candidates(BINARY_SEARCH) == full


def test_similar_names_first_and_issue_terms_make_named_replacements_cheaper() -> None:
    source = "def f(total, totals, n):\n    return total  # bug\n"
    similar, named = fixed(source, "return total", "return totals"), fixed(source, "return total", "return n")

    def rank(target: str, **kwargs) -> tuple[float, int]:
        cands = candidates(source, **kwargs)
        index = [c.new_text(source) for c in cands].index(target)
        return cands[index].cost, index

    assert rank(similar) < rank(named)  # `totals` is closer to `total` than `n` is
    plain_cost, plain_index = rank(named)
    term_cost, term_index = rank(named, issue_terms={"n"})
    assert term_cost < plain_cost
    assert term_index < plain_index


def test_candidate_fields_name_the_place_and_serialise() -> None:
    cands = candidates(RECT)
    line = suspicious_line(RECT)
    assert {c.function for c in cands} == {"Rect.area"}
    assert all(c.line >= line for c in cands)
    same_line = [c for c in cands if c.operator != "stmt_insert"]
    assert all(c.line == line for c in same_line)
    assert all(f"in `Rect.area`, line {line}" in c.description for c in same_line)
    data = cands[0].to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"splices", "line", "operator", "description", "function", "cost", "parts"}


@pytest.mark.parametrize(("source", "line"), [
    pytest.param("def f(:\n    return 1\n", 1, id="syntax-error"),
    pytest.param("x = 1\n\n# comment\n", 3, id="comment-line"),
    pytest.param("x = 1\n", 99, id="past-the-end"),
])
def test_nothing_to_mutate_gives_no_candidates(source: str, line: int) -> None:
    assert generate_candidates(PATH, source, [(line, 1.0)]) == []


# --- candidate metadata ----------------------------------------------------------------------------------------

def test_statement_added_at_the_end_of_a_function_belongs_to_that_function() -> None:
    cands = [c for c in candidates(SQUARES) if c.operator in ("return_add", "stmt_insert")]
    assert cands
    assert {c.function for c in cands} == {"squares"}


def test_descriptions_quote_code_without_comments() -> None:
    cands = candidates(POSITIVES)
    assert cands
    assert all("#" not in c.description for c in cands), show([c for c in cands if "#" in c.description])


def test_two_edits_of_one_name_on_a_line_read_differently():
    """A user approving by the description must tell `max(high, ...)` from `min(value, high)` (a new-user trial
    was offered both, one after the other, as "`low` replaced by `high` in `clamp`, line 2")."""
    source = "def clamp(value, low, high):\n    return max(low, min(value, low))\n"
    described = [c.description for c in generate_candidates("clamp.py", source, [(2, 1.0)])
                 if c.description.startswith("`low`") and "replaced by `high`" in c.description]
    assert described == ["`low` (column 16) replaced by `high` in `clamp`, line 2",  # max(...) holds both
                         "`low` in `min(value, low)` replaced by `high` in `clamp`, line 2"]


def test_a_constant_may_become_another_number_its_function_writes():
    """`/ 10` → `/ 100` (a new-user trial's bug the search never tried): the numbers of the same function are
    ingredients, nearest first; the ±1 neighbours stay the off-by-one operators'."""
    source = ("def percent(part, whole):\n    if whole == 0:\n        return 100\n    return part / whole * 10\n")
    donors = [c for c in generate_candidates("p.py", source, [(4, 1.0)]) if c.operator == "constant_donor"]
    assert [c.description for c in donors] == ["`10` changed to `100` in `percent`, line 4",
                                               "`10` changed to `0` in `percent`, line 4"]
    assert "return part / whole * 100\n" in donors[0].new_text(source)


def test_two_edits_inside_one_expression_read_differently_too():
    source = "def clamp(value, low, high):\n    return min(low, low)\n"
    described = [c.description for c in generate_candidates("clamp.py", source, [(2, 1.0)])
                 if c.description.startswith("`low`") and "replaced by `high`" in c.description]
    assert len(described) == 2 and len(set(described)) == 2, described


def test_float_constants_take_donors_and_no_donor_makes_an_identity():
    source = ("def price(total):\n    if total > 100.0:\n        return total * 0.9\n    return total * 0.25 + 5\n")
    donors = [c.description for c in generate_candidates("p.py", source, [(4, 1.0)]) if c.operator == "constant_donor"]
    assert "`0.25` changed to `0.9` in `price`, line 4" in donors
    assert not any("`5` changed to `0`" in d for d in donors)  # `+ 0` is a deletion, said by other shapes
