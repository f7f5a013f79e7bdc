"""Communication modules (slack_channel, slack_message, pagerduty_event, datadog_event) against the lab's Slack
and PagerDuty sinks and its Datadog emulator: what each really sent, check mode sending nothing, and failures as one
readable line within the timeout that never shows the token or routing key."""

import json
import socket
import time
import urllib.request
import uuid

import pytest
import yaml

from helpers import adhoc

DEAD = "http://127.0.0.1:9"
WRONG = "xoxb-wrong-Do-Not-Print-4242"


def http(method, url):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def recorded(url, path="/_sink/requests"):
    return http("GET", url + path)


def result_of(result):
    """The module's result from `ansible localhost -m` output ("localhost | CHANGED => <yaml>")."""
    text = result.stdout
    assert "=>" in text, result.stdout + result.stderr
    return yaml.safe_load(text.split("=>", 1)[1])


def run(module, args, secret, check=False):
    result, text = adhoc(module, args, check=check, secret=secret)
    return result, text


@pytest.fixture
def slack(lab):
    conf = lab["slack"]
    http("DELETE", conf["url"] + "/_sink/requests")
    return dict(conf, api=conf["url"] + "/api")


@pytest.fixture
def pagerduty(lab):
    conf = lab["pagerduty"]
    http("DELETE", conf["url"] + "/_sink/requests")
    return conf


@pytest.fixture
def datadog(lab):
    conf = lab["datadog"]
    http("DELETE", conf["url"] + "/_lab/events")
    return conf


def slack_args(slack, **args):
    return dict(args, api_url=slack["api"], token=slack["token"])


def writes(requests):
    return [r for r in requests if r["method"] != "conversations.list"]


# --- slack_channel ---------------------------------------------------------------------------------
def test_slack_channel_is_created_once_with_its_topic(slack):
    name = "inc-%s" % uuid.uuid4().hex[:10]
    args = slack_args(slack, name="#" + name, topic="SEV-2 Redis cache down & investigating")
    result, text = run("slack_channel", args, slack["token"])
    assert result.returncode == 0, text
    first = result_of(result)
    assert first["changed"] is True and first["created"] is True
    assert first["channel"]["name"] == name and first["channel"]["id"].startswith("C")
    assert first["channel"]["topic"] == "SEV-2 Redis cache down & investigating"
    sent = writes(recorded(slack["url"]))
    assert [r["method"] for r in sent] == ["conversations.create", "conversations.setTopic"]
    assert sent[0]["body"]["name"] == name and sent[0]["body"]["is_private"] == "false"
    assert sent[1]["body"] == {"channel": first["channel"]["id"], "topic": "SEV-2 Redis cache down & investigating"}
    assert all(r["bearer_token_sent"] and r["token_valid"] for r in sent)
    assert slack["token"] not in text

    http("DELETE", slack["url"] + "/_sink/requests")
    result, text = run("slack_channel", args, slack["token"])
    assert result.returncode == 0, text
    second = result_of(result)
    assert second["changed"] is False and second["created"] is False and second["requests"] == []
    assert second["channel"]["id"] == first["channel"]["id"]
    assert writes(recorded(slack["url"])) == []

    result, text = run("slack_channel", dict(args, topic="SEV-2 mitigated"), slack["token"])
    assert result.returncode == 0, text
    assert result_of(result)["changed"] is True
    assert [r["method"] for r in writes(recorded(slack["url"]))] == ["conversations.setTopic"]


def test_slack_channel_check_mode_only_looks(slack):
    name = "inc-%s" % uuid.uuid4().hex[:10]
    result, text = run("slack_channel", slack_args(slack, name=name, topic="SEV-3", private=True), slack["token"],
                       check=True)
    assert result.returncode == 0, text
    planned = result_of(result)
    assert planned["changed"] is True and planned["created"] is True and planned["channel"]["id"] is None
    assert planned["requests"] == [
        {"method": "conversations.create", "body": {"name": name, "is_private": True}},
        {"method": "conversations.setTopic", "body": {"channel": "#" + name, "topic": "SEV-3"}},
    ]
    assert writes(recorded(slack["url"])) == []

    result, text = run("slack_channel", slack_args(slack, name="incidents"), slack["token"], check=True)
    assert result.returncode == 0, text
    assert result_of(result)["changed"] is False


@pytest.mark.parametrize("name,reason", [
    ("Incident-42", "has uppercase letters"),
    ("inc 42", "contains ' '"),
    ("inc.42", "contains '.'"),
    ("x" * 81, "has 81 characters (at most 80)"),
])
def test_slack_channel_name_rules_are_checked_before_any_call(slack, name, reason):
    result, text = run("slack_channel", slack_args(slack, name=name), slack["token"])
    assert result.returncode != 0
    assert "is not a valid Slack channel name: it " in text and reason in text, text
    assert recorded(slack["url"]) == []


# --- slack_message ---------------------------------------------------------------------------------
def test_slack_message_posts_to_a_channel_by_name_and_replies_in_thread(slack):
    args = slack_args(slack, channel="#incidents", text="SEV-2: Redis cache down on sample-service",
                      mention=["@here", "eng-manager", "U0LABBOT1"])
    result, text = run("slack_message", args, slack["token"])
    assert result.returncode == 0, text
    posted = result_of(result)
    assert posted["changed"] is True and posted["ts"] and posted["channel"].startswith("C")
    expected_text = "<!here> @eng-manager <@U0LABBOT1> SEV-2: Redis cache down on sample-service"
    assert posted["request"] == {"channel": posted["channel"], "text": expected_text}
    sent = writes(recorded(slack["url"]))
    assert [r["method"] for r in sent] == ["chat.postMessage"]
    assert sent[0]["body"] == {"channel": posted["channel"], "text": expected_text}
    assert sent[0]["token_valid"]

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Failover done*"}}]
    reply = slack_args(slack, channel=posted["channel"], text="Failover done", thread_ts=posted["ts"], blocks=blocks)
    result, text = run("slack_message", reply, slack["token"])
    assert result.returncode == 0, text
    assert result_of(result)["thread_ts"] == posted["ts"]
    last = recorded(slack["url"])[-1]
    assert last["method"] == "chat.postMessage"
    assert last["body"] == {"channel": posted["channel"], "text": "Failover done", "thread_ts": posted["ts"],
                            "blocks": blocks}
    assert slack["token"] not in text


def test_slack_message_check_mode_sends_nothing(slack):
    args = slack_args(slack, channel="#inc-not-created-yet", text="SEV-2 declared", mention=["@eng-manager"])
    result, text = run("slack_message", args, slack["token"], check=True)
    assert result.returncode == 0, text
    planned = result_of(result)
    assert planned["changed"] is True and planned["ts"] is None
    assert planned["request"] == {"channel": "#inc-not-created-yet", "text": "@eng-manager SEV-2 declared"}
    assert recorded(slack["url"]) == []


def test_slack_message_to_a_missing_channel_names_it(slack):
    result, text = run("slack_message", slack_args(slack, channel="#no-such-channel", text="x"), slack["token"])
    assert result.returncode != 0
    assert "Slack conversations.list at %s: channel_not_found - no channel named #no-such-channel" % slack["api"] in text
    assert "Traceback" not in text and slack["token"] not in text


@pytest.mark.parametrize("module,args,call", [
    ("slack_message", {"channel": "C0123456789", "text": "x"}, "chat.postMessage"),
    ("slack_channel", {"name": "incidents"}, "conversations.list"),
])
def test_slack_bad_token_is_invalid_auth(slack, module, args, call):
    result, text = run(module, dict(args, api_url=slack["api"], token=WRONG), WRONG)
    assert result.returncode != 0
    assert "Slack %s at %s: invalid_auth - check the bot token" % (call, slack["api"]) in text, text
    assert WRONG not in text and "Traceback" not in text
    assert recorded(slack["url"])[-1]["token_valid"] is False


# --- pagerduty_event ---------------------------------------------------------------------------------
def test_pagerduty_trigger_then_acknowledge_and_resolve(pagerduty):
    key = "sample-service/redis_down/%s" % uuid.uuid4().hex[:8]
    base = {"api_url": pagerduty["url"], "routing_key": pagerduty["routing_key"]}
    trigger = dict(base, dedup_key=key, summary="SEV-2 Redis cache down", source="sample-service", severity="error",
                   component="redis", group="sample-service-prod", event_class="cache down",
                   custom_details={"hit_rate": 0.0, "primary": "down"})
    result, text = run("pagerduty_event", trigger, pagerduty["routing_key"])
    assert result.returncode == 0, text
    answer = result_of(result)
    assert answer["changed"] is True and answer["status"] == "success" and answer["dedup_key"] == key
    payload = {"summary": "SEV-2 Redis cache down", "source": "sample-service", "severity": "error",
               "component": "redis", "group": "sample-service-prod", "class": "cache down",
               "custom_details": {"hit_rate": 0.0, "primary": "down"}}
    assert answer["request"] == {"event_action": "trigger", "dedup_key": key, "payload": payload}
    assert pagerduty["routing_key"] not in text

    for action in ("acknowledge", "resolve"):
        result, text = run("pagerduty_event", dict(base, event_action=action, dedup_key=key), pagerduty["routing_key"])
        assert result.returncode == 0, text
        assert result_of(result)["request"] == {"event_action": action, "dedup_key": key}

    sent = recorded(pagerduty["url"])
    assert [r["body"]["event_action"] for r in sent] == ["trigger", "acknowledge", "resolve"]
    assert all(r["routing_key_valid"] and r["body"]["dedup_key"] == key for r in sent)
    assert sent[0]["body"]["payload"] == payload
    assert sent[1]["body"] == {"event_action": "acknowledge", "dedup_key": key, "routing_key": "<redacted>"}


def test_pagerduty_trigger_without_key_returns_the_one_pagerduty_made(pagerduty):
    args = {"api_url": pagerduty["url"], "routing_key": pagerduty["routing_key"], "summary": "s", "source": "x",
            "severity": "info"}
    result, text = run("pagerduty_event", args, pagerduty["routing_key"])
    assert result.returncode == 0, text
    assert result_of(result)["dedup_key"]


def test_pagerduty_check_mode_sends_nothing(pagerduty):
    args = {"api_url": pagerduty["url"], "routing_key": pagerduty["routing_key"], "event_action": "trigger",
            "dedup_key": "k-check", "summary": "SEV-1 service down", "source": "sample-service", "severity": "critical"}
    result, text = run("pagerduty_event", args, pagerduty["routing_key"], check=True)
    assert result.returncode == 0, text
    planned = result_of(result)
    assert planned["changed"] is True and planned["status"] is None and planned["dedup_key"] == "k-check"
    assert planned["request"] == {"event_action": "trigger", "dedup_key": "k-check", "payload": {
        "summary": "SEV-1 service down", "source": "sample-service", "severity": "critical"}}
    assert "routing_key" not in planned["request"] and pagerduty["routing_key"] not in text
    assert recorded(pagerduty["url"]) == []


def test_pagerduty_wrong_routing_key_and_invalid_event_are_named(pagerduty):
    wrong = "0123456789abcdef-Do-Not-Print"
    args = {"api_url": pagerduty["url"], "routing_key": wrong, "event_action": "acknowledge", "dedup_key": "k"}
    result, text = run("pagerduty_event", args, wrong)
    assert result.returncode != 0
    assert ("PagerDuty Events API v2 enqueue at %s: HTTP 400 invalid event: Invalid routing key - check the routing key"
            % pagerduty["url"]) in text, text
    assert wrong not in text and "Traceback" not in text

    result, text = run("pagerduty_event", {"api_url": pagerduty["url"], "routing_key": pagerduty["routing_key"],
                                           "event_action": "resolve"}, pagerduty["routing_key"])
    assert result.returncode != 0
    assert "event_action is resolve but all of the following are missing: dedup_key" in text
    assert recorded(pagerduty["url"])[-1]["body"]["event_action"] == "acknowledge"  # the resolve was never sent


# --- datadog_event ---------------------------------------------------------------------------------
def dd_args(datadog, **args):
    return dict(args, api_url=datadog["url"], api_key=datadog["api_key"], app_key=datadog["app_key"])


def test_datadog_event_is_created_with_title_and_tags(datadog):
    args = dd_args(datadog, title="SEV-2 Redis cache down - sample-service", text="Failover started",
                   tags=["service:sample-service", "incident:42"], alert_type="warning",
                   aggregation_key="incident-42", source_type_name="ansible")
    result, text = run("datadog_event", args, datadog["api_key"])
    assert result.returncode == 0, text
    answer = result_of(result)
    assert answer["changed"] is True and answer["id"] and "event" in answer["url"]
    events = recorded(datadog["url"], "/_lab/events")
    assert len(events) == 1 and events[0]["id"] == answer["id"]
    assert events[0]["request"] == {"title": "SEV-2 Redis cache down - sample-service", "text": "Failover started",
                                    "tags": ["service:sample-service", "incident:42"], "alert_type": "warning",
                                    "aggregation_key": "incident-42", "source_type_name": "ansible"}
    assert answer["request"] == events[0]["request"]
    assert datadog["api_key"] not in text and datadog["app_key"] not in text


def test_datadog_event_check_mode_sends_nothing(datadog):
    args = dd_args(datadog, title="SEV-3 declared", text="-", tags=["incident:43"])
    result, text = run("datadog_event", args, datadog["api_key"], check=True)
    assert result.returncode == 0, text
    planned = result_of(result)
    assert planned["changed"] is True and planned["id"] is None
    assert planned["request"] == {"title": "SEV-3 declared", "text": "-", "tags": ["incident:43"], "alert_type": "info"}
    assert recorded(datadog["url"], "/_lab/events") == []


def test_datadog_event_wrong_key_is_named(datadog):
    wrong = "wrong-Do-Not-Print-4242"
    result, text = run("datadog_event", dict(dd_args(datadog, title="t", text="x"), api_key=wrong), wrong)
    assert result.returncode != 0
    assert "Datadog %s create_event: HTTP 403 - the API or application key is wrong" % datadog["url"] in text, text
    assert wrong not in text and "Traceback" not in text
    assert recorded(datadog["url"], "/_lab/events") == []


# --- unreachable and silent backends -----------------------------------------------------------------
SECRET = "s3cr3t-Do-Not-Print-4242"
UNREACHABLE = [
    ("slack_channel", {"name": "incidents", "api_url": DEAD + "/api", "token": SECRET, "timeout": 2},
     "Slack conversations.list at %s/api: cannot reach the API (connection refused)" % DEAD),
    ("slack_message", {"channel": "C0123456789", "text": "x", "api_url": DEAD + "/api", "token": SECRET, "timeout": 2},
     "Slack chat.postMessage at %s/api: cannot reach the API (connection refused)" % DEAD),
    ("pagerduty_event", {"event_action": "resolve", "dedup_key": "k", "api_url": DEAD, "routing_key": SECRET,
                         "timeout": 2},
     "PagerDuty Events API v2 enqueue at %s: cannot reach the API (connection refused)" % DEAD),
    ("datadog_event", {"title": "t", "text": "x", "api_url": DEAD, "api_key": SECRET, "app_key": SECRET + "app",
                       "request_timeout": 1},
     "Datadog %s create_event: cannot reach the API" % DEAD),
]


@pytest.mark.parametrize("module,args,expected", UNREACHABLE, ids=[u[0] for u in UNREACHABLE])
def test_unreachable_api_is_one_readable_line(module, args, expected):
    started = time.monotonic()
    result, text = run(module, args, SECRET)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert expected in text, text
    assert SECRET not in text and "Traceback" not in text
    assert elapsed < 15, elapsed


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("module,args,expected", [
    ("slack_message", {"channel": "C0123456789", "text": "x", "token": SECRET, "timeout": 2},
     "Slack chat.postMessage at http://127.0.0.1:%d/api: timed out after 2 s (timeout)"),
    ("pagerduty_event", {"event_action": "acknowledge", "dedup_key": "k", "routing_key": SECRET, "timeout": 2},
     "PagerDuty Events API v2 enqueue at http://127.0.0.1:%d: timed out after 2 s (timeout)"),
], ids=["slack_message", "pagerduty_event"])
def test_silent_api_fails_within_the_timeout(silent_port, module, args, expected):
    url = "http://127.0.0.1:%d" % silent_port
    args = dict(args, api_url=url + "/api" if module.startswith("slack") else url)
    started = time.monotonic()
    result, text = run(module, args, SECRET)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert expected % silent_port in text, text
    assert SECRET not in text and "Traceback" not in text
    assert elapsed < 2 + 8, elapsed  # the timeout plus ansible's own start-up


@pytest.mark.parametrize("module,args,expected", [
    ("slack_message", {"channel": "#x", "text": "x", "api_url": DEAD}, "a bot token is required"),
    ("pagerduty_event", {"event_action": "resolve", "dedup_key": "k", "api_url": DEAD}, "a routing key is required"),
])
def test_missing_credentials_are_named(module, args, expected, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    result, text = run(module, args, None, check=True)
    assert result.returncode != 0
    assert expected in text, text
