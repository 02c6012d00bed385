"""Token accounting per task and per graph node, rebuilt from (and saved to) the checkpointed state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.llm.errors import BudgetExhausted

CHARS_PER_TOKEN = 4  # rough size of a token in English text and code; only used for estimates


def estimate_tokens(text: str) -> int:
    """A cheap upper-bound-ish estimate of the tokens in text (no tokenizer needed)."""
    return len(text) // CHARS_PER_TOKEN + 1


class TokenBudget:
    """Counts prompt and completion tokens; `check()` refuses a call once `limit` total tokens are spent.

    Prices are optional (per 1,000 tokens, in any currency); with both at zero no cost is reported.
    """

    def __init__(self, limit: int, *, prompt_price_per_1k: float = 0.0, completion_price_per_1k: float = 0.0,
                 spent: Mapping[str, Any] | None = None) -> None:
        if limit < 1:
            raise ValueError("the token budget must be at least 1 token")
        self.limit = limit
        self.prompt_price = prompt_price_per_1k
        self.completion_price = completion_price_per_1k
        self.prompt = 0
        self.completion = 0
        self.by_node: dict[str, dict[str, int]] = {}
        if spent:
            self.prompt = int(spent.get("prompt", 0))
            self.completion = int(spent.get("completion", 0))
            for node, used in (spent.get("by_node") or {}).items():
                self.by_node[node] = {k: int(used.get(k, 0)) for k in ("prompt", "completion", "total", "calls")}

    @property
    def total(self) -> int:
        """Prompt plus completion tokens spent so far."""
        return self.prompt + self.completion

    @property
    def remaining(self) -> int:
        """Tokens left (never negative)."""
        return max(0, self.limit - self.total)

    def check(self, upcoming: int = 0) -> None:
        """Raise BudgetExhausted when the budget is spent, or when `upcoming` prompt tokens cannot fit."""
        if self.total >= self.limit:
            raise BudgetExhausted(f"the LLM token budget ({self.limit:,} tokens) is spent "
                                  f"({self.total:,} tokens used); raise LLM_TOKEN_BUDGET to go further")
        if upcoming > self.remaining:
            raise BudgetExhausted(f"the LLM token budget ({self.limit:,} tokens) cannot cover the next call "
                                  f"(about {upcoming:,} prompt tokens, {self.remaining:,} left); "
                                  "raise LLM_TOKEN_BUDGET to go further")

    def record(self, node: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Add one call's usage to the task and to `node`."""
        prompt_tokens, completion_tokens = max(0, prompt_tokens), max(0, completion_tokens)
        self.prompt += prompt_tokens
        self.completion += completion_tokens
        used = self.by_node.setdefault(node, {"prompt": 0, "completion": 0, "total": 0, "calls": 0})
        used["prompt"] += prompt_tokens
        used["completion"] += completion_tokens
        used["total"] += prompt_tokens + completion_tokens
        used["calls"] += 1

    def cost(self) -> float:
        """Estimated cost of the tokens spent, from the per-1k prices."""
        return round(self.prompt / 1000 * self.prompt_price + self.completion / 1000 * self.completion_price, 6)

    def usage(self) -> dict[str, Any]:
        """JSON-able totals: prompt, completion, total, by_node (and cost when prices are set)."""
        data: dict[str, Any] = {"prompt": self.prompt, "completion": self.completion, "total": self.total,
                                "by_node": {node: dict(used) for node, used in sorted(self.by_node.items())}}
        if self.prompt_price or self.completion_price:
            data["cost"] = self.cost()
        return data
