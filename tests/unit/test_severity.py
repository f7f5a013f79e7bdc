"""The runbook's severity decision tree at its boundaries."""

import pytest

from ansible_collections.sre.incident.plugins.filter.severity import severity

LEVELS = {
    "SEV1": {"description": "Critical outage, all users affected", "response_time": "15 minutes", "response_minutes": 15},
    "SEV2": {"description": "Major functionality impaired", "response_time": "30 minutes", "response_minutes": 30},
    "SEV3": {"description": "Minor issues, workaround available", "response_time": "2 hours", "response_minutes": 120},
    "SEV4": {"description": "Cosmetic issues, no user impact", "response_time": "Next business day", "response_minutes": None},
}


@pytest.mark.parametrize("affected, level", [
    (0, "SEV4"),
    (0.0, "SEV4"),
    (0.1, "SEV3"),
    (49.9, "SEV3"),
    (50, "SEV2"),  # "> 50 %" vs "< 50 %": exactly half takes the higher level
    (50.1, "SEV2"),
    (98.9, "SEV2"),
    (99, "SEV1"),
    (100, "SEV1"),
])
def test_share_of_users_affected(affected, level):
    result = severity({"health_status": 200, "affected_percent": affected}, LEVELS)
    assert result["level"] == level
    assert result["response_time"] == LEVELS[level]["response_time"]


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504])
def test_health_down_is_sev1_whatever_the_metrics_say(status):
    result = severity({"health_status": status, "affected_percent": 0}, LEVELS)
    assert result["level"] == "SEV1" and "all users affected" in result["reason"]
    assert result["response_minutes"] == 15


def test_no_impact_data_is_not_silently_sev4():
    result = severity({"health_status": 200, "affected_percent": None}, LEVELS)
    assert result["level"] == "SEV3" and "no data" in result["reason"]


def test_thresholds_are_configurable():
    assert severity({"health_status": 200, "affected_percent": 40}, LEVELS, major_percent=30)["level"] == "SEV2"
    assert severity({"health_status": 200, "affected_percent": 0.5}, LEVELS, impact_floor_percent=1)["level"] == "SEV4"
