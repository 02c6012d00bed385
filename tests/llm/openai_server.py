"""A small OpenAI-compatible chat server on an ephemeral loopback port, answering from a script.

Each request takes the next step of the script (the last step repeats):
  {"reply": "text", "usage": (prompt, completion)}   a normal answer (usage None → no usage field)
  {"status": 429, "retry_after": "0"}                 an error answer (any status), optional Retry-After
  {"sleep": 2.0, "reply": "late"}                     a slow answer
  {"tool_call": ("name", '{"json": "args"}')}          an answer made of a tool call (content null)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web


class OpenAIServer:
    """Serves POST /v1/chat/completions; records every request's headers and JSON body."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The base URL to give the client."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> OpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _step(self) -> dict[str, Any]:
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "json": body, "at": time.monotonic()})
        step = self._step()
        if step.get("sleep"):
            await asyncio.sleep(step["sleep"])
        if step.get("status"):
            headers = {"retry-after": step["retry_after"]} if "retry_after" in step else {}
            error = {"error": {"message": step.get("message", f"scripted error {step['status']}"),
                               "type": "scripted", "code": step.get("code")}}
            return web.json_response(error, status=step["status"], headers=headers)
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": step.get("reply", "")}}],
        }
        if "tool_call" in step:
            name, arguments = step["tool_call"]
            answer["choices"][0]["finish_reason"] = "tool_calls"
            answer["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}]}
        usage = step.get("usage", (11, 7))
        if usage is not None:
            answer["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                               "total_tokens": usage[0] + usage[1]}
        return web.json_response(answer)
