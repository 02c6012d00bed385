"""Candidate generation: every operator at every suspicious statement, ranked, deduplicated, compiled."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Sequence

from agent.edits.splice import Splice, minimal
from agent.repair.candidate import Candidate
from agent.repair.operators import Mutation, Site, header_roots, prior
from agent.repair.operators.conditions import condition_mutations
from agent.repair.operators.expressions import expression_mutations
from agent.repair.operators.extensions import extension_mutations
from agent.repair.operators.ingredients import ingredient_mutations
from agent.repair.operators.names import name_mutations
from agent.repair.operators.offbyone import off_by_one_mutations
from agent.repair.operators.operators import operator_mutations
from agent.repair.operators.statements import statement_mutations
from agent.repair.region import syntax_error
from agent.repair.scope import ModuleIndex, Scope
from agent.repair.source import SourceFile

FAMILIES = (operator_mutations, off_by_one_mutations, condition_mutations, name_mutations, expression_mutations,
            extension_mutations, statement_mutations, ingredient_mutations)
PER_LINE_LIMIT = 400


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def statements_at(tree: ast.AST, line: int) -> list[ast.stmt]:
    """The innermost statement whose own header covers line (a compound statement's body excluded)."""
    return _headers_at(_headers(tree), line)


def _headers(tree: ast.AST) -> list[tuple[int, int, ast.stmt]]:
    """(first, last line of its own header, statement) for every statement but definitions."""
    spans: list[tuple[int, int, ast.stmt]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = body[0].lineno - 1 if body[0].lineno > node.lineno else node.lineno
        spans.append((start, end, node))
    return spans


def _headers_at(spans: list[tuple[int, int, ast.stmt]], line: int) -> list[ast.stmt]:
    found = [node for start, end, node in spans if start <= line <= end]
    found.sort(key=lambda n: (n.lineno, -(n.col_offset)), reverse=True)
    return found[:1]


def _site_mutations(sf: SourceFile, scope: Scope, stmt: ast.stmt, parents: dict[int, ast.AST],
                    terms: frozenset[str]) -> Iterator[Mutation]:
    site = Site(sf, stmt, header_roots(stmt), scope, terms, parents)
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
        sf = SourceFile(source, path)
    except SyntaxError:
        return []
    index = ModuleIndex(sf.tree)
    parents = _parents(sf.tree)
    terms = frozenset(issue_terms)
    seen: set[Splice] = set()
    ranked: list[tuple[float, float, int, Candidate]] = []
    done_statements: set[int] = set()
    order = 0
    headers = _headers(sf.tree)
    scores = [score for _line, score in suspicious]
    for position, (line, score) in enumerate(suspicious):
        if limit is not None and len(ranked) >= limit:
            # Lines come most suspicious first: once `limit` candidates outrank every line still to come,
            # those lines cannot reach the result, so their (costly) generation is skipped.
            below = max(scores[position:])
            if sum(1 for item in ranked if -item[0] > below) >= limit:
                break
        for stmt in _headers_at(headers, line):
            if id(stmt) in done_statements:
                continue
            done_statements.add(id(stmt))
            scope = index.scope_at(stmt.lineno)  # an appended line may lie past its function's last line
            per_line: list[tuple[Splice, Mutation]] = []
            for mutation in _site_mutations(sf, scope, stmt, parents, terms):
                splice = minimal(source, mutation.splice)
                if splice in seen or (splice.start == splice.end and not splice.text):
                    continue
                seen.add(splice)
                per_line.append((splice, mutation))
            per_line.sort(key=lambda item: item[1].cost)
            for splice, mutation in per_line[:PER_LINE_LIMIT]:
                if syntax_error(path, source, [splice]) is not None:
                    continue
                cand = Candidate((splice,), mutation.line, mutation.operator, mutation.description, scope.qualname,
                                 round(mutation.cost, 3))
                ranked.append((-score * prior(mutation.operator), mutation.cost, order, cand))
                order += 1
    ranked.sort(key=lambda item: (item[0], item[1], item[2]))
    result = [item[3] for item in ranked]
    return result[:limit] if limit is not None else result
