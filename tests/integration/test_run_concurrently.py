"""sre.incident.run_concurrently against the lab: read steps run right in the worker when the host's module would
run on this machine with this Python, in module processes otherwise - with the same answers either way."""

import json
import os
import subprocess

from helpers import BIN, REPO, ansible_env, lab_secrets

STEPS = [
    {"id": "health", "name": "Check service health", "module": "sre.incident.http_probe",
     "args": {"urls": {"health": "{{ health_url }}"}}},
    {"id": "ping", "name": "Test Redis", "module": "sre.incident.redis_probe", "args": {"url": "{{ redis_url }}"}},
    {"id": "cluster", "name": "Check Redis cluster status", "module": "sre.incident.elasticache_info",
     "args": {"replication_group_id": "{{ redis_replication_group_id }}", "region": "{{ aws_region }}",
              "endpoint_url": "{{ aws_endpoint_url }}", "access_key": "{{ aws_access_key }}",
              "secret_key": "{{ aws_secret_key }}"}},
    {"id": "metrics", "name": "Check the cache hit rate", "module": "sre.incident.datadog_metric_query",
     "args": {"queries": {"hit_rate": "avg:sample.cache.hit_rate{*}"}, "window": "5m", "api_url": "{{ datadog_api_url }}",
              "api_key": "{{ datadog_api_key }}", "app_key": "{{ datadog_app_key }}"}},
    {"id": "bad", "name": "A step with a wrong option", "module": "sre.incident.http_probe", "args": {"link": "x"}},
]


def run_steps(*extra):
    command = [os.path.join(BIN, "ansible"), "sample-service", "-m", "sre.incident.run_concurrently",
               "-a", json.dumps({"steps": STEPS}), "-vvv", *extra]
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = result.stdout + result.stderr
    answer = json.loads(out[out.index("=> {") + 3:out.rindex("}") + 1])
    return result, out, answer


def essentials(by_id):
    return {
        "health": by_id["health"]["endpoints"]["health"]["status"],
        "ping": by_id["ping"]["ping"],
        "primary": by_id["cluster"]["primary_cluster_id"],
        "members": sorted(member["name"] for member in by_id["cluster"]["members"]),
        "metrics": sorted(by_id["metrics"]["by_name"]),
        "bad": (by_id["bad"]["failed"], "link" in by_id["bad"]["msg"]),
    }


def test_in_the_worker_and_in_module_processes_the_answers_are_the_same(healed_lab):
    here, here_out, here_answer = run_steps()
    # The same venv's python under another name: not the controller's interpreter path, so modules are run.
    apart, apart_out, apart_answer = run_steps("-e", "ansible_python_interpreter=%s" % os.path.join(BIN, "python3.11"))
    assert here.returncode != 0 and apart.returncode != 0  # the bad step fails the task, in both
    assert "EXEC" not in here_out  # no module process at all
    assert "python3.11 && sleep 0" in apart_out
    assert essentials(here_answer["by_id"]) == essentials(apart_answer["by_id"])
    assert essentials(here_answer["by_id"])["ping"] is True and essentials(here_answer["by_id"])["health"] == 200
    assert here_answer["msg"] == apart_answer["msg"]
    assert here_answer["msg"].startswith("A step with a wrong option: sre.incident.http_probe: ")
    for secret in lab_secrets(healed_lab):
        assert secret not in here_out and secret not in apart_out


READ_AHEAD_PLAYBOOK = """
- hosts: sample-service
  gather_facts: false
  tasks:
    - name: Read health and metrics now, the cluster and Redis ahead
      sre.incident.run_concurrently:
        steps: "{{ steps }}"
        read_ahead: [cluster, ping]
      register: first
    - name: A later task picks up the answers read ahead
      sre.incident.run_concurrently:
        steps: "{{ steps }}"
        known_results: "{{ first.by_id }}"
      register: second
    - name: A ticket whose reader is gone is read again
      sre.incident.run_concurrently:
        steps: "{{ steps[2:3] }}"
        known_results: {cluster: {read_ahead: {path: "{{ first.by_id.cluster.read_ahead.path }}-gone"}}}
      register: third
    - name: Keep what each task returned
      ansible.builtin.copy:
        content: "{{ {'first': first, 'second': second, 'third': third} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_steps_read_ahead_are_picked_up_by_a_later_task_or_read_again(healed_lab, tmp_path):
    playbook, out = tmp_path / "read_ahead.yml", tmp_path / "out.json"
    playbook.write_text(READ_AHEAD_PLAYBOOK)
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(playbook), "-e", json.dumps({"steps": STEPS[:4], "out": str(out)})],
                            cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    answers = json.loads(out.read_text())
    first, second, third = answers["first"], answers["second"], answers["third"]

    ticket = first["by_id"]["cluster"]["read_ahead"]
    assert first["by_id"]["ping"]["read_ahead"] == ticket
    assert "Check Redis cluster status (reading ahead)" in first["msg"] and "Test Redis (reading ahead)" in first["msg"]
    assert first["by_id"]["health"]["endpoints"]["health"]["status"] == 200 and first["by_id"]["metrics"]["by_name"]

    assert second["by_id"]["cluster"]["primary_cluster_id"] in healed_lab["elasticache"]["members"]
    assert second["by_id"]["ping"]["ping"] is True
    assert "read_ahead" not in second["by_id"]["cluster"] and not second.get("failed")
    assert not [path for path in os.listdir(os.path.dirname(ticket["path"])) if path.startswith(os.path.basename(ticket["path"]))]

    assert third["by_id"]["cluster"]["primary_cluster_id"] == second["by_id"]["cluster"]["primary_cluster_id"]
    assert third["steps"][0]["seconds"] > 0  # read now, not taken from the gone ticket
    for secret in lab_secrets(healed_lab):
        assert secret not in result.stdout + result.stderr
