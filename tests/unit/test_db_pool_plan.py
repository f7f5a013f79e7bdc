"""Which runbook options the connection-pool diagnosis picks (the decision logic, at its boundaries)."""

from ansible_collections.sre.incident.plugins.filter.db_pool_plan import db_pool_plan

APP = "sample_app"


def activity(connections=5, max_connections=30, app=4, limit=24, idle=0, running=0, reserved=3, can_signal=True):
    return {
        "connections": connections, "max_connections": max_connections, "reserved_connections": reserved,
        "usage_percent": round(100.0 * connections / max_connections, 1),
        "by_state": {"idle": idle, "active": running}, "by_application": {"sample-service": app}, "by_user": {APP: app},
        "user_limits": {APP: {"connections": app, "limit": limit, "at_limit": limit >= 0 and app >= limit}},
        "idle": [{"pid": 100 + n, "user": APP, "state": "idle", "seconds": 700} for n in range(idle)]
        + [{"pid": 900, "user": "reporting", "state": "idle", "seconds": 900}],
        "idle_in_transaction": [],
        "running_over": [{"pid": 200 + n, "user": APP, "state": "active", "seconds": 400} for n in range(running)],
        "long_running": [{"pid": 200 + n, "user": APP, "state": "active", "seconds": 400, "query": "SELECT 1"} for n in range(running)],
        "privileges": {"role": "sre_automation", "can_signal_backends": can_signal},
        "thresholds": {"idle_seconds": 600.0, "running_seconds": 300.0},
    }


def plan(act, size=20, available=14, errors=0, **options):
    evidence = {"activity": act, "metrics": {"pool_size": {"latest": size}, "pool_available": available}, "errors": errors}
    return db_pool_plan(evidence, APP, **options)


def test_healthy_needs_nothing_even_with_past_errors_in_the_logs():
    result = plan(activity(), errors=40)
    assert result["recommended_options"] == ["none"] and result["healthy"]
    assert any("too many connections' errors in the logs: 40" in line for line in result["findings"])


def test_role_at_its_limit_with_stale_idle_and_long_running_takes_options_1_and_2():
    result = plan(activity(connections=26, app=24, idle=17, running=7), available=0)
    assert result["recommended_options"] == ["kill_idle", "kill_long_running"]
    assert result["recommended_option"] == "kill_idle+kill_long_running"
    assert result["candidates"] == {"kill_idle": 17, "kill_long_running": 7}


def test_other_users_stale_sessions_are_not_candidates():
    result = plan(activity(connections=26, app=24), available=0)
    assert result["candidates"]["kill_idle"] == 0  # pid 900 belongs to "reporting"
    assert result["recommended_options"] == ["restart"]


def test_only_idle_stale_takes_option_1_only():
    assert plan(activity(connections=26, app=24, idle=5), available=0)["recommended_options"] == ["kill_idle"]


def test_one_below_the_role_limit_and_usage_under_the_threshold_is_not_exhausted():
    result = plan(activity(connections=23, app=23, idle=5))
    assert result["recommended_options"] == ["none"]


def test_usage_threshold_boundary():
    # 24 of 30 = 80 %: at the threshold counts as exhausted; 23 (76.7 %) does not.
    assert plan(activity(connections=24, app=2, limit=-1, idle=1), usage_percent=80)["recommended_options"] == ["kill_idle"]
    assert plan(activity(connections=23, app=2, limit=-1, idle=1), usage_percent=80)["recommended_options"] == ["none"]


def test_pool_full_with_database_room_raises_the_pool():
    result = plan(activity(connections=3, app=0), available=0)
    assert result["recommended_options"] == ["raise_pool"]
    assert result["pool_raise"] == {"to": 30, "extra": 10, "free": 24, "fits": True, "why": ""}


def test_pool_raise_that_does_not_fit_restarts_instead():
    # four pools of 20 -> 30 need 40 more connections; the role has 24 free
    result = plan(activity(connections=3, app=0), available=0, pool_instances=4)
    assert result["recommended_options"] == ["restart"]
    assert not result["pool_raise"]["fits"] and "40 more connection(s) needed, the database has 24 free" in result["pool_raise"]["why"]


def test_free_slots_exactly_enough_fits():
    # 30 max - 3 reserved - 17 used = 10 free, no role limit: 20 -> 30 needs exactly 10
    result = plan(activity(connections=17, app=0, limit=-1), available=0)
    assert result["pool_raise"]["fits"] and result["recommended_options"] == ["raise_pool"]
    result = plan(activity(connections=18, app=0, limit=-1), available=0)
    assert not result["pool_raise"]["fits"]


def test_pool_already_at_the_raise_target_restarts():
    result = plan(activity(connections=3, app=0), size=30, available=0)
    assert result["recommended_options"] == ["restart"]
    assert "already 30" in result["pool_raise"]["why"]


def test_missing_pool_metrics_never_raise_the_pool():
    evidence = {"activity": activity(connections=26, app=24, idle=3), "metrics": {}, "errors": 0}
    result = db_pool_plan(evidence, APP)
    assert result["recommended_options"] == ["kill_idle"]
    assert not result["pool_raise"]["fits"]


def test_missing_signal_privilege_is_a_finding():
    result = plan(activity(connections=26, app=24, idle=3, can_signal=False), available=0)
    assert any("no pg_signal_backend" in line for line in result["findings"])


def test_wrong_automation_password_stops_the_diagnosis():
    reads = {"activity": {"failed": True, "msg": 'PostgreSQL 127.0.0.1:5432: connection failed: FATAL:  password '
                                                 'authentication failed for user "sre_automation"'},
             "pool": {}, "logs": {}}
    result = db_pool_plan({"activity": {}, "metrics": {}}, APP, reads=reads)
    assert result["recommended_options"] == ["none"] and not result["healthy"]
    assert "fix its credentials" in result["automation_errors"][0]


def test_pool_metrics_missing_still_ends_stale_sessions_the_logs_corroborate():
    reads = {"activity": {}, "pool": {"failed": True, "msg": "Datadog: timed out"}, "logs": {}}
    evidence = {"activity": activity(connections=26, app=24, idle=17), "metrics": {}, "errors": 12}
    result = db_pool_plan(evidence, APP, reads=reads)
    assert result["recommended_options"] == ["kill_idle"]
    assert result["missing_reads"] == ["pool"]


def test_pool_metrics_missing_refuses_a_pool_raise_or_restart():
    reads = {"activity": {}, "pool": {"failed": True, "msg": "Datadog: timed out"}, "logs": {}}
    result = db_pool_plan({"activity": activity(connections=26, app=24), "metrics": {}, "errors": 12}, APP, reads=reads)
    assert result["recommended_options"] == ["none"]
    assert "Datadog (pool metrics)" in result["refused"]


def test_exhaustion_the_application_does_not_show_is_refused():
    reads = {"activity": {}, "pool": {}, "logs": {}}
    evidence = {"activity": activity(connections=26, app=24, idle=17), "metrics": {"pool_size": 20, "pool_available": 9}, "errors": 0}
    result = db_pool_plan(evidence, APP, reads=reads)
    assert result["recommended_options"] == ["none"]
    assert "do not show the exhaustion" in result["refused"]
