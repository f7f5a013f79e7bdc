"""cloudwatch_logs_search on the lab: with keep=newest a diagnosis sees what the service logs now, even when an
earlier outage in the window logged more lines than the limit (FilterLogEvents returns the oldest first)."""

from __future__ import annotations

import json
import time

import yaml

from helpers import adhoc, aws, aws_args

GROUP = "/lab-test/newest"


def result_of(result):
    assert "=>" in result.stdout, result.stdout + result.stderr
    return yaml.safe_load(result.stdout.split("=>", 1)[1])


def test_keep_newest_returns_the_last_lines_of_the_window_and_oldest_the_first(lab):
    logs = aws(lab, "logs")
    try:
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="app")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    # An earlier outage: 120 lines four minutes ago; the current one: 10 lines in the last seconds.
    events = [{"timestamp": now - 240000 + i, "message": json.dumps({"level": "error", "message": "Redis old %d" % i})}
              for i in range(120)]
    events += [{"timestamp": now - 5000 + i, "message": json.dumps({"level": "error", "message": "Redis new %d" % i})}
               for i in range(10)]
    logs.put_log_events(logGroupName=GROUP, logStreamName="app", logEvents=events)

    args = dict(aws_args(lab), log_group=GROUP, filter_pattern="Redis", since="10m", limit=20)
    newest = result_of(adhoc("cloudwatch_logs_search", dict(args, keep="newest"))[0])
    messages = [json.loads(event["message"])["message"] for event in newest["events"]]
    assert messages == ["Redis old %d" % i for i in range(110, 120)] + ["Redis new %d" % i for i in range(10)]
    assert newest["count"] == 20 and newest["truncated"] is True

    oldest = result_of(adhoc("cloudwatch_logs_search", args)[0])
    assert [json.loads(event["message"])["message"] for event in oldest["events"]] == ["Redis old %d" % i for i in range(20)]
    assert oldest["truncated"] is True
