"""The graph's state: plain JSON-able data only, so every checkpoint can be stored and resumed."""

from __future__ import annotations

from typing import Any, TypedDict


class FixState(TypedDict, total=False):
    """One task's progress through the graph. Nodes return only the keys they change."""

    task_id: str
    request: dict[str, Any]  # FixRequest.to_dict()
    workspace: str  # host directory holding the pristine checkout
    base_commit: str | None  # the commit the checkout was fetched at (proofs ran on it); None: a copied working tree
    engine: str  # "search" | "llm" | "auto"
    llm_available: bool  # a model is configured for this task
    started_at: float  # wall clock (time.time()) when the task began
    status: str  # running | fixed | not_fixed | no_failure | error | budget_exhausted
    message: str  # one line for the user when the task ends without a fix
    setup_done: bool  # the optional setup command ran (it is not repeated when reproduce runs again)
    baseline: dict[str, Any]  # agent.baseline.baseline_of: failing, passing, flaky, slow, hung, environment, ...
    coverage_path: str  # host file with the runner's coverage JSON
    coverage_tests: int  # coverage ran for only this many tests (those that matter); absent: every test
    suspects: list[dict[str, Any]]
    terms: list[str]
    localization: dict[str, Any]  # {"mode", "degraded", "why"}: how suspects were ranked
    cursor: int  # index of the next search candidate to consider
    batch: list[int]  # candidate ids proposed by repair
    reviewed: list[int]  # candidate ids that passed review
    rejected: dict[str, int]  # review rejection reasons → count
    candidates_tried: int
    partial: dict[str, list[str]]  # candidate id → the failing tests it alone made pass (not all of them)
    pairs: list[list[int]]  # pairs of candidate ids combined into pair candidates, in the order added
    pair_queue: list[int]  # pair candidates waiting for validation (tried before further single edits)
    pairs_at_places: bool  # the pairs at the top suspicious places were added
    search_notes: str  # what the search learned for the LLM (e.g. which tests each best single edit fixes)
    search_batches: int
    search_started_at: float  # wall clock of the first repair step (engine auto measures its budget from it)
    search_exhausted: bool  # engine auto: the search gave up and the LLM takes over
    search_message: str  # why the search gave up (kept for the final message)
    attempts: int  # LLM coder attempts
    plausible: dict[str, Any] | None  # the proven candidate
    test_results: list[dict[str, Any]]
    phase_times: dict[str, float]
    tokens: dict[str, int]
    analysis: str
    final_patch: dict[str, Any] | None
    risk: dict[str, Any] | None
    # The LLM engine.
    llm_plan: str
    llm_candidate: dict[str, Any] | None
    llm_feedback: str
    llm_review: dict[str, Any]
    repro_test: dict[str, Any] | None  # the reproduction test the model wrote (part of the patch)
    repro_attempts: int
    repro_feedback: str
    # Human in the loop (the task service; `fixbot fix` leaves approval False and never pauses).
    approval: bool  # stop at `propose` for a person's decision once a patch is proven
    decision: dict[str, Any] | None  # {"action": "approve" | "reject" | "retry", "by", "at", "feedback"}
    human_feedback: list[str]  # every reviewer's feedback so far, oldest first
    retry_with: str  # "search" | "llm": where a rejected proposal's repair continues
    rejected_sources: list[dict[str, str]]  # {"path", "sha256"} of candidate files a person rejected
    extra_attempts: int  # LLM coder attempts granted on top of MAX_ATTEMPTS by a "retry" decision
    publication: dict[str, Any] | None  # {"branch", "commit", "base_commit", "pr_url", "patch"} after approval
