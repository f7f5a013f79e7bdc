# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slack Web API access for sre.incident modules: token, URL, timeout and error lines, written once.

Calls go through slack_sdk's WebClient, without its automatic retry: a connection error after Slack took a
message could otherwise post it twice, and every call must end within the module's timeout.
"""

from __future__ import annotations

import json
import logging
import re

try:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError
    HAS_SLACK_SDK = True
    SLACK_SDK_IMPORT_ERROR = None
    # slack_sdk logs every failed request at ERROR level; the module reports the failure itself, once.
    logging.getLogger("slack_sdk").addHandler(logging.NullHandler())
    logging.getLogger("slack_sdk").propagate = False
except ImportError as exc:  # pragma: no cover
    HAS_SLACK_SDK = False
    SLACK_SDK_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.sre.incident.plugins.module_utils.http_errors import describe_network_error
from ansible_collections.sre.incident.plugins.module_utils.common import (
    DEADLINE_ARGUMENT_SPEC,
    DeadlinePassed,
    bounded,
    check_deadline,
    time_left,
)

SLACK_ARGUMENT_SPEC = dict(
    token=dict(type="str", no_log=True, fallback=(env_fallback, ["SLACK_BOT_TOKEN"])),
    api_url=dict(type="str", default="https://slack.com/api"),
    timeout=dict(type="float", default=10),
    **DEADLINE_ARGUMENT_SPEC
)

# Slack's rules for conversation names (conversations.create): lowercase letters, digits, hyphens and
# underscores, at most 80 characters.
CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}\Z")
# A conversation id (C..., G... for old private channels, D... for direct messages).
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}\Z")

HINTS = {
    "not_authed": "no token was sent - set token or SLACK_BOT_TOKEN",
    "invalid_auth": "check the bot token",
    "account_inactive": "the token's user or bot was deactivated - check the bot token",
    "token_revoked": "the token was revoked - check the bot token",
    "token_expired": "the token expired - check the bot token",
    "channel_not_found": "check the channel id or name and that the bot can see it (invite it to private channels)",
    "not_in_channel": "invite the bot to the channel (/invite @bot)",
    "is_archived": "the channel is archived - unarchive it or use another",
    "name_taken": "a channel with this name already exists, possibly archived - unarchive it or choose another name",
    "restricted_action": "the workspace does not allow the bot to do this - ask a Slack admin",
    "invalid_name_specials": "use lowercase letters, digits, hyphens and underscores only",
    "invalid_name_maxlength": "use at most 80 characters",
    "invalid_name_required": "give a channel name",
    "invalid_blocks": "check the blocks against Slack's Block Kit",
    "invalid_blocks_format": "blocks must be a list of Block Kit objects",
    "msg_too_long": "shorten the text",
    "no_text": "give a text",
    "too_many_attachments": "send fewer attachments",
    "rate_limited": "rate limited - retry in a minute",
    "ratelimited": "rate limited - retry in a minute",
}


def slack_argument_spec(**extra):
    spec = dict(SLACK_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def channel_name(module, value, option="name"):
    """The channel name without a leading #, or a failure that says which rule it breaks."""
    name = (value or "").strip()
    name = name[1:] if name.startswith("#") else name
    if CHANNEL_NAME.match(name):
        return name
    reasons = []
    if not name:
        reasons.append("is empty")
    if len(name) > 80:
        reasons.append("has %d characters (at most 80)" % len(name))
    if name != name.lower():
        reasons.append("has uppercase letters (names are lowercase)")
    bad = sorted(set(c for c in name.lower() if not re.match(r"[a-z0-9_-]", c)))
    if bad:
        reasons.append("contains %s (allowed: lowercase letters, digits, '-' and '_')" % " ".join(repr(c) for c in bad))
    reason = ", ".join(reasons)
    module.fail_json(msg="option %s: %r is not a valid Slack channel name: it %s" % (option, value, reason))


class Slack:
    """One WebClient for a module run; every call fails the module with one line naming Slack and the method."""

    def __init__(self, module):
        if not HAS_SLACK_SDK:
            module.fail_json(msg=missing_required_lib("slack_sdk"), exception=str(SLACK_SDK_IMPORT_ERROR))
        self.module = module
        params = module.params
        if not params.get("token"):
            module.fail_json(msg="Slack: a bot token is required (option token or SLACK_BOT_TOKEN)")
        if params["timeout"] <= 0:
            module.fail_json(msg="option timeout: must be greater than zero")
        check_deadline(module, "Slack")
        self.url = params["api_url"].rstrip("/")
        self.client = WebClient(token=params["token"], base_url=self.url + "/", timeout=params["timeout"],
                                retry_handlers=[])

    def call(self, method, **args):
        """Calls a Web API method (e.g. chat.postMessage) and returns the answer's data as a dict."""
        try:
            return self._call(method, args)
        except Exception as exc:  # noqa: BLE001 - becomes one readable line
            self.module.fail_json(msg=describe_error(exc, self.url, method, self.client.timeout))

    def _call(self, method, args):
        params = self.module.params
        left = time_left(params)
        if left is not None and left <= 0:
            raise DeadlinePassed(-left)
        self.client.timeout = bounded(params["timeout"], params)
        if method == "chat.postMessage":
            response = self.client.api_call(method, json=args)  # blocks are JSON, not form fields
        else:
            response = self.client.api_call(method, params=args)
        return response.data if isinstance(response.data, dict) else {}

    def find_channel(self, name, private=True):
        """The channel called `name` (not archived), or None. Pages through conversations.list.

        With `private`, private channels the bot is in are looked at too; a token without the groups:read scope
        falls back to public channels only.
        """
        types = "public_channel,private_channel" if private else "public_channel"
        cursor = None
        for _page in range(100):  # 100 pages of 1000 channels; a cursor loop must end somewhere
            args = dict(exclude_archived="true", limit=1000, types=types)
            if cursor:
                args["cursor"] = cursor
            try:
                data = self._call("conversations.list", args)
            except Exception as exc:  # noqa: BLE001 - becomes one readable line
                if private and _error_code(exc) == "missing_scope" and cursor is None:
                    return self.find_channel(name, private=False)
                self.module.fail_json(msg=describe_error(exc, self.url, "conversations.list", self.client.timeout))
            for channel in data.get("channels") or []:
                if channel.get("name") == name:
                    return channel
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None


def _error_code(exc):
    if HAS_SLACK_SDK and isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        return data.get("error") if isinstance(data, dict) else None
    return None


def channel_summary(channel):
    topic = channel.get("topic") or {}
    return {
        "id": channel.get("id"),
        "name": channel.get("name"),
        "created": channel.get("created"),
        "is_private": bool(channel.get("is_private")),
        "topic": topic.get("value", "") if isinstance(topic, dict) else topic,
    }


def describe_error(exc, url, method, timeout):
    """One line naming Slack, the method, the URL and the reason; never the token."""
    where = "Slack %s at %s" % (method, url)
    if isinstance(exc, DeadlinePassed):
        return "%s: %s" % (where, exc)
    if HAS_SLACK_SDK and isinstance(exc, SlackApiError):
        response = exc.response
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        status = getattr(response, "status_code", None)
        error = data.get("error")
        if status == 429 or error in ("ratelimited", "rate_limited"):
            headers = getattr(response, "headers", None) or {}
            after = headers.get("Retry-After") or headers.get("retry-after")
            return "%s: rate limited (HTTP 429)%s" % (where, " - retry after %s s" % after if after else " - retry in a minute")
        if error == "missing_scope":
            needed = data.get("needed")
            return "%s: missing_scope - the bot token lacks the scope%s for this call" % (
                where, " %s" % needed if needed else "")
        if isinstance(error, str) and error.startswith("Received a response in a non-JSON format"):
            return "%s: the answer is not JSON (HTTP %s) - check api_url points at the Slack Web API" % (where, status)
        if error:
            hint = HINTS.get(error)
            # Slack answers most errors with HTTP 200; a 5xx is Slack's own outage, worth saying as such.
            server = " (HTTP %s - Slack's side)" % status if status and status >= 500 else ""
            return "%s: %s%s%s" % (where, error, server, " - %s" % hint if hint else "")
        if status and status >= 400:
            return "%s: HTTP %s - check api_url points at the Slack Web API" % (where, status)
        return "%s: unexpected answer (HTTP %s, no error field)" % (where, status)
    if isinstance(exc, ValueError) and isinstance(exc, json.JSONDecodeError):
        return "%s: the answer is not JSON - check api_url points at the Slack Web API" % where
    network = describe_network_error(where, exc, timeout)
    if network:
        return network
    if HAS_SLACK_SDK and isinstance(exc, SlackClientError):
        return "%s: %s" % (where, _first_line(exc))
    return "%s: %s: %s" % (where, type(exc).__name__, _first_line(exc))


def _first_line(value):
    text = str(value)
    return text.splitlines()[0] if text else type(value).__name__
