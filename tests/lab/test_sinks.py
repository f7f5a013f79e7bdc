"""Slack and PagerDuty sinks answer like the services and record what was posted (never the secrets)."""

from __future__ import annotations

import json

from labhelpers import http


def test_slack_channel_and_message(lab):
    url, token = lab["slack"]["url"], lab["slack"]["token"]
    http("DELETE", url + "/_sink/requests")
    auth = {"Authorization": f"Bearer {token}"}
    status, created = http("POST", url + "/api/conversations.create", {"name": "incident-20251119-1030"}, auth)
    assert status == 200 and created["ok"] is True
    channel_id = created["channel"]["id"]
    posted = http("POST", url + "/api/chat.postMessage", {"channel": channel_id, "text": "Investigating"}, auth)[1]
    assert posted["ok"] is True and posted["channel"] == channel_id and posted["ts"]
    by_name = http("POST", url + "/api/chat.postMessage",
                   {"channel": "#incident-20251119-1030", "text": "update", "token": token}, form=True)[1]
    assert by_name["ok"] is True and by_name["channel"] == channel_id
    taken = http("POST", url + "/api/conversations.create", {"name": "incident-20251119-1030"}, auth)[1]
    assert taken == {"ok": False, "error": "name_taken"}
    bad = http("POST", url + "/api/chat.postMessage", {"channel": channel_id, "text": "x"},
               {"Authorization": "Bearer xoxb-wrong"})[1]
    assert bad == {"ok": False, "error": "invalid_auth"}
    recorded = http("GET", url + "/_sink/requests")[1]
    assert [r["method"] for r in recorded] == ["conversations.create", "chat.postMessage", "chat.postMessage",
                                               "conversations.create", "chat.postMessage"]
    assert recorded[1]["body"] == {"channel": channel_id, "text": "Investigating"}
    assert recorded[1]["bearer_token_sent"] is True and recorded[1]["token_valid"] is True
    assert recorded[-1]["token_valid"] is False
    assert token not in json.dumps(recorded)
    http("DELETE", url + "/_sink/requests")
    assert http("GET", url + "/_sink/requests") == (200, [])


def test_pagerduty_events_v2(lab):
    url, key = lab["pagerduty"]["url"], lab["pagerduty"]["routing_key"]
    http("DELETE", url + "/_sink/requests")
    event = {"routing_key": key, "event_action": "trigger",
             "payload": {"summary": "Redis Cache Down", "source": "sample-service", "severity": "critical"}}
    status, body = http("POST", url + "/v2/enqueue", event)
    assert status == 202 and body["status"] == "success" and body["message"] == "Event processed"
    dedup = body["dedup_key"]
    status, body = http("POST", url + "/v2/enqueue", {"routing_key": key, "event_action": "resolve", "dedup_key": dedup})
    assert status == 202 and body["dedup_key"] == dedup
    status, body = http("POST", url + "/v2/enqueue", {**event, "routing_key": "wrong"})
    assert status == 400 and body["status"] == "invalid event"
    status, recorded = http("GET", url + "/_sink/requests")
    assert [r["routing_key_valid"] for r in recorded] == [True, True, False]
    assert recorded[0]["body"]["payload"]["summary"] == "Redis Cache Down"
    assert key not in json.dumps(recorded)
