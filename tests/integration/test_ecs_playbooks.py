"""Service Down, High Error Rate and Memory Leak end to end: real playbooks against the lab, outcomes read back."""

import urllib.error
import urllib.request
import uuid

import pytest

from helpers import adhoc, aws, aws_args, ecs_service, ecs_snapshot, output, recap_counts, run_playbook


def health(status):
    try:
        with urllib.request.urlopen(status["health"]["url"], timeout=3) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def revision(arn):
    return int(arn.rsplit(":", 1)[1])


def check_then_fix(lab_control, lab, incident, expected_option):
    lab_control.break_incident(incident)
    before = ecs_snapshot(lab)
    check, _seconds = run_playbook(incident + ".yml", "--check")
    assert check.returncode == 0, output(check)
    assert "Recommended option: %s" % expected_option in output(check)
    assert "Would take option %s" % expected_option in output(check)
    assert ecs_snapshot(lab) == before, "--check changed the backends"
    fix, _seconds = run_playbook(incident + ".yml")
    assert fix.returncode == 0, output(fix)
    assert "%s - verified after option %s" % (incident, expected_option) in output(fix)
    return before, fix


def assert_rerun_changes_nothing(lab, incident):
    before = ecs_snapshot(lab)
    rerun, _seconds = run_playbook(incident + ".yml")
    assert rerun.returncode == 0, output(rerun)
    assert recap_counts(rerun)["changed"] == 0, output(rerun)
    assert "Taking option none" in output(rerun)
    assert ecs_snapshot(lab) == before


def test_service_down_rolls_back_to_the_last_stable_revision(healed_lab, lab_control):
    baseline = ecs_service(healed_lab)["taskDefinition"]
    before, _fix = check_then_fix(lab_control, healed_lab, "service_down", "rollback")
    assert revision(before["service_task_definition"]) > revision(baseline), "the break deploys a newer, broken revision"
    service = ecs_service(healed_lab)
    assert service["taskDefinition"] == baseline, "rolled back to the revision that ran stable, not the newest"
    assert service["runningCount"] == service["desiredCount"] == 4
    assert health(healed_lab) == 200
    assert_rerun_changes_nothing(healed_lab, "service_down")


def test_high_error_rate_rolls_back_the_fresh_deploy(healed_lab, lab_control):
    baseline = ecs_service(healed_lab)["taskDefinition"]
    check_then_fix(lab_control, healed_lab, "high_error_rate", "rollback")
    assert ecs_service(healed_lab)["taskDefinition"] == baseline
    assert_rerun_changes_nothing(healed_lab, "high_error_rate")


def test_high_error_rate_can_turn_the_feature_flag_off_instead(healed_lab, lab_control):
    lab_control.break_incident("high_error_rate")
    broken = ecs_service(healed_lab)["taskDefinition"]
    fix, _seconds = run_playbook("high_error_rate.yml", "-e", "ecs_remediation_option=disable_feature")
    assert fix.returncode == 0, output(fix)
    assert "verified after option disable_feature" in output(fix)
    flag = aws(healed_lab, "ssm").get_parameter(Name=healed_lab["feature_flags"]["new_checkout"])["Parameter"]["Value"]
    assert flag == "off"
    assert ecs_service(healed_lab)["taskDefinition"] == broken, "turning the flag off deploys nothing"


def test_memory_leak_raises_the_memory_limit(healed_lab, lab_control):
    _before, _fix = check_then_fix(lab_control, healed_lab, "memory_leak", "raise_memory")
    ecs = aws(healed_lab, "ecs")
    definition = ecs.describe_task_definition(taskDefinition=ecs_service(healed_lab)["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["memory"] == 2048
    assert_rerun_changes_nothing(healed_lab, "memory_leak")


def test_rollback_that_never_stabilises_times_out_with_a_reason(healed_lab, lab_control):
    lab_control.break_incident("service_down", no_good_revision=True)
    result, seconds = run_playbook("service_down.yml", "-e", "ecs_remediation_option=rollback",
                                   "-e", "ecs_remediate_wait_timeout=6")
    text = output(result)
    assert result.returncode != 0
    assert "not stable after 6s" in text and "running 0 of 4" in text and "Last event" in text
    assert seconds < 60


def test_restart_that_does_not_help_offers_rollback(healed_lab, lab_control):
    lab_control.break_incident("service_down")
    result, _seconds = run_playbook("service_down.yml", "-e", "ecs_remediation_option=restart",
                                    "-e", "ecs_remediate_wait_timeout=6")
    text = output(result)
    assert result.returncode != 0
    assert "The restart did not bring sample-service back" in text
    assert "ecs_remediation_option=rollback" in text


@pytest.mark.parametrize("count", [20])
def test_scale_never_exceeds_its_ceiling(healed_lab, lab_control, count):
    lab_control.break_incident("high_error_rate")
    before = ecs_snapshot(healed_lab)
    result, _seconds = run_playbook("high_error_rate.yml", "-e", "ecs_remediation_option=scale_up",
                                    "-e", "ecs_remediate_scale_up_count=%d" % count)
    assert result.returncode != 0
    assert "above max_desired_count 12" in output(result)
    assert ecs_snapshot(healed_lab)["desired"] == before["desired"] == 4


def test_rollback_refuses_when_no_earlier_revision_ran_stable(healed_lab):
    ecs = aws(healed_lab, "ecs")
    cluster, name = healed_lab["ecs"]["cluster"], "solo-%s" % uuid.uuid4().hex[:8]
    arn = ecs.register_task_definition(family=name, containerDefinitions=[
        {"name": name, "image": "solo:1.0.0", "memory": 256, "essential": True}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=arn, desiredCount=1)
    try:
        result, text = adhoc("ecs_service_rollback", dict(aws_args(healed_lab), cluster=cluster, service=name, wait_timeout=10))
        assert result.returncode != 0
        assert "refusing to roll back %s: no earlier revision ran stable" % name in text
        service = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
        assert service["taskDefinition"] == arn and len(service["deployments"]) == 1
    finally:
        ecs.update_service(cluster=cluster, service=name, desiredCount=0)
        ecs.delete_service(cluster=cluster, service=name, force=True)
