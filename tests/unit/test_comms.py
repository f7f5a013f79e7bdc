"""Communication modules: mentions, Slack channel-name rules, the PagerDuty event body and the error lines."""

import json
import socket
from urllib.error import URLError

import pytest

from ansible_collections.sre.incident.plugins.module_utils import pagerduty, slack
from ansible_collections.sre.incident.plugins.modules import pagerduty_event, slack_message


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, msg, **_kwargs):
        raise Failed(msg)


@pytest.mark.parametrize("handle,text", [
    ("@here", "<!here>"), ("channel", "<!channel>"), ("U0123ABCD", "<@U0123ABCD>"), ("@W0123ABCD", "<@W0123ABCD>"),
    ("S0123ABCD", "<!subteam^S0123ABCD>"), ("@eng-manager", "@eng-manager"), ("eng-manager", "@eng-manager"),
    ("Uppercase-handle", "@Uppercase-handle"),
])
def test_mentions(handle, text):
    assert slack_message.mention_text(handle) == text


@pytest.mark.parametrize("value,name", [("#inc-42", "inc-42"), ("inc_42", "inc_42"), ("x" * 80, "x" * 80)])
def test_valid_channel_names(value, name):
    assert slack.channel_name(FakeModule(), value) == name


@pytest.mark.parametrize("value,reason", [
    ("", "is empty"),
    ("Inc-42", "has uppercase letters"),
    ("inc 42", "contains ' '"),
    ("inc.42\n", "contains '.'"),
    ("inc-é", "contains 'é'"),
    ("x" * 81, "has 81 characters (at most 80)"),
])
def test_invalid_channel_names_say_why(value, reason):
    with pytest.raises(Failed) as failed:
        slack.channel_name(FakeModule(), value)
    assert "is not a valid Slack channel name" in str(failed.value) and reason in str(failed.value)


def test_channel_ids_are_recognised():
    assert slack.CHANNEL_ID.match("C0123ABCDEF") and slack.CHANNEL_ID.match("G0123ABCD")
    assert not slack.CHANNEL_ID.match("incidents") and not slack.CHANNEL_ID.match("C0123ABCDEF\n")


def params(**overrides):
    base = dict(event_action="trigger", dedup_key=None, summary="s", source="x", severity="info", component=None,
                group=None, event_class=None, custom_details=None)
    base.update(overrides)
    return base


def test_trigger_event_has_the_payload_and_class():
    event = pagerduty_event.build_event(params(dedup_key="k", event_class="cache down", custom_details={"a": 1}))
    assert event == {"event_action": "trigger", "dedup_key": "k", "payload": {
        "summary": "s", "source": "x", "severity": "info", "class": "cache down", "custom_details": {"a": 1}}}
    assert "routing_key" not in json.dumps(event)


def test_acknowledge_event_has_no_payload():
    assert pagerduty_event.build_event(params(event_action="acknowledge", dedup_key="k")) == {
        "event_action": "acknowledge", "dedup_key": "k"}


WHERE = "PagerDuty Events API v2 enqueue at http://pd"


def test_pagerduty_http_errors():
    invalid = json.dumps({"status": "invalid event", "errors": ["'payload.summary' is missing or blank"]})
    assert pagerduty.describe_http_error(WHERE, 400, invalid) == (
        WHERE + ": HTTP 400 invalid event: 'payload.summary' is missing or blank")
    assert "check the routing key" in pagerduty.describe_http_error(WHERE, 400, json.dumps({"errors": ["Invalid routing key"]}))
    limited = pagerduty.describe_http_error(WHERE, 429, b"", {"Retry-After": "30"})
    assert limited == WHERE + ": rate limited (HTTP 429) - PagerDuty throttles events per routing key; retry after 30 s"
    assert "HTTP 503" in pagerduty.describe_http_error(WHERE, 503, b"<html>")


def test_pagerduty_network_errors():
    assert "timed out after 2 s (timeout)" in pagerduty.describe_network_error(WHERE, URLError(socket.timeout("timed out")), 2)
    assert "connection refused" in pagerduty.describe_network_error(WHERE, URLError(ConnectionRefusedError(111, "x")), 2)


@pytest.mark.skipif(not slack.HAS_SLACK_SDK, reason="slack_sdk not installed")
@pytest.mark.parametrize("data,status,headers,expected", [
    ({"ok": False, "error": "invalid_auth"}, 200, {}, "invalid_auth - check the bot token"),
    ({"ok": False, "error": "channel_not_found"}, 200, {}, "channel_not_found - check the channel id or name"),
    ({"ok": False, "error": "missing_scope", "needed": "chat:write"}, 200, {}, "missing_scope - the bot token lacks the scope chat:write"),
    ({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "7"}, "rate limited (HTTP 429) - retry after 7 s"),
    ({"ok": False, "error": "some_new_error"}, 200, {}, "some_new_error"),
])
def test_slack_api_errors(data, status, headers, expected):
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(client=None, http_verb="POST", api_url="http://s/api/chat.postMessage", req_args={},
                             data=data, headers=headers, status_code=status)
    line = slack.describe_error(SlackApiError("failed", response), "http://s/api", "chat.postMessage", 10)
    assert line.startswith("Slack chat.postMessage at http://s/api: " + expected), line


def test_slack_network_errors():
    timeout = slack.describe_error(TimeoutError("The read operation timed out"), "http://s/api", "chat.postMessage", 3)
    assert timeout == "Slack chat.postMessage at http://s/api: timed out after 3 s (timeout) - the API is slow or unreachable"
    refused = slack.describe_error(URLError(ConnectionRefusedError(111, "Connection refused")), "http://s/api",
                                   "conversations.list", 3)
    assert "cannot reach the API (connection refused)" in refused


class FakeSlack:
    """Stands in for module_utils.slack.Slack: one existing channel, records the write calls."""

    def __init__(self, channel):
        self.channel, self.calls, self.url = channel, [], "http://s/api"

    def find_channel(self, name, private=True):
        return self.channel if self.channel and self.channel["name"] == name else None

    def call(self, method, **args):
        self.calls.append((method, args))
        return {"ok": True, "channel": dict(self.channel or {}, topic={"value": args.get("topic", "")})}


def run_slack_channel(monkeypatch, capsys, fake, check_mode=False, **args):
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.sre.incident.plugins.modules import slack_channel

    monkeypatch.setattr(slack_channel, "Slack", lambda _module: fake)
    with patch_module_args(dict(args, token="xoxb-t", _ansible_check_mode=check_mode)), pytest.raises(SystemExit):
        slack_channel.main()
    return json.loads(capsys.readouterr().out)


def channel(**overrides):
    base = {"id": "C0123ABCD", "name": "incidents", "created": 1, "is_private": False, "is_member": True,
            "topic": {"value": "a &amp; b"}}
    base.update(overrides)
    return base


def test_slack_channel_topic_compares_unescaped(monkeypatch, capsys):
    fake = FakeSlack(channel())
    result = run_slack_channel(monkeypatch, capsys, fake, name="incidents", topic="a & b")
    assert result["changed"] is False and fake.calls == []


def test_slack_channel_joins_a_public_channel_it_is_not_in(monkeypatch, capsys):
    fake = FakeSlack(channel(is_member=False))
    planned = run_slack_channel(monkeypatch, capsys, fake, check_mode=True, name="incidents")
    assert planned["changed"] is True and fake.calls == []
    assert planned["requests"] == [{"method": "conversations.join", "body": {"channel": "C0123ABCD"}}]
    done = run_slack_channel(monkeypatch, capsys, fake, name="incidents")
    assert done["changed"] is True and fake.calls == [("conversations.join", {"channel": "C0123ABCD"})]


def test_slack_channel_private_non_member_is_a_warning(monkeypatch, capsys):
    from ansible.module_utils.basic import AnsibleModule

    warned = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda _self, message: warned.append(message))
    fake = FakeSlack(channel(is_member=False, is_private=True))
    result = run_slack_channel(monkeypatch, capsys, fake, name="incidents", join=True)
    assert result["changed"] is False and fake.calls == []
    assert warned == ["the bot is not a member of the private channel #incidents; invite it to post there"]
