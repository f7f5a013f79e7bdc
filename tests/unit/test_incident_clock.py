"""The times an incident's messages show."""

from ansible_collections.sre.incident.plugins.filter.incident_clock import incident_clock

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def test_open_incident():
    record = {"detected_at": "2027-01-15T07:29:00Z", "acknowledged_at": "2027-01-15T07:31:30+00:00",
              "notifications": [{"kind": "investigating", "at": NOW - 60}, {"kind": "initial", "at": "2027-01-15T07:40:00Z"}]}
    clock = incident_clock(record, 15, now=NOW)
    assert clock["detected"] == "2027-01-15 07:29" and clock["now"] == "2027-01-15 08:00"
    assert clock["minutes_open"] == 31 and clock["duration_minutes"] == 31 and clock["resolved"] is None
    assert clock["ack_delay_minutes"] == 2 and clock["minutes_since_update"] == 20 and clock["next_update"] == "08:15"


def test_resolved_incident():
    record = {"detected_at": NOW - 1800, "resolved_at": "2027-01-15T08:00:00", "notifications": []}
    clock = incident_clock(record, now=NOW + 600)
    assert clock["duration_minutes"] == 30 and clock["minutes_open"] is None and clock["minutes_since_update"] is None
    assert clock["resolved"] == "2027-01-15 08:00"


def test_empty_record():
    clock = incident_clock({}, now=NOW)
    assert clock["detected"] is None and clock["duration_minutes"] is None
