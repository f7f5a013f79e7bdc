"""sre.incident.run_concurrently against the lab: read steps run right in the worker when the host's module would
run on this machine with this Python, in module processes otherwise - with the same answers either way."""

import glob
import json
import os
import subprocess

import pytest

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


# Another inventory host, as a bastion in the VPC would be: its modules run in its own Python, not in the worker.
OTHER_PYTHON = next(iter(sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[23]*/bin/python3.1[23]")))), None)
DELEGATED_PLAYBOOK = """
- hosts: sample-service
  gather_facts: false
  tasks:
    - name: Read from the bastion; the metrics were read already
      sre.incident.run_concurrently:
        steps: "{{ steps }}"
        known_results: {metrics: {by_name: {hit_rate: {latest: 0.9}}, changed: false}}
      delegate_to: bastion
      register: delegated
    - name: Keep what the task returned
      ansible.builtin.copy:
        content: "{{ delegated | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


@pytest.mark.skipif(OTHER_PYTHON is None, reason="needs a second Python (pyenv's 3.12 or 3.13)")
def test_a_delegated_host_runs_the_steps_in_its_own_python(healed_lab, tmp_path):
    playbook, out, bastion = tmp_path / "delegated.yml", tmp_path / "out.json", tmp_path / "bastion.yml"
    playbook.write_text(DELEGATED_PLAYBOOK)
    bastion.write_text("all:\n  hosts:\n    bastion:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n" % OTHER_PYTHON)
    steps = [STEPS[0], STEPS[3], {"id": "uri", "name": "Fetch health", "module": "ansible.builtin.uri", "args": {"url": "{{ health_url }}"}}]
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "inventories/lab", "-i", str(bastion), str(playbook), "-vvv",
                             "-e", json.dumps({"steps": steps, "out": str(out)})],
                            cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text
    answer = json.loads(out.read_text())
    assert answer["by_id"]["health"]["endpoints"]["health"]["status"] == 200
    assert answer["by_id"]["uri"]["status"] == 200
    assert answer["by_id"]["metrics"]["by_name"] == {"hit_rate": {"latest": 0.9}}  # known, not read again
    # Two module processes, both in the bastion's Python: the worker ran none of the steps itself.
    assert text.count("%s && sleep 0" % OTHER_PYTHON) == 2, text
    for secret in lab_secrets(healed_lab):
        assert secret not in result.stdout + result.stderr
