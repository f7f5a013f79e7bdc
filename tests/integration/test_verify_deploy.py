"""The CI gate after a deploy (playbooks/verify_deploy.yml) on the lab: a good deploy passes; a crashing and an
erroring deploy fail with a one-paragraph reason and a JUnit report naming the failed checks; rollback_on_failure
puts the service back on the last stable revision and still fails; --check changes nothing."""

import json
import time
import xml.etree.ElementTree as ET

from helpers import aws, ecs_service, ecs_snapshot, output, run_playbook

CHECKS = [
    "Check the new deployment reached COMPLETED",
    "Check running == desired on the new revision",
    "Check the health endpoint answers the healthy status",
    "Check the error rate over the settle window",
    "Check the success rate over the settle window",
    "Check no task of the new revision was stopped by OOM since the deploy",
]
VERDICT = "Deploy gate verdict"
SETTLE = "2"  # seconds of traffic judged after COMPLETED (production default: 120)


def gate(tmp_path, *args):
    """Run the gate as CI does (JUnit report, checks only); returns (result, seconds, {testcase: failure or None}, stats)."""
    junit = tmp_path / "junit"
    env = {
        "ANSIBLE_CALLBACKS_ENABLED": "sre.incident.timeline,sre.incident.prefork,ansible.builtin.junit",
        "JUNIT_OUTPUT_DIR": str(junit),
        "JUNIT_HIDE_TASK_ARGUMENTS": "true",
        "JUNIT_TEST_CASE_PREFIX": "sre.incident.verify : Check",
        "ANSIBLE_SHOW_CUSTOM_STATS": "true",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }
    result, seconds = run_playbook("verify_deploy.yml", "-e", "verify_deploy_settle_seconds=" + SETTLE, *args,
                                   env=env, timeout=240)
    return result, seconds, junit_cases(junit), custom_stats(result)


def junit_cases(directory):
    """{task name: None when it passed, else the failure/error message} of the one report the run wrote."""
    reports = sorted(directory.glob("verify_deploy-*.xml"))
    assert len(reports) == 1, reports
    cases = {}
    for case in ET.parse(reports[0]).getroot().iter("testcase"):
        # "[sample-service] Verify deploy: sre.incident.verify : Check ..." -> "Check ..."
        name = case.get("name").split(": ", 1)[1].split(" : ", 1)[-1]
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")  # ansible-core 2.19 reports a failed task as <error>
        assert name not in cases, name
        cases[name] = None if problem is None else problem.get("message")
    return cases


def custom_stats(result):
    """What the playbook published with set_stats (the RUN line of CUSTOM STATS)."""
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("RUN:")]
    assert lines, output(result)
    return json.loads(lines[-1].split("RUN:", 1)[1])


def reason(result):
    """The verdict's one-paragraph reason, from the [ERROR] line the failed verdict prints."""
    lines = [line for line in result.stdout.splitlines() + result.stderr.splitlines()
             if "Deploy gate FAILED" in line and "Action failed:" in line]
    assert lines, output(result)
    return lines[0].split("Action failed: ", 1)[1]


def revision_name(arn):
    return arn.rsplit("/", 1)[1]


def deploy_good_revision(lab):
    """What CI does: register a new revision of the baseline and `aws ecs update-service` it."""
    ecs = aws(lab, "ecs")
    baseline = ecs.describe_task_definition(taskDefinition=lab["ecs"]["baseline_task_definition"])["taskDefinition"]
    container = dict(baseline["containerDefinitions"][0], image=baseline["containerDefinitions"][0]["image"] + "-gate")
    keys = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn", "taskRoleArn")
    arn = ecs.register_task_definition(containerDefinitions=[container], **{k: baseline[k] for k in keys if baseline.get(k)}
                                       )["taskDefinition"]["taskDefinitionArn"]
    service = ecs.update_service(cluster=lab["ecs"]["cluster"], service=lab["ecs"]["service"], taskDefinition=arn)["service"]
    deployment = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    return arn, deployment["id"]


def wait_until_steady(lab, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service = ecs_service(lab)
        if len(service["deployments"]) == 1 and service["runningCount"] == service["desiredCount"]:
            return service
        time.sleep(0.3)
    raise AssertionError("the service did not become steady: %s" % service["deployments"])


def assert_failed_with(result, cases, failed_checks):
    assert result.returncode != 0, output(result)
    assert set(cases) == set(CHECKS) | {VERDICT}, cases
    assert {name for name, problem in cases.items() if problem} == set(failed_checks) | {VERDICT}, cases
    text = reason(result)
    assert text.startswith("Deploy gate FAILED for sample-service deployment ecs-svc/"), text
    assert "\n" not in text
    for name in failed_checks:
        assert cases[name].split("Action failed: ")[-1] in text, (name, text)
    return text


def test_good_deploy_passes(healed_lab, tmp_path):
    arn, deployment_id = deploy_good_revision(healed_lab)
    result, seconds, cases, stats = gate(tmp_path, "-e", "deployment_id=" + deployment_id)
    assert result.returncode == 0, output(result)
    assert cases == {name: None for name in CHECKS}, "the report lists the checks (and the verdict only when it fails)"
    assert "Deploy gate passed for sample-service deployment %s (%s): COMPLETED, 4 of 4" % (
        deployment_id, revision_name(arn)) in output(result)
    assert stats["verified"] is True and stats["deployment_id"] == deployment_id
    assert stats["task_definition"] == arn and stats["revision"] == int(arn.rsplit(":", 1)[1])
    assert stats["rolled_back"] is False and stats["failures"] == []
    service = ecs_service(healed_lab)
    assert service["taskDefinition"] == arn and service["runningCount"] == 4
    assert seconds < 60


def test_crashing_deploy_fails_fast_with_a_reason_and_changes_nothing(healed_lab, lab_control, tmp_path):
    lab_control.break_incident("service_down")
    broken = ecs_service(healed_lab)["taskDefinition"]
    result, seconds, cases, stats = gate(tmp_path, "-e", "expected_revision=" + revision_name(broken))
    text = assert_failed_with(result, cases, [
        "Check the new deployment reached COMPLETED", "Check running == desired on the new revision",
        "Check the health endpoint answers the healthy status", "Check the error rate over the settle window",
        "Check the success rate over the settle window"])
    assert "the rollout did not reach COMPLETED: IN_PROGRESS" in text and "0 of 4 running" in text
    assert "unable to consistently start tasks" in text
    assert "Essential container in task exited (exit code 1)" in text
    assert "the health endpoint answered 502, not 200" in text
    assert stats["verified"] is False and stats["reason"] == text and stats["task_definition"] == broken
    assert ecs_service(healed_lab)["taskDefinition"] == broken, "no rollback unless rollback_on_failure"
    assert seconds < 45, "a crash loop ends the rollout wait at 3 failed tasks, not at the rollout timeout"


def test_erroring_deploy_is_rolled_back_and_still_fails(healed_lab, lab_control, tmp_path):
    baseline = ecs_service(healed_lab)["taskDefinition"]
    lab_control.break_incident("high_error_rate")
    bad = ecs_service(healed_lab)["taskDefinition"]
    assert bad != baseline
    result, _seconds, cases, stats = gate(tmp_path, "-e", "expected_revision=" + bad, "-e", "rollback_on_failure=true")
    text = assert_failed_with(result, cases, ["Check the error rate over the settle window",
                                              "Check the success rate over the settle window"])
    assert "error rate" in text and "is above 1.0 %" in text
    assert "Rolled back to %s" % revision_name(baseline) in text and "the gate still fails the job" in text
    assert stats["rolled_back"] is True and stats["rollback_task_definition"] == baseline
    service = ecs_service(healed_lab)
    assert service["taskDefinition"] == baseline, "back on the revision that ran stable before the deploy"
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert service["runningCount"] == service["desiredCount"] == 4


def test_check_mode_plans_the_rollback_and_changes_nothing(healed_lab, lab_control, tmp_path):
    lab_control.break_incident("service_down")
    before = ecs_snapshot(healed_lab)
    result, _seconds, cases, stats = gate(tmp_path, "--check", "-e", "rollback_on_failure=true")
    assert result.returncode != 0 and cases["Check the new deployment reached COMPLETED"]
    assert "Would roll back to sample-service:5 (--check: nothing changed)" in reason(result)
    assert stats["planned_only"] is True and stats["rolled_back"] is False
    assert ecs_snapshot(healed_lab) == before


def test_never_rolls_back_a_deployment_it_was_not_asked_about(healed_lab, tmp_path):
    arn, _deployment_id = deploy_good_revision(healed_lab)
    wait_until_steady(healed_lab)  # the revision 5 deployment has drained
    result, _seconds, cases, _stats = gate(tmp_path, "-e", "expected_revision=sample-service:5", "-e", "rollback_on_failure=true")
    assert result.returncode != 0
    assert "no deployment of sample-service:5 among the service's deployments" in cases[CHECKS[0]]
    assert "Not rolled back" in output(result)
    assert ecs_service(healed_lab)["taskDefinition"] == arn
