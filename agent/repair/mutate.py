"""Candidate generation: every operator at every suspicious statement, ranked, deduplicated, compiled."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Collection, Iterator, Sequence

from agent.repair.candidate import Candidate
from agent.repair.operators import Mutation, Site, header_roots
from agent.repair.operators.conditions import condition_mutations
from agent.repair.operators.expressions import expression_mutations
from agent.repair.operators.names import name_mutations
from agent.repair.operators.offbyone import off_by_one_mutations
from agent.repair.operators.operators import operator_mutations
from agent.repair.operators.statements import statement_mutations
from agent.repair.scope import ModuleIndex
from agent.repair.source import SourceFile

FAMILIES = (operator_mutations, off_by_one_mutations, condition_mutations, name_mutations, expression_mutations,
            statement_mutations)
PER_LINE_LIMIT = 400


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def statements_at(tree: ast.AST, line: int) -> list[ast.stmt]:
    """The innermost statement whose own header covers line (a compound statement's body excluded)."""
    found: list[ast.stmt] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = body[0].lineno - 1 if body[0].lineno > node.lineno else node.lineno
        if start <= line <= end:
            found.append(node)
    found.sort(key=lambda n: (n.lineno, -(n.col_offset)), reverse=True)
    return found[:1]


def _site_mutations(sf: SourceFile, index: ModuleIndex, stmt: ast.stmt, parents: dict[int, ast.AST],
                    terms: frozenset[str]) -> Iterator[Mutation]:
    site = Site(sf, stmt, header_roots(stmt), index.scope_at(stmt.lineno), terms, parents)
    for family in FAMILIES:
        yield from family(site)


def generate_candidates(
    path: str,
    source: str,
    suspicious: Sequence[tuple[int, float]],
    *,
    issue_terms: Collection[str] = (),
    limit: int | None = None,
) -> list[Candidate]:
    """Candidates at the suspicious lines, most suspicious line first, then simplest first."""
    try:
        sf = SourceFile(source)
    except SyntaxError:
        return []
    index = ModuleIndex(sf.tree)
    parents = _parents(sf.tree)
    terms = frozenset(issue_terms)
    seen: set[str] = {source}
    ranked: list[tuple[float, float, int, Candidate]] = []
    done_statements: set[int] = set()
    order = 0
    for line, score in suspicious:
        for stmt in statements_at(sf.tree, line):
            if id(stmt) in done_statements:
                continue
            done_statements.add(id(stmt))
            per_line: list[Mutation] = []
            for mutation in _site_mutations(sf, index, stmt, parents, terms):
                if mutation.new_source in seen:
                    continue
                seen.add(mutation.new_source)
                per_line.append(mutation)
            per_line.sort(key=lambda m: m.cost)
            for mutation in per_line[:PER_LINE_LIMIT]:
                if not _compiles(mutation.new_source, path):
                    continue
                scope = index.scope_at(mutation.line)
                cand = Candidate(path, mutation.new_source, mutation.line, mutation.operator,
                                 mutation.description, scope.qualname, round(mutation.cost, 3))
                ranked.append((-score, mutation.cost, order, cand))
                order += 1
    ranked.sort(key=lambda item: (item[0], item[1], item[2]))
    result = [item[3] for item in ranked]
    return result[:limit] if limit is not None else result


def _compiles(source: str, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. SyntaxWarning for `x is 0` in a mutant: not our output
        try:
            compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True
