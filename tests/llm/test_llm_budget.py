"""TokenBudget: per-node and per-task accounting, refusal when spent, cost, round trip through state."""

from __future__ import annotations

import json

import pytest

from agent.llm.budget import TokenBudget
from agent.llm.errors import BudgetExhausted


def test_accounting_by_node_and_total():
    budget = TokenBudget(1000)
    budget.record("manager", 100, 20)
    budget.record("coder", 200, 50)
    budget.record("coder", 10, 5)
    usage = budget.usage()
    assert usage == {"prompt": 310, "completion": 75, "total": 385, "by_node": {
        "coder": {"prompt": 210, "completion": 55, "total": 265, "calls": 2},
        "manager": {"prompt": 100, "completion": 20, "total": 120, "calls": 1}}}
    assert "cost" not in usage and budget.remaining == 615


def test_round_trip_through_json_state():
    budget = TokenBudget(1000)
    budget.record("manager", 100, 20)
    again = TokenBudget(1000, spent=json.loads(json.dumps(budget.usage())))
    again.record("coder", 1, 1)
    assert again.usage()["total"] == 122 and again.usage()["by_node"]["manager"]["calls"] == 1


def test_check_refuses_when_spent_or_when_the_next_prompt_cannot_fit():
    budget = TokenBudget(1000)
    budget.check()
    budget.record("coder", 900, 50)
    budget.check(upcoming=50)
    with pytest.raises(BudgetExhausted, match="cannot cover the next call"):
        budget.check(upcoming=51)
    budget.record("coder", 40, 20)
    with pytest.raises(BudgetExhausted, match=r"budget \(1,000 tokens\) is spent \(1,010 tokens used\)"):
        budget.check()


def test_cost_estimate_from_prices():
    budget = TokenBudget(10_000, prompt_price_per_1k=0.5, completion_price_per_1k=1.5)
    budget.record("coder", 2000, 1000)
    assert budget.usage()["cost"] == pytest.approx(2.5)


def test_bad_limit():
    with pytest.raises(ValueError):
        TokenBudget(0)
