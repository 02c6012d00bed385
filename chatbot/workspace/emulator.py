"""A Slack Web API emulator: aiohttp on an ephemeral loopback port, recording every call.

Used by the tests and bench/slack.py (a local workspace command is still to come); the bot never
imports it and talks to it only over HTTP (SLACK_API_URL), as to Slack. It keeps channels, messages and threads,
ephemeral messages, views (modals and App Home), reactions, uploaded files (files_upload_v2's three
steps), users and user groups, and the bodies posted to response URLs. Blocks and views are
checked with slack_sdk's own models, so a block Slack would refuse is refused here too
(`invalid_blocks`). `fail()` makes the next calls of a method answer an error or HTTP 429 with
Retry-After; `slow()` makes them wait. Socket Mode (apps.connections.open and the WebSocket) lives in
chatbot.workspace.socket, mounted on the same server.

Shapes follow docs.slack.dev/reference/methods; only the fields fixbot reads are filled.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from chatbot.workspace.socket import SocketModeEmulator

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    """One request the emulator received: the method, its merged arguments, the token and the answer."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    ok: bool = True
    error: str | None = None
    peer: str = ""  # the client's address and port: calls over one kept-alive connection share it


@dataclass
class Fault:
    """The next `times` calls of `method` answer `error` (and HTTP `status`, with Retry-After when set)."""

    method: str
    error: str
    status: int
    retry_after: int | None
    times: int


@dataclass
class Channel:
    """A conversation: its members (is the bot in it?) and its messages, oldest first."""

    id: str
    name: str
    is_private: bool = False
    bot_member: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)


class SlackEmulator:
    """The emulated workspace. `await start()` serves it; `url` is the SLACK_API_URL to give the bot."""

    def __init__(self, *, bot_token: str = "xoxb-emulator", app_token: str = "xapp-emulator", team: str = "T0001",
                 bot_user: str = "UFIXBOT", domain: str = "fixbot-emulated") -> None:
        self.bot_token, self.app_token, self.team, self.bot_user = bot_token, app_token, team, bot_user
        self.domain = domain
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response URLs, with "key"
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (modals)
        self.home: dict[str, dict[str, Any]] = {}  # user id -> published App Home view
        self.reactions: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.socket = SocketModeEmulator(self)
        self.refused_block_types: set[str] = set()  # e.g. {"plan"}: a workspace that does not accept those blocks
        self._faults: list[Fault] = []
        self._delays: list[list[Any]] = []  # [method, seconds, times left]
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base = ""
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test, "chat.postMessage": self._post_message, "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral, "chat.delete": self._delete,
            "chat.getPermalink": self._permalink, "views.open": self._views_open, "views.update": self._views_update,
            "views.publish": self._views_publish, "reactions.add": self._reaction, "reactions.remove": self._reaction,
            "users.info": self._users_info, "usergroups.users.list": self._usergroup_users,
            "conversations.info": self._conversation_info, "conversations.replies": self._replies,
            "conversations.history": self._history, "conversations.members": self._members,
            "files.getUploadURLExternal": self._upload_url, "files.completeUploadExternal": self._complete_upload,
        }
        self.add_channel("C0GENERAL", "general")

    # ----- set-up and inspection (used by tests and the bench)

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (port 0: a free one); returns the Web API base URL (ends with /api/)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._dispatch)
        app.router.add_get("/api/{method}", self._dispatch)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/socket", self.socket.handle)
        app.router.add_get("/_emulator/calls", self._calls_json)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Close every socket and stop serving."""
        await self.socket.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The SLACK_API_URL for the bot."""
        return f"{self.base}/api/"

    def response_url(self, key: str) -> str:
        """A response_url (as in slash commands and block actions) whose posts land in `responses`."""
        return f"{self.base}/respond/{key}"

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False, bot_member: bool = True) -> Channel:
        """Create a conversation; `bot_member=False` makes chat.postMessage answer not_in_channel."""
        self.channels[channel_id] = Channel(channel_id, name, is_private, bot_member)
        return self.channels[channel_id]

    def add_user(self, user_id: str, name: str, *, is_bot: bool = False) -> None:
        """Add a member of the workspace."""
        self.users[user_id] = {"id": user_id, "name": name, "real_name": name, "is_bot": is_bot, "team_id": self.team}

    def user_message(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
        """A person posts `text` (in a thread when thread_ts is given); returns the message as events show it."""
        msg: dict[str, Any] = {"type": "message", "ts": self._next_ts(), "channel": channel, "user": user,
                               "text": text, "blocks": [], "thread_ts": thread_ts, "edits": 0}
        self.channels[channel].messages.append(msg)
        event = {k: v for k, v in msg.items() if k not in ("blocks", "edits") and v is not None}
        return {**event, "event_ts": msg["ts"], "channel_type": "channel"}

    def fail(self, method: str, *, error: str = "ratelimited", status: int | None = None,
             retry_after: int | None = None, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail: HTTP 429 + Retry-After for ratelimited by default."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(Fault(method, error, status, retry_after, times))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Make the next `times` calls of `method` wait `seconds` before they are answered (a slow Slack)."""
        self._delays.append([method, seconds, times])

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of one method, oldest first (failed ones included)."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Messages of a channel (top level only), or of one thread (parent first) when thread_ts is given."""
        msgs = self.channels[channel].messages
        if thread_ts is None:
            return [m for m in msgs if m.get("thread_ts") in (None, m["ts"])]
        return [m for m in msgs if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One message by its ts (KeyError when missing)."""
        for msg in self.channels[channel].messages:
            if msg["ts"] == ts:
                return msg
        raise KeyError(ts)

    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
        """Poll `predicate` until it returns something truthy; AssertionError with the last calls on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                tail = [(c.method, c.error) for c in self.calls[-12:]]
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last calls: {tail}")
            await asyncio.sleep(0.02)

    # ----- HTTP plumbing

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
        for delay in self._delays:
            if delay[0] == method and delay[2] > 0:
                delay[2] -= 1
                await asyncio.sleep(delay[1])
                break
        peername = request.transport.get_extra_info("peername") if request.transport is not None else None
        call = Call(method, args, token, time.time(), peer=":".join(map(str, peername or ())))
        self.calls.append(call)
        fault = self._take_fault(method)
        if fault is not None:
            call.status, call.ok, call.error = fault.status, False, fault.error
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=headers)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return self._answer(call, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
        if method == "apps.connections.open":
            return self._answer(call, {"ok": True, "url": self.socket.url()})
        handler = self._methods.get(method)
        if handler is None:
            return self._answer(call, {"ok": False, "error": "unknown_method"})
        try:
            body = handler(args)
        except _ApiError as exc:
            body = {"ok": False, "error": str(exc)}
        return self._answer(call, body)

    def _answer(self, call: Call, body: dict[str, Any]) -> web.Response:
        call.ok, call.error = bool(body.get("ok")), body.get("error")
        return web.json_response(body)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _calls_json(self, request: web.Request) -> web.Response:
        """The call log for a process that does not share memory with the emulator (`?since=N`: from call N on)."""
        since = int(request.query.get("since", "0"))
        calls = [{"method": c.method, "args": c.args, "at": c.at, "status": c.status, "ok": c.ok, "error": c.error}
                 for c in self.calls[since:]]
        return web.json_response({"calls": calls, "next": since + len(calls)})

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"key": request.match_info["key"], **body})
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="unknown upload")
        self.files[file_id]["content"] = await request.read()
        return web.Response(text="OK - " + str(len(self.files[file_id]["content"])))

    # ----- methods

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _channel(self, args: dict[str, Any], key: str = "channel") -> Channel:
        channel = self.channels.get(str(args.get(key) or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        return channel

    def _blocks(self, blocks: Any) -> list[dict[str, Any]] | None:
        checked = _check_blocks(blocks)
        if checked and any(b.get("type") in self.refused_block_types for b in checked):
            raise _ApiError("invalid_blocks")
        return checked

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"https://{self.domain}.slack.com/", "team": self.domain, "team_id": self.team,
                "user": "fixbot", "user_id": self.bot_user, "bot_id": "BFIXBOT"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if not channel.bot_member:
            raise _ApiError("not_in_channel")
        blocks = self._blocks(args.get("blocks"))
        if not args.get("text") and not blocks:
            raise _ApiError("no_text")
        if len(str(args.get("text") or "")) > 40000:
            raise _ApiError("msg_too_long")
        thread_ts = args.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts for m in channel.messages):
            raise _ApiError("thread_not_found")
        msg = {"ts": self._next_ts(), "channel": channel.id, "user": self.bot_user, "text": args.get("text") or "",
               "blocks": blocks or [], "thread_ts": thread_ts, "edits": 0}
        channel.messages.append(msg)
        return {"ok": True, "channel": channel.id, "ts": msg["ts"], "message": msg}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        try:
            msg = self.message(channel.id, str(args.get("ts")))
        except KeyError:
            raise _ApiError("message_not_found") from None
        blocks = self._blocks(args.get("blocks"))
        if "text" in args:
            msg["text"] = args["text"] or ""
        if blocks is not None:
            msg["blocks"] = blocks
        msg["edits"] += 1
        return {"ok": True, "channel": channel.id, "ts": msg["ts"], "text": msg["text"]}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        blocks = self._blocks(args.get("blocks"))
        self.ephemeral.append({"channel": channel.id, "user": args.get("user"), "text": args.get("text") or "",
                               "blocks": blocks or [], "thread_ts": args.get("thread_ts")})
        return {"ok": True, "message_ts": self._next_ts()}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        before = len(channel.messages)
        channel.messages = [m for m in channel.messages if m["ts"] != args.get("ts")]
        if len(channel.messages) == before:
            raise _ApiError("message_not_found")
        return {"ok": True, "channel": channel.id, "ts": args.get("ts")}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(args.get("message_ts") or "")
        return {"ok": True, "channel": channel.id,
                "permalink": f"https://{self.domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            raise _ApiError("invalid_trigger_id")
        view = _check_view(args.get("view"))
        view_id = f"V{next(self._ids):06d}"
        self.views[view_id] = {**view, "id": view_id, "trigger_id": args["trigger_id"]}
        return {"ok": True, "view": self.views[view_id]}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = str(args.get("view_id") or "")
        if view_id not in self.views:
            raise _ApiError("not_found")
        self.views[view_id] = {**_check_view(args.get("view")), "id": view_id}
        return {"ok": True, "view": self.views[view_id]}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        view = _check_view(args.get("view"))
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments")
        self.home[user] = view
        return {"ok": True, "view": {**view, "id": f"VH{user}"}}

    def _reaction(self, args: dict[str, Any]) -> dict[str, Any]:
        self._channel(args)
        self.reactions.append(dict(args))
        return {"ok": True}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"ok": True, "user": user}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if group not in self.usergroups:
            raise _ApiError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _conversation_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        return {"ok": True, "channel": {"id": channel.id, "name": channel.name, "is_private": channel.is_private,
                                        "is_member": channel.bot_member}}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        return {"ok": True, "messages": self.messages(channel.id, thread_ts=str(args.get("ts"))), "has_more": False}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        return {"ok": True, "messages": list(reversed(self.messages(channel.id))), "has_more": False}

    def _members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        members = [u for u in self.users] + ([self.bot_user] if channel.bot_member else [])
        return {"ok": True, "members": members}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length") or "").isdigit():
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):06d}"
        self.files[file_id] = {"id": file_id, "name": args["filename"], "length": int(args["length"]),
                               "content": None, "shared": False}
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        done = []
        for item in files or []:
            record = self.files.get(item.get("id"))
            if record is None or record["content"] is None:
                raise _ApiError("file_not_found")
            record.update(title=item.get("title") or record["name"], shared=True)
            done.append({"id": record["id"], "name": record["name"], "title": record["title"]})
        channel_id = args.get("channel_id")
        if channel_id:
            channel = self._channel(args, "channel_id")
            if not channel.bot_member:
                raise _ApiError("not_in_channel")
            channel.messages.append({"ts": self._next_ts(), "channel": channel.id, "user": self.bot_user,
                                     "text": args.get("initial_comment") or "", "blocks": [],
                                     "thread_ts": args.get("thread_ts"), "files": done, "edits": 0})
        return {"ok": True, "files": done}


class _ApiError(Exception):
    """A Slack error code to answer with ok=false."""


async def _arguments(request: web.Request) -> dict[str, Any]:
    """Query string, form fields and a JSON body merged, the way Slack accepts arguments."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            args.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return args


def _check_blocks(blocks: Any) -> list[dict[str, Any]] | None:
    """Blocks as Slack would accept them (slack_sdk's models validate them), else invalid_blocks."""
    if blocks is None or blocks == "":
        return None
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise _ApiError("invalid_blocks_format") from None
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise _ApiError("invalid_blocks")
    for block in blocks:
        try:
            parsed = Block.parse(block)
            if parsed is None:
                raise ValueError("unknown block type")
            parsed.validate_json()
        except Exception:  # noqa: BLE001 - any model error is Slack's invalid_blocks
            raise _ApiError("invalid_blocks") from None
    return blocks


def _check_view(view: Any) -> dict[str, Any]:
    if isinstance(view, str):
        view = json.loads(view)
    try:
        View(**view).validate_json()
    except Exception:  # noqa: BLE001
        raise _ApiError("invalid_arguments") from None
    return view
