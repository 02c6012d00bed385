"""Modals and the App Home: pure functions returning slack_sdk `View`s (see chatbot.slack.blocks for messages)."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from agent.request import DEFAULT_TEST_COMMAND
from chatbot.slack.blocks import elapsed, task_line
from chatbot.slack.fix_command import ENGINES
from chatbot.slack.text import cut

FIX_MODAL, FEEDBACK_MODAL = "fixbot_fix_modal", "fixbot_feedback_modal"
FIELDS = ("repo", "issue", "test", "branch", "setup")  # block ids of the /fix modal (action id = block id)


def render_fix_modal(channel: str, defaults: dict[str, str]) -> View:
    """The form `/fix` alone opens; the channel's defaults are filled in."""

    def text_input(name: str, label: str, hint: str, *, optional: bool, multiline: bool = False,
                   max_length: int = 500) -> InputBlock:
        element = PlainTextInputElement(action_id=name, multiline=multiline, max_length=max_length,
                                        initial_value=cut(defaults.get(name) or "", max_length) or None,
                                        placeholder=hint)
        return InputBlock(block_id=name, label=label, element=element, optional=optional)

    engine = StaticSelectElement(action_id="engine", placeholder="default",
                                 options=[Option(text=e, value=e) for e in ENGINES],
                                 initial_option=(Option(text=defaults["engine"], value=defaults["engine"])
                                                 if defaults.get("engine") in ENGINES else None))
    return View(type="modal", callback_id=FIX_MODAL, title="Fix a bug", submit="Start", close="Cancel",
                private_metadata=json.dumps({"channel": channel}), blocks=[
                    text_input("repo", "Repository", "https://github.com/acme/shop",
                               optional=bool(defaults.get("repo"))),
                    text_input("issue", "What is wrong", "The total is wrong for negative quantities", optional=False,
                               multiline=True, max_length=3000),
                    text_input("test", "Test command", DEFAULT_TEST_COMMAND, optional=True),
                    text_input("branch", "Branch", "main", optional=True, max_length=200),
                    text_input("setup", "Setup command", "pip install -e .", optional=True),
                    InputBlock(block_id="engine", label="Engine", element=engine, optional=True)])


def render_feedback_modal(task: dict[str, Any], *, channel: str, message_ts: str) -> View:
    """Reject with feedback: what is wrong with the patch, and whether to try again with it."""
    retry = Option(text="Try again with this feedback", value="retry")
    return View(type="modal", callback_id=FEEDBACK_MODAL, title="Reject with feedback", submit="Send",
                close="Cancel", private_metadata=json.dumps({"task_id": task["id"], "channel": channel,
                                                             "message_ts": message_ts}),
                blocks=[InputBlock(block_id="feedback", label="What is wrong with this patch?",
                                   element=PlainTextInputElement(action_id="feedback", multiline=True, max_length=3000,
                                                                 placeholder="It should round half up, not down")),
                        InputBlock(block_id="retry", label="Then", optional=True,
                                   element=CheckboxesElement(action_id="retry", options=[retry],
                                                             initial_options=[retry]))])


def modal_values(view: dict[str, Any]) -> dict[str, Any]:
    """A submitted view's state as {block_id: value}: text, the selected option's value, or checked values."""
    values: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for action in actions.values():
            kind = action.get("type")
            if kind == "static_select":
                values[block_id] = (action.get("selected_option") or {}).get("value")
            elif kind == "checkboxes":
                values[block_id] = [o.get("value") for o in action.get("selected_options") or []]
            else:
                values[block_id] = action.get("value")
    return values


def render_home(stats: dict[str, Any], tasks: list[dict[str, Any]], *, links: dict[str, str], now: float,
                everyone: bool = False) -> View:
    """The App Home dashboard: the period's figures for all of fixbot, queue and workers, then recent tasks with
    links to their threads: everyone's (`everyone`, for approvers) or the viewer's own."""
    rate = stats.get("success_rate")
    ttf = stats.get("median_time_to_fix")
    attempts = stats.get("median_attempts")
    days = max(1, round(float(stats.get("window") or 7 * 86400) / 86400))
    figures = [
        f"*Success rate*\n{f'{rate * 100:.0f} %' if rate is not None else '—'}",
        f"*Median time to fix*\n{elapsed(ttf) if ttf is not None else '—'}",
        f"*Median attempts*\n{f'{float(attempts):g}' if attempts is not None else '—'}",  # 0, 1.5: never "0.0"
        f"*Tokens spent*\n{int(stats.get('tokens') or 0):,}",
        f"*Queue depth*\n{int(stats.get('queue_depth') or 0)}",
        f"*Workers alive*\n{int(stats.get('workers_alive') or 0)}"
        + (" :warning:" if not stats.get("workers_alive") else ""),
    ]
    blocks: list[Any] = [
        HeaderBlock(text="fixbot"),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"All of fixbot, last {days} days · {int(stats.get('tasks') or 0)} tasks by everyone")]),
        SectionBlock(fields=[MarkdownTextObject(text=f) for f in figures]),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text="*Recent tasks (everyone's)*" if everyone else
                                             "*Your recent tasks*")),
    ]
    if not tasks:
        empty = "No tasks yet." if everyone else "You have not asked for a fix yet."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{empty} Type `/fix help` in a channel.")))
    for task in tasks[:20]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=task_line(task, link=links.get(task["id"]), now=now))))
    return View(type="home", blocks=blocks)
