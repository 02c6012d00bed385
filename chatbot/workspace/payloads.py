"""Requests as Slack sends them to an app: slash commands, interactions, events, signed.

Signing follows docs.slack.dev/authentication/verifying-requests-from-slack: the base string is
`v0:{timestamp}:{body}`, HMAC-SHA256 with the signing secret, sent as `X-Slack-Signature: v0=<hex>`
with `X-Slack-Request-Timestamp`; slack_sdk's SignatureVerifier computes it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def signed_headers(secret: str, body: str, *, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded",
                   retry_num: int | None = None) -> dict[str, str]:
    """Headers of a request Slack signed with `secret` (a wrong secret makes a forged request)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature), "Content-Type": content_type}
    if retry_num is not None:
        headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def slash_command(text: str, *, user: str = "U0REQUEST", channel: str = "C0GENERAL", team: str = "T0001",
                  command: str = "/fix", response_url: str = "", trigger_id: str | None = None) -> dict[str, str]:
    """The form fields of a slash command invocation (trigger_id is unique per invocation)."""
    return {"token": "deprecated-verification-token", "team_id": team, "team_domain": "fixbot-emulated",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": "A0FIXBOT", "is_enterprise_install": "false",
            "response_url": response_url, "trigger_id": trigger_id or f"trig.{uuid.uuid4().hex}"}


def form_body(fields: dict[str, str]) -> str:
    """URL-encoded body of a slash command."""
    return urlencode(fields)


def block_action(action_id: str, value: str, *, user: str, channel: str = "C0GENERAL", message_ts: str,
                 thread_ts: str | None = None, team: str = "T0001", response_url: str = "",
                 trigger_id: str | None = None, block_id: str = "actions") -> dict[str, Any]:
    """The payload of a button click on a message."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": ""}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {"type": "block_actions", "team": {"id": team, "domain": "fixbot-emulated"},
            "user": {"id": user, "username": user.lower(), "team_id": team}, "api_app_id": "A0FIXBOT",
            "trigger_id": trigger_id or f"trig.{uuid.uuid4().hex}", "response_url": response_url,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "general"}, "message": message,
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                         "action_ts": f"{time.time():.6f}"}]}


def view_submission(callback_id: str, values: dict[str, dict[str, dict[str, Any]]], *, user: str,
                    private_metadata: str = "", team: str = "T0001") -> dict[str, Any]:
    """The payload of a modal's submit: `values` is state.values (block_id -> action_id -> value dict)."""
    return {"type": "view_submission", "team": {"id": team, "domain": "fixbot-emulated"},
            "user": {"id": user, "username": user.lower(), "team_id": team}, "api_app_id": "A0FIXBOT",
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "view": {"id": "V0MODAL", "type": "modal", "callback_id": callback_id,
                     "private_metadata": private_metadata, "state": {"values": values}, "hash": "h"}}


def interaction_body(payload: dict[str, Any]) -> str:
    """URL-encoded body of an interaction (block action or view submission)."""
    return urlencode({"payload": json.dumps(payload)})


def event_callback(event: dict[str, Any], *, event_id: str | None = None, team: str = "T0001") -> dict[str, Any]:
    """An Events API envelope around `event` (event_id is what Slack's retries repeat)."""
    return {"token": "deprecated-verification-token", "team_id": team, "api_app_id": "A0FIXBOT", "event": event,
            "type": "event_callback", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "authorizations": [{"team_id": team, "user_id": "UFIXBOT",
                                                                 "is_bot": True}]}
