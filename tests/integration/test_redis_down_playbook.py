"""Redis Cache Down end to end: the real playbook against the lab, outcomes read back from the backends."""

import json
import time
from pathlib import Path

import redis

from helpers import clear_sinks, container_environment, lab_secrets, output, recap_counts, run_playbook, sink, snapshot


def ping_endpoint(status):
    client = redis.Redis.from_url(status["redis"]["url"], socket_connect_timeout=1, socket_timeout=1)
    try:
        return client.ping(), client.info("replication")["role"]
    finally:
        client.close()


def test_check_mode_diagnoses_plans_and_changes_nothing(healed_lab, lab_control):
    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)

    result, seconds = run_playbook("redis_down.yml", "--check", "-v")

    text = output(result)
    assert result.returncode == 0, text
    assert healed_lab["elasticache"]["replication_group_id"] in text
    assert "PING 127.0.0.1:%s failed" % healed_lab["redis"]["port"] in text
    assert "ECONNREFUSED" in text
    assert "Would take option failover" in text
    # The plan names what would happen, from the diagnosis alone (no fix module runs in --check).
    members = sorted(m[0] for m in before["group"]["members"])
    assert "over from %s to %s" % (members[0], members[1]) in " ".join(text.split())
    assert "elasticache_failover" not in text
    assert not [secret for secret in lab_secrets(healed_lab) if secret in text]
    assert snapshot(healed_lab) == before
    print("redis_down --check took %.2f s" % seconds)


def test_check_mode_finds_the_members_in_elasticache_when_the_inventory_lists_none(healed_lab, lab_control):
    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml", "--check", "-e", '{"redis_diagnose_member_endpoints": []}')

    text = " ".join(output(result).split())
    assert result.returncode == 0, text
    replica = sorted(m[0] for m in before["group"]["members"])[1]
    assert "Replica %s answers PING" % replica in text
    assert "Would take option failover - replica %s is healthy" % replica in text
    assert snapshot(healed_lab) == before


def test_check_mode_without_a_healthy_replica_plans_the_cache_bypass(healed_lab, lab_control):
    lab_control.break_incident("redis_down", replica_down=True)
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml", "--check")

    text = " ".join(output(result).split())
    assert result.returncode == 0, text
    assert "Would take option disable_cache" in text
    # The plan in the deploy module's own words (check mode), naming the revision family and the service.
    assert "would register a new revision of %s with env.CACHE_ENABLED=false and deploy it to %s" % (
        healed_lab["ecs"]["task_family"], healed_lab["ecs"]["service"]) in text
    assert snapshot(healed_lab) == before


def test_fix_fails_over_verifies_and_second_run_changes_nothing(healed_lab, lab_control):
    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)
    primary_before = [m for m in before["group"]["members"] if m[1] == "primary"][0][0]

    result, _seconds = run_playbook("redis_down.yml")

    text = output(result)
    assert result.returncode == 0, text
    assert "Taking option failover" in text
    assert "Redis Cache Down - verified after option failover" in text
    assert ping_endpoint(healed_lab) == (True, "master")
    after = snapshot(healed_lab)
    primary_after = [m for m in after["group"]["members"] if m[1] == "primary"][0][0]
    assert primary_after != primary_before
    assert after["task_definitions"] == before["task_definitions"]
    assert not [secret for secret in lab_secrets(healed_lab) if secret in text]

    rerun, _seconds = run_playbook("redis_down.yml")
    assert rerun.returncode == 0, output(rerun)
    assert recap_counts(rerun)["changed"] == 0, output(rerun)
    assert "Taking option none" in output(rerun)
    assert snapshot(healed_lab)["group"] == after["group"]


def test_no_healthy_replica_disables_cache_through_a_new_revision(healed_lab, lab_control):
    lab_control.break_incident("redis_down", replica_down=True)
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml")

    text = output(result)
    assert result.returncode == 0, text
    assert "Taking option disable_cache" in text
    after = snapshot(healed_lab)
    new_revisions = [arn for arn in after["task_definitions"] if arn not in before["task_definitions"]]
    assert len(new_revisions) == 1
    assert after["service_task_definition"] == new_revisions[0]
    assert container_environment(healed_lab, new_revisions[0])["CACHE_ENABLED"] == "false"
    assert [d[1:] for d in after["deployments"]] == [("PRIMARY", new_revisions[0], "COMPLETED")]
    assert after["group"] == before["group"], "option 3 must not touch ElastiCache"
    assert "verified after option disable_cache" in text


def test_forced_reboot_without_opt_in_is_refused_and_changes_nothing(healed_lab, lab_control):
    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml", "-e", "redis_remediation_option=reboot")

    assert result.returncode != 0
    assert "refusing to reboot" in output(result) and "confirm_last_resort" in output(result)
    assert snapshot(healed_lab) == before
    # The refused fix is recorded as a failure, never as an action taken.
    [record] = [json.loads(path.read_text()) for path in (Path(healed_lab["state_dir"]) / "incidents").glob("*/record.json")]
    assert "refusing to reboot" in record["details"]["last_failure"]
    assert record.get("actions", []) == [] and record["details"]["option"] == "not run"


def test_a_diagnosis_that_cannot_be_prepared_still_opens_and_tells_the_incident(healed_lab, lab_control):
    """A variable the diagnosis needs is broken: the triage reads alone, the incident is opened and announced,
    and the run fails naming the variable - the diagnosis's failure is recorded, nothing is fixed."""
    lab_control.break_incident("redis_down")
    clear_sinks(healed_lab)
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml", "-e", "redis_replication_group_id={{ no_such_variable }}")

    text = output(result)
    assert result.returncode != 0, text
    assert "no_such_variable" in text
    posts = [call["body"].get("text", "") for call in sink(healed_lab, "slack") if call.get("method") == "chat.postMessage"]
    assert any("INCIDENT DETECTED" in post for post in posts), posts
    records = list((Path(healed_lab["state_dir"]) / "incidents").glob("*/record.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert "no_such_variable" in record["details"]["last_failure"]
    assert snapshot(healed_lab)["group"] == before["group"]


def test_tags_verify_runs_only_the_verification(healed_lab, lab_control, tmp_path):
    """--tags verify after a fix made by hand: the checks run and pass; no diagnosis or fix is needed for it, and
    nothing is left in TMPDIR."""
    lab_control.heal()
    before = snapshot(healed_lab)

    result, _seconds = run_playbook("redis_down.yml", "--tags", "verify", env={"TMPDIR": str(tmp_path)})

    text = output(result)
    assert result.returncode == 0, text
    assert "Test Redis (PING through the application's endpoint)" in text and "Mark the verification passed" in text
    assert "Taking option" not in text and "Would take option" not in text
    assert snapshot(healed_lab) == before
    assert list(tmp_path.iterdir()) == []


def test_check_mode_reads_each_backend_once_and_writes_nothing_under_tmp(healed_lab, lab_control, tmp_path):
    """The triage's one call reads the diagnosis too (the diagnosis reads nothing again), nothing changes, and no
    file is left in TMPDIR."""
    lab_control.break_incident("redis_down")
    started = time.time()

    result, _seconds = run_playbook("redis_down.yml", "--check", "-v", env={"TMPDIR": str(tmp_path)})

    text = " ".join(output(result).split())
    assert result.returncode == 0, text
    for step in ("Check Redis cluster status", "Check Redis metrics (CPU and cache hit rate)",
                 "Check application logs for Redis errors", "Test Redis connectivity from the service"):
        assert "%s (read earlier)" % step in text, step
    assert "Would take option failover" in text
    assert lab_control.journal(since=started) == []
    assert list(tmp_path.iterdir()) == []


def test_the_fix_role_without_a_diagnosis_says_what_to_run(healed_lab, tmp_path):
    playbook = tmp_path / "fix_only.yml"
    playbook.write_text("- hosts: sample-service\n  gather_facts: false\n  roles:\n    - sre.incident.redis_remediate\n")
    result, _seconds = run_playbook(str(playbook), "--check")
    text = " ".join(output(result).split())
    assert result.returncode != 0
    assert "No Redis diagnosis on sample-service: the fix only runs after the redis_diagnose role" in text
    assert "Traceback" not in text
