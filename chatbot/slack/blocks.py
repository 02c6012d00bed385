"""Block Kit for task messages: pure functions `render_*(task, ...) -> list[Block]` (slack_sdk's models).

A task is the store's JSON record (agent.tasks.store). Nothing here calls Slack or Redis; the
notifier and the listeners decide when to post. Untrusted strings (issue text, test ids, output,
file names, the model's words) pass through chatbot.slack.text, so they cannot mention anyone,
inject links or escape a code block. Progress uses Slack's plan / task_card blocks (slack_sdk
>= 3.40; "plan" and "task_card" statuses pending, in_progress, complete, error) or, in "classic"
mode, a plain section with one line per step for workspaces that refuse them.
"""

from __future__ import annotations

import re
import time
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import RichTextElementParts, RichTextSectionElement
from slack_sdk.models.blocks.blocks import PlanBlock, TaskCardBlock

from agent.allowlist import place
from agent.exceptions import InvalidRequest
from agent.request import DEFAULT_TEST_COMMAND
from agent.tasks.policy import risk_level
from chatbot.slack.text import code_span, cut, head_lines, line, mrkdwn, plain, preformatted

APPROVE, REJECT, REJECT_FEEDBACK = "fixbot_approve", "fixbot_reject", "fixbot_reject_feedback"
RETRY_WITH_FEEDBACK, RETRY_TASK = "fixbot_retry_with_feedback", "fixbot_retry_task"
STEPS: tuple[tuple[str, str], ...] = (
    ("reproduce", "Reproduce the failure"), ("localize", "Find the suspicious code"),
    ("repair", "Search for a patch"), ("review", "Review the patch"), ("prove", "Prove it with your tests"))
PHASE_STEP = {"clone": "reproduce", "reproduce": "reproduce", "llm_reprotest": "reproduce", "localize": "localize",
              "repair": "repair", "llm_manager": "repair", "llm_coder": "repair", "review": "review",
              "llm_reviewer": "review", "test": "prove", "llm_prove": "prove", "finalize": "prove", "propose": "prove"}
DONE = {"awaiting_approval", "approved", "publishing", "published", "rejected"}
FAILED = {"failed", "timed_out", "not_fixed", "cancelled"}
STATUS_LABEL = {
    "queued": ":hourglass_flowing_sand: queued", "running": ":gear: running",
    "awaiting_approval": ":eyes: awaiting approval", "approved": ":white_check_mark: approved",
    "publishing": ":outbox_tray: publishing", "published": ":rocket: published", "rejected": ":no_entry: rejected",
    "not_fixed": ":thinking_face: no fix found", "no_failure": ":white_check_mark: tests already pass",
    "failed": ":x: failed", "cancelled": ":octagonal_sign: cancelled", "timed_out": ":alarm_clock: timed out"}


def status_label(task: dict[str, Any]) -> str:
    """The status as people read it: "published" only once something left the worker (a pull request)."""
    status = str(task.get("status") or "?")
    if status == "published" and not (task.get("publication") or {}).get("pr_url"):
        return ":package: committed, nothing pushed"
    return STATUS_LABEL.get(status, status)


_CLASSIC_ICON = {"pending": ":white_circle:", "in_progress": ":large_blue_circle:", "complete": ":white_check_mark:",
                 "error": ":x:"}
_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{2,20}$")
NEXT_STEPS = {
    "not_fixed": "Try a test command that runs only the failing test (`test: python -m pytest -q tests/test_x.py`), "
                 "name the file in the issue, or the LLM engine (`engine: llm`) for bugs that need more than one edit.",
    "no_failure": "Give a test command that fails today (`test: ...`), or describe the failing input precisely; "
                  "with `engine: llm` the model first writes a test that fails.",
    "failed": "Check that the test command runs in a fresh checkout of the repository, add `setup: pip install -e .` "
              "when the tests need the package installed, then `@fixbot retry` (or `/fix` again with `test:` or "
              "`setup:`).",
    "failed_clone": "Check the repository's URL and branch, and that fixbot may read it (a private repository needs "
                    "credentials in fixbot's configuration), then `@fixbot retry`.",
    "timed_out": "Give a narrower test command (one test file), or raise TASK_TIME_LIMIT; then `@fixbot retry`.",
    "cancelled": "`@fixbot retry` in this thread starts it again.",
}


def user_ref(user: object) -> str:
    """A Slack mention for a real user id; any other value is shown as escaped text."""
    value = str(user or "")
    return f"<@{value}>" if _SLACK_ID.match(value) else (line(value, 60) or "someone")


def slack_date(at: float | None, fallback_format: str = "%Y-%m-%d %H:%M UTC") -> str:
    """Slack's date token: the reader's time zone, with a UTC fallback (docs.slack.dev, "Formatting dates")."""
    if not at:
        return "an unknown time"
    stamp = int(at)
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{time.strftime(fallback_format, time.gmtime(stamp))}>"


def elapsed(seconds: float) -> str:
    """A duration as people read it: 45s, 3m 05s, 1h 02m."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def task_elapsed(task: dict[str, Any], now: float) -> float:
    """Seconds from creation to the end (finished or proposed) or to `now`."""
    end = task.get("finished_at") or task.get("proposed_at") or now
    return float(end) - float(task.get("created_at") or now)


def repo_name(task: dict[str, Any]) -> str:
    """The repository as a short name: owner/name of a URL, the last folder of a path."""
    repo = str((task.get("request") or {}).get("repo") or "?").rstrip("/")
    if "://" in repo or "@" in repo:
        try:
            where = place(repo)
        except InvalidRequest:
            where = None
        if where is not None and len(where.segments) >= 2:
            return "/".join(where.segments[-2:])
        if where is not None and where.segments:  # git://host:9418/shop.git: the host says which shop
            host = f"[{where.host}]" if ":" in where.host else where.host  # an IPv6 address keeps its brackets
            return f"{host}{f':{where.port}' if where.port else ''}/{where.segments[-1]}"
    if repo.endswith(".git"):
        repo = repo[:-4]
    return re.split(r"[/:]", repo)[-1] or repo


def step_states(task: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The timeline: (step, title, pending|in_progress|complete|error, detail) for each of STEPS."""
    status = task.get("status", "queued")
    progress = task.get("progress") or {}
    current = PHASE_STEP.get(str(progress.get("phase") or ""), "reproduce")
    index = [s for s, _ in STEPS].index(current)
    candidates = int(progress.get("candidates_tried") or 0)
    attempts = int(progress.get("attempts") or task.get("attempts") or 0)
    states: list[tuple[str, str, str, str]] = []
    for i, (step, title) in enumerate(STEPS):
        if status == "queued":
            state = "pending"
        elif status in DONE:
            state = "complete"
        elif status == "no_failure":
            state = "complete" if step == "reproduce" else "pending"
        elif status in FAILED:
            state = "complete" if i < index else ("error" if i == index else "pending")
        else:
            state = "complete" if i < index else ("in_progress" if i == index else "pending")
        detail = ""
        if step == "repair" and candidates:
            detail = f"{candidates} candidate{'s' if candidates != 1 else ''} tried"
        if step == "prove" and attempts:
            detail = f"attempt {attempts}"
        if state in ("in_progress", "error") and progress.get("text"):
            detail = " · ".join(p for p in (detail, plain(progress["text"], 140)) if p)
        if step == "reproduce" and status == "no_failure":
            detail = "the tests already pass"
        states.append((step, title, state, detail))
    return states


def _headline(task: dict[str, Any]) -> str:
    if task.get("status") == "published" and not (task.get("publication") or {}).get("pr_url"):
        return "Committed, nothing pushed"
    return {"queued": "Waiting for a worker", "running": "Working on it", "awaiting_approval": "Patch proposed",
            "approved": "Approved", "publishing": "Publishing", "published": "Published", "rejected": "Rejected",
            "not_fixed": "No fix found", "no_failure": "Nothing to fix", "failed": "Failed",
            "cancelled": "Cancelled", "timed_out": "Timed out"}.get(task.get("status", ""), "Working on it")


def render_timeline(task: dict[str, Any], *, mode: str = "plan") -> list[Block]:
    """The five steps as a plan block of task cards, or (mode "classic") one section of lines."""
    states = step_states(task)
    if mode == "plan":
        cards = []
        for step, title, state, detail in states:
            details = (RichTextBlock(elements=[RichTextSectionElement(
                elements=[RichTextElementParts.Text(text=detail)])]) if detail else None)
            cards.append(TaskCardBlock(task_id=step, title=title, status=state, details=details))
        return [PlanBlock(title=_headline(task), tasks=cards)]
    lines = [f"{_CLASSIC_ICON[state]} {title}" + (f" — {mrkdwn(detail, 200)}" if detail else "")
             for _step, title, state, detail in states]
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]


def render_status(task: dict[str, Any], *, now: float, mode: str = "plan") -> list[Block]:
    """The thread parent, kept current: what was asked, the timeline, status, elapsed, counters."""
    request = task.get("request") or {}
    origin = task.get("origin") or {}
    header = (f"*Fix* {code_span(repo_name(task), 80)} — {line(request.get('issue'), 300)}\n"
              f"Requested by {user_ref(origin.get('user'))}"
              f" · tests: {code_span(request.get('test_command') or '?', 120)}"
              + (f" · setup: {code_span(request['setup_command'], 120)}" if request.get("setup_command") else ""))
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=header)), *render_timeline(task, mode=mode)]
    progress = task.get("progress") or {}
    facts = [f"*{status_label(task)}*",
             elapsed(task_elapsed(task, now))]
    if progress.get("candidates_tried"):
        facts.append(f"{int(progress['candidates_tried'])} candidates")
    attempts = int(progress.get("attempts") or task.get("attempts") or 0)
    if attempts:
        facts.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
    facts += [f"engine `{line(task.get('engine'), 20)}`", f"`{line(task.get('id'), 40)}`"]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))]))
    if task.get("status") == "awaiting_approval":
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=":point_down: The patch and the Approve / Reject buttons are in the thread.")]))
    return blocks


def status_text(task: dict[str, Any]) -> str:
    """The notification text of the status message (shown where blocks are not)."""
    return f"fixbot {line(task.get('id'), 40)}: {_headline(task).lower()} ({line(repo_name(task), 80)})"


def render_reproduced(task: dict[str, Any], data: dict[str, Any]) -> list[Block]:
    """Thread reply when the bug is reproduced: which tests fail and the first lines of the failure."""
    failing = [str(t) for t in data.get("failing") or []]
    if failing:
        names = ", ".join(code_span(t, 120) for t in failing[:8]) + (f" and {len(failing) - 8} more"
                                                                     if len(failing) > 8 else "")
        text = f":mag: *Reproduced:* {len(failing)} failing test{'s' if len(failing) != 1 else ''}: {names}"
    else:
        text = f":mag: *Reproduced:* {line(data.get('message') or 'the test command fails', 500)}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    output = data.get("output") or data.get("stdout")  # the first lines of the failure, when the event has them
    if output:
        blocks.append(preformatted(output, max_lines=12, max_chars=1500))
    elif failing and data.get("message"):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line(data["message"], 300))]))
    return blocks


def proposal_of(task: dict[str, Any]) -> dict[str, Any]:
    """The proposal a task awaits a decision on: analysis, final_patch, explanation, risk, test_results."""
    found = task.get("proposal") or task.get("result") or {}
    patch = found.get("final_patch") or {}
    return {"analysis": found.get("analysis"), "explanation": found.get("explanation") or patch.get("explanation"),
            "diff": patch.get("diff") or found.get("diff") or "", "filename": patch.get("filename"),
            "risk": task.get("risk") or found.get("risk") or {}, "test_results": found.get("test_results") or [],
            "candidates_tried": found.get("candidates_tried")}


def diff_is_short(diff: str, max_lines: int) -> bool:
    """Whether a diff is shown inline (else it is uploaded as a .diff file)."""
    _, cut_off = head_lines(diff, max_lines, 2800)
    return bool(diff.strip()) and not cut_off


def diff_filename(task: dict[str, Any]) -> str:
    """The name of the uploaded diff of a task."""
    return f"fixbot-{task.get('id')}.diff"


def patch_filename(task: dict[str, Any]) -> str:
    """The name of the uploaded `git format-patch` file of a published task."""
    return f"fixbot-{task.get('id')}.patch"


def render_proposal(task: dict[str, Any], *, inline_diff: bool, upload_error: str | None = None,
                    closed: dict[str, Any] | None = None) -> list[Block]:
    """The patch for review: analysis, explanation, risk and reasons, tests run, the diff (or where it is),
    then the buttons — or, once decided, what happened instead of the buttons (see render_decision_area).

    A long diff is attached as a file; when Slack refused the upload (`upload_error`, its error code), the
    diff's first lines are shown instead with a note, so the buttons are never held back by the file.
    """
    p = proposal_of(task)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text=f":bulb: *Patch proposed* for {code_span(repo_name(task), 80)}"
             + (f" in {code_span(p['filename'], 120)}" if p.get("filename") else "")))]
    if p.get("analysis"):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Analysis*\n{mrkdwn(p['analysis'], 1200)}")))
    if p.get("explanation"):
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*Why this fixes it*\n{mrkdwn(p['explanation'], 1200)}")))
    risk = p["risk"] or {}
    level = risk_level({"risk": risk}) or "unknown"
    reasons = "; ".join(line(r, 200) for r in (risk.get("reasons") or [])[:5])
    icon = {"low": ":large_green_circle:", "medium": ":large_orange_circle:",
            "high": ":red_circle:"}.get(level, ":white_circle:")
    tests = p["test_results"]
    tests_text = (f"{len(tests)} run{'s' if len(tests) != 1 else ''} in the sandbox, the last "
                  f"{'passed' if tests and tests[-1].get('success') else 'failed'}" if tests else "no runs recorded")
    command = (task.get("request") or {}).get("test_command")
    if command:
        tests_text += f": {code_span(command, 120)}"
    blocks.append(SectionBlock(fields=[
        MarkdownTextObject(text=f"*Risk*\n{icon} {line(level, 20)}" + (f" — {reasons}" if reasons else "")),
        MarkdownTextObject(text=f"*Tests*\n{tests_text}")]))
    diff = p["diff"]
    if inline_diff and diff:
        blocks.append(preformatted(diff, max_lines=500, max_chars=2800))
    elif diff and upload_error:
        count = diff.count("\n") + 1
        blocks.append(preformatted(diff, max_lines=40, max_chars=2800))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":warning: The diff has {count} lines; only the first ones are shown: Slack refused the file "
                 f"{code_span(diff_filename(task))} ({line(upload_error, 60)}).")]))
    elif diff:
        count = diff.count("\n") + 1
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":page_facing_up: The diff ({count} lines) is attached as {code_span(diff_filename(task))}.")]))
    blocks.append(DividerBlock())
    blocks.extend(render_decision_area(task, closed=closed))
    return blocks


def render_decision_area(task: dict[str, Any], *, closed: dict[str, Any] | None = None) -> list[Block]:
    """The buttons while the task awaits a decision; otherwise one line saying what happened to the proposal.

    `closed` is what closed it, from the event that did ({"action": "approve" | "reject" | "retry" | "cancel",
    "by", "at", "feedback"}); without it, the task's record says (its decision, or its cancellation).
    """
    status = task.get("status")
    if closed is None and status == "awaiting_approval":
        task_id = str(task.get("id"))
        high = risk_level(task) == "high"
        confirm = ConfirmObject(title="Approve this patch?", confirm="Approve", deny="Not yet",
                                text="fixbot commits the patch on a fresh checkout and attaches it here as a "
                                     "`.patch` file to `git am`; nothing is pushed."
                                     + (" It is *high risk*: read the reasons first." if high else ""))
        reject = ConfirmObject(title="Reject this patch?", confirm="Reject", deny="Not yet", style="danger",
                               text="The task ends here and nothing is pushed. To have fixbot try again with a "
                                    "hint, use *Reject with feedback* instead.")
        return [ActionsBlock(block_id="decision", elements=[
            ButtonElement(text="Approve", action_id=APPROVE, value=task_id, style="primary", confirm=confirm),
            ButtonElement(text="Reject", action_id=REJECT, value=task_id, style="danger", confirm=reject),
            ButtonElement(text="Reject with feedback", action_id=REJECT_FEEDBACK, value=task_id)])]
    if closed is None and status == "cancelled":
        closed = {"action": "cancel", "by": task.get("cancelled_by"), "at": task.get("finished_at")}
    decision = closed or {**(task.get("decision") or {})}
    by, at = user_ref(decision.get("by")), slack_date(decision.get("at") or task.get("decided_at"))
    action = decision.get("action")
    if action == "cancel":
        text = f":octagonal_sign: Cancelled by {by} at {at}"
    elif action == "approve":
        text = f":white_check_mark: Approved by {by} at {at}"
    elif action == "retry":
        feedback = f": “{line(decision.get('feedback'), 300)}”" if decision.get("feedback") else ""
        text = f":leftwards_arrow_with_hook: Sent back by {by} at {at} to try again{feedback}"
    elif action == "reject":
        text = f":no_entry: Rejected by {by} at {at}"
    else:
        text = f"This proposal is no longer open (task is {line(status, 30)})."
    return [ContextBlock(elements=[MarkdownTextObject(text=text)])]


def refusal_text(task: dict[str, Any], action: str) -> str:
    """Why a decision (approve, reject, retry, cancel) changed nothing, from the task's current record."""
    status = task.get("status")
    decision = task.get("decision") or {}
    by, at = user_ref(decision.get("by")), slack_date(decision.get("at") or task.get("decided_at"))
    done = {"approve": "approved", "reject": "rejected", "retry": "sent back with feedback"}
    if status == "cancelled":
        why = f"the task was cancelled by {user_ref(task.get('cancelled_by'))} at {slack_date(task.get('finished_at'))}"
    elif decision.get("action") in done and status in ("approved", "publishing", "published", "rejected", "queued",
                                                       "running"):
        why = f"this patch was already {done[decision['action']]} by {by} at {at}"
        if status in ("queued", "running"):
            why += ", and a new patch is being worked on"
    elif status in ("queued", "running"):
        why = f"the task is {line(status, 20)}: there is no patch to decide on yet"
    else:
        why = f"the task already ended ({STATUS_LABEL.get(str(status), line(status, 30))})"
    verb = {"approve": "approve", "reject": "reject", "retry": "retry", "cancel": "cancel"}.get(action, action)
    return f"Nothing changed ({verb}): {why}."


def render_decision_reply(task: dict[str, Any], data: dict[str, Any]) -> list[Block]:
    """Thread reply for a decision event: who decided what, and what happens next."""
    by, action = user_ref(data.get("by")), data.get("action")
    if action == "approve":
        text = f":white_check_mark: Approved by {by}. Publishing the patch…"
    elif action == "retry":
        feedback = f"\n>{line(data.get('feedback'), 500)}" if data.get("feedback") else ""
        text = f":leftwards_arrow_with_hook: {by} asked for another try with feedback. Working on it again…{feedback}"
    else:
        text = f":no_entry: Rejected by {by}. Nothing was pushed."
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def render_outcome_reply(task: dict[str, Any]) -> list[Block]:
    """The reply when a task ends: render_outcome, and a Retry button unless it was published."""
    blocks = render_outcome(task)
    if task.get("status") != "published":
        blocks.append(render_button("Retry", RETRY_TASK, str(task.get("id"))))
    return blocks


def render_outcome(task: dict[str, Any]) -> list[Block]:
    """The final thread reply: published (where), or why it ended and what to try next."""
    status = task.get("status")
    reason = task.get("reason")
    result = task.get("result") or {}
    if status == "published":
        pub = task.get("publication") or {}
        facts = []
        if pub.get("pr_url"):
            facts.append(f"<{_safe_url(pub['pr_url'])}|pull request>")
        if pub.get("branch"):
            facts.append(f"branch {code_span(pub['branch'], 120)}")
        if pub.get("commit"):
            facts.append(f"commit {code_span(str(pub['commit'])[:12])}")
        where = ", ".join(facts) if facts else "the patch is recorded on the task"
        if pub.get("pr_url"):
            text = f":rocket: *Published:* {where}."
        else:  # the forge integration (pushing, the pull request) is not there yet: say so, never imply a push
            text = f":package: *Committed, nothing pushed:* {where}."
            if pub.get("patch"):
                text += f" Apply it with `git am {mrkdwn(patch_filename(task))}` (attached)."
    elif status == "rejected":
        text = f":no_entry: Rejected by {user_ref((task.get('decision') or {}).get('by'))}. Nothing was pushed."
    elif status == "cancelled":
        text = f":octagonal_sign: Cancelled by {user_ref(task.get('cancelled_by'))}. {NEXT_STEPS['cancelled']}"
    elif status == "not_fixed":
        tried = (task.get("progress") or {}).get("candidates_tried") or result.get("candidates_tried") or 0
        text = (f":thinking_face: *No fix found* after {int(tried)} candidates"
                + (f" ({line(reason or result.get('message'), 300)})" if reason or result.get("message") else "")
                + f".\n{NEXT_STEPS['not_fixed']}")
    elif status == "no_failure":
        text = (":white_check_mark: *The tests already pass*, so there is nothing to reproduce.\n"
                + NEXT_STEPS["no_failure"])
    elif status == "timed_out":
        text = (":alarm_clock: *Timed out*" + (f": {_sentence(reason, 300)}" if reason else ".")
                + f"\n{NEXT_STEPS['timed_out']}")
    elif status == "failed":
        cloning = (task.get("progress") or {}).get("phase") == "clone"  # it failed fetching the repository
        text = (f":x: *Failed:* {_sentence(reason or result.get('message') or 'unknown error', 500)}\n"
                + NEXT_STEPS["failed_clone" if cloning else "failed"])
    else:
        text = f"Task {code_span(task.get('id'))} is {line(status, 30)}."
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def _sentence(text: object, limit: int) -> str:
    """Untrusted text as one line ending with exactly one period (agent messages often bring their own)."""
    value = line(text, limit).rstrip()
    return value if value.endswith((".", "!", "?", "…")) else value + "."


def render_text(text: str) -> list[Block]:
    """One section of text (an answer, a refusal, the first version of a thread parent); `text` is safe mrkdwn."""
    return [SectionBlock(text=MarkdownTextObject(text=cut(text, 2900)))]


def render_feedback_offer(task: dict[str, Any], feedback: str, offer_id: str) -> list[Block]:
    """To the author of a thread reply while the task awaits a decision (ephemeral): use it as feedback? (The
    button carries the id of the offer the bot keeps, never the text.)"""
    return [SectionBlock(text=MarkdownTextObject(
                text=f"Send the patch back with your reply as feedback, and try again?\n>{line(feedback, 500)}")),
            ActionsBlock(block_id="feedback_offer", elements=[
                ButtonElement(text="Retry with this", action_id=RETRY_WITH_FEEDBACK, value=offer_id,
                              style="primary")])]


def task_line(task: dict[str, Any], *, link: str | None, now: float) -> str:
    """One mrkdwn line for lists: id, status, repository, issue, age, link to the thread."""
    age = elapsed(now - float(task.get("created_at") or now))
    where = f" · <{_safe_url(link)}|thread>" if link else ""
    return (f"`{line(task.get('id'), 40)}` {status_label(task)} · "
            f"{code_span(repo_name(task), 60)} · {line((task.get('request') or {}).get('issue'), 80)} · "
            f"{age} ago{where}")


def render_task_list(tasks: list[dict[str, Any]], *, title: str, links: dict[str, str], now: float) -> list[Block]:
    """A titled list of tasks (status without an id, `list`)."""
    if not tasks:
        return [SectionBlock(text=MarkdownTextObject(text=f"*{mrkdwn(title)}*\nNo tasks yet. Start one with `/fix`."))]
    lines = [task_line(t, link=links.get(t["id"]), now=now) for t in tasks[:15]]
    return [SectionBlock(text=MarkdownTextObject(text=cut(f"*{mrkdwn(title)}*\n" + "\n".join(lines), 2990)))]


def render_task_summary(task: dict[str, Any], *, link: str | None, now: float, mode: str = "plan") -> list[Block]:
    """`status <id>`: the timeline and the line of facts, with a link to the task's thread."""
    blocks = render_status(task, now=now, mode=mode)
    if link:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{_safe_url(link)}|Open the thread>")]))
    return blocks


HELP = """*fixbot* reproduces a bug, finds a patch, proves it in a sandbox and asks before anything is pushed.
*Start a fix*
`/fix <repo> <what is wrong> [test: <command>] [branch: <name>] [setup: <command>] [engine: search|llm|auto]`
`/fix repo=<url> issue="what is wrong" test="python -m pytest -q"`
(`test:` and `setup:` take a command like `python -m pytest -q`; wrap any other command in backticks)
Without `test:` the channel's default test command runs, else `""" + DEFAULT_TEST_COMMAND + """`.
`/fix` alone opens a form.
*Channel defaults* (approvers set them; then `/fix the total is wrong for negative numbers` is enough)
`/fix config repo=<url> test="python -m pytest -q"` · `/fix config` shows them · `/fix config clear`
*In a task's thread*
Approve / Reject / Reject with feedback buttons; a reply while the patch awaits a decision can become feedback;
a :x: reaction on the first message cancels (requester or approver).
*Mention me*
`@fixbot status` · `status <id>` · `list` · `cancel [id]` · `retry [id]` · `help`"""


def render_help(intro: str | None = None) -> list[Block]:
    """What fixbot understands (for `/fix help`, `@fixbot help` and unknown mentions, after an `intro` line)."""
    return [SectionBlock(text=MarkdownTextObject(text=f"{intro}.\n{HELP}" if intro else HELP))]


def render_config(channel: str, config: dict[str, str]) -> list[Block]:
    """A channel's /fix defaults."""
    if not config:
        text = f"No /fix defaults in <#{channel}> yet. Set them with `/fix config repo=<url> test=\"...\"`."
    else:
        rows = "\n".join(f"• {k}: {code_span(v, 300)}" for k, v in sorted(config.items()))
        text = f"/fix defaults in <#{channel}>:\n{rows}"
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def render_config_change(user: str, changes: dict[str, str] | None) -> list[Block]:
    """The public announcement of a change to a channel's /fix defaults (`changes` None: all cleared)."""
    if changes is None:
        text = f":gear: {user_ref(user)} cleared this channel's /fix defaults."
    else:
        rows = "\n".join(f"• {k}: {code_span(v, 300)}" if v else f"• {k}: removed" for k, v in sorted(changes.items()))
        text = f":gear: {user_ref(user)} changed this channel's /fix defaults (every /fix here uses them):\n{rows}"
    return [SectionBlock(text=MarkdownTextObject(text=cut(text, 2900)))]


def render_button(text: str, action_id: str, value: str) -> ActionsBlock:
    """One button in its own actions block (e.g. "Retry" under a failure)."""
    return ActionsBlock(elements=[ButtonElement(text=PlainTextObject(text=cut(text, 75)), action_id=action_id,
                                                value=value)])


def _safe_url(url: object) -> str:
    """A URL fit for <url|label>: http(s) only, no characters that end the link."""
    value = str(url or "")
    if not value.startswith(("https://", "http://")) or any(c in value for c in "<>| \n"):
        return "about:blank"
    return value
