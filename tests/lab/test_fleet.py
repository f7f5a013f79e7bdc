"""python -m lab fleet: N simulated services with their own Datadog series (read through a service: scope) and
health endpoints, K of them broken; {*} stays Sample Service's; heal removes the fleet; the Ansible inventory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from labhelpers import http, last_value

from lab import client
from lab.scenarios import LabError

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BROKEN = {"svc-004": "service_down", "svc-008": "redis_down", "svc-012": "db_pool_exhausted",
          "svc-016": "memory_leak", "svc-020": "high_error_rate"}
NAMES = [f"svc-{i:03d}" for i in range(1, 21)]
METRICS = ("sample.errors", "sample.requests", "sample.requests.success_rate", "sample.active_users",
           "sample.users.affected", "sample.cache.hit_rate", "sample.db.pool.available", "aws.ecs.memory_utilization")


@pytest.fixture
def fleet(healed_lab):
    result = client.fleet(20, broken=5)
    yield result
    client.fleet(0)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=REPO_ROOT, capture_output=True, text=True, env=dict(os.environ),
                          timeout=timeout, check=False)


def latest(query_metric, service: str) -> dict[str, float]:
    """The latest value of every fleet metric of one service (one query, one series per metric)."""
    resp = query_metric(",".join(f"avg:{m}{{service:{service}}}" for m in METRICS), seconds=120)
    for s in resp.series:
        assert s.scope == f"service:{service}" and s.tag_set == [f"service:{service}"]
    return {s.metric: s.pointlist[-1].value[1] for s in resp.series}


def test_seed_lists_the_fleet_in_status(fleet, lab):
    described = fleet["fleet"]
    assert described["count"] == 20 and described["broken"] == BROKEN
    base = lab["health"]["url"].rsplit("/v1/health", 1)[0]
    assert described["services"] == [{"name": n, "health_url": f"{base}/fleet/{n}/v1/health"} for n in NAMES]
    status = client.status()
    assert status["fleet"] == described == fleet["status"]["fleet"]
    assert json.loads((Path(lab["state_dir"]) / "status.json").read_text())["fleet"] == described


def test_broken_services_show_their_symptom_healthy_ones_are_healthy(fleet, query_metric):
    urls = {s["name"]: s["health_url"] for s in fleet["fleet"]["services"]}
    for name in NAMES:
        m = latest(query_metric, name)
        share = m["sample.users.affected"] / m["sample.active_users"]
        rate = m["sample.errors"] / m["sample.requests"]
        status, body = http("GET", urls[name])
        incident = BROKEN.get(name)
        if incident == "service_down":
            assert status == 502 and "502 Bad Gateway" in body
            assert m["sample.requests.success_rate"] == 0.0 and rate == 1.0 and share == 1.0
            continue
        assert status == 200, name
        if incident == "redis_down":
            assert m["sample.cache.hit_rate"] == 0.0 and 0.33 < share < 0.37
            assert body == {"status": "degraded", "checks": {"redis": "down"}}
        elif incident == "db_pool_exhausted":
            assert m["sample.db.pool.available"] == 0.0 and 0.82 < share < 0.86 and rate > 0.08
            assert body == {"status": "degraded", "checks": {"database": "pool exhausted"}}
        elif incident == "memory_leak":
            assert 94 <= m["aws.ecs.memory_utilization"] <= 96 and 0.09 < share < 0.11
            assert body == {"status": "ok"}
        elif incident == "high_error_rate":
            assert 0.05 < rate < 0.12 and 0.5 < share < 0.58 and m["sample.cache.hit_rate"] > 0.9
            assert body == {"status": "ok"}
        else:
            assert body == {"status": "ok"}, name
            assert rate < 0.02 and share == 0.0 and 99 < m["sample.requests.success_rate"] <= 100
            assert m["sample.cache.hit_rate"] > 0.9 and 12 <= m["sample.db.pool.available"] <= 15
            assert 44 <= m["aws.ecs.memory_utilization"] <= 46 and 900 <= m["sample.requests"] <= 1100
        if incident != "db_pool_exhausted":
            assert m["sample.db.pool.available"] >= 12
    # an unknown service has no series and no health endpoint
    assert query_metric("avg:sample.cache.hit_rate{service:svc-999}").series == []
    assert http("GET", urls["svc-001"].replace("svc-001", "svc-999"))[0] == 404


def test_star_scope_stays_sample_service(healed_lab, query_metric):
    queries = ("avg:sample.cache.hit_rate{*},avg:sample.db.pool.available{*},avg:aws.ecs.memory_utilization{*},"
               "sum:sample.requests{*}.as_count(),avg:sample.cache.hit_rate{service:sample-service}")
    before = query_metric(queries, seconds=30)
    client.fleet(20, broken=5)  # the fleet's broken cache and pool must not show in {*}
    try:
        after = query_metric(queries, seconds=30)
    finally:
        client.fleet(0)
    for resp in (before, after):
        hit, pool, memory, requests = (last_value(resp, i) for i in range(4))
        assert 0.9 < hit < 0.95 and 12 <= pool <= 15 and 40 < memory < 50 and 450 <= requests <= 550
        assert resp.series[0].length <= 32  # one point a second: Sample Service's only
        assert [s.scope for s in resp.series] == ["*"] * 4 + ["service:sample-service"]
        assert resp.series[4].pointlist == resp.series[0].pointlist  # service:sample-service is {*}
    # the points both answers cover are the same: the fleet changed none of Sample Service's
    common = ({p.value[0] for p in before.series[0].pointlist} & {p.value[0] for p in after.series[0].pointlist})
    assert len(common) >= 20
    assert ([p.value for p in before.series[0].pointlist if p.value[0] in common]
            == [p.value for p in after.series[0].pointlist if p.value[0] in common])


def test_heal_removes_the_fleet(healed_lab, query_metric):
    url = client.fleet(3)["fleet"]["services"][0]["health_url"]
    assert http("GET", url) == (200, {"status": "ok"})
    healed = client.heal()
    assert "fleet: 3 simulated services removed" in healed["changes"]
    assert healed["status"]["fleet"] == {"count": 0, "broken": {}, "services": []}
    assert query_metric("avg:sample.cache.hit_rate{service:svc-001}").series == []
    assert http("GET", url)[0] == 404
    assert client.heal()["changed"] is False


def test_fleet_sizes_and_cli(healed_lab):
    with pytest.raises(LabError, match="from 0 to 200") as err:
        client.fleet(201)
    assert err.value.exit_code == 2
    with pytest.raises(LabError, match="--broken") as err:
        client.fleet(3, broken=4)
    assert err.value.exit_code == 2
    result = run(sys.executable, "-m", "lab", "fleet", "10", "--broken", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("fleet: 10 simulated services (svc-001 .. svc-010); "
                                     "broken: svc-005 service_down, svc-010 redis_down")
    assert client.status()["fleet"]["broken"] == {"svc-005": "service_down", "svc-010": "redis_down"}
    result = run(sys.executable, "-m", "lab", "fleet", "0")
    assert (result.returncode, result.stdout.strip()) == (0, "fleet removed (10 services)")
    result = run(sys.executable, "-m", "lab", "fleet", "-1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "from 0 to 200" in result.stderr


def test_inventory_parses_with_ansible(fleet, tmp_path, lab):
    inv = tmp_path / "fleet-inventory"
    result = run(sys.executable, "-m", "lab", "fleet-inventory", str(inv))
    assert result.returncode == 0, result.stderr
    assert (inv / "hosts.yml").is_file() and (inv / "group_vars" / "all" / "lab.yml").is_file()

    listed = run(str(BIN / "ansible-inventory"), "-i", str(inv), "--list")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["services"]["hosts"] == NAMES
    defaults = yaml.safe_load((REPO_ROOT / "roles/triage/defaults/main.yml").read_text())["triage_metric_queries"]
    hostvars = data["_meta"]["hostvars"]["svc-007"]
    assert hostvars["health_url"] == lab["health"]["url"].replace("/v1/health", "/fleet/svc-007/v1/health")
    assert set(hostvars["triage_metric_queries"]) == set(defaults)
    assert hostvars["triage_metric_queries"]["errors"] == "sum:sample.errors{service:svc-007}.as_count()"
    assert all("{service:svc-007}" in q for q in hostvars["triage_metric_queries"].values())
    assert hostvars["lab_state_dir"] == lab["state_dir"]

    # the group vars resolve against this lab's status.json as the lab inventory's do
    shown = run(str(BIN / "ansible"), "-i", str(inv), "svc-001", "-m", "ansible.builtin.debug",
                "-a", '{"msg": "{{ health_url }} {{ datadog_api_url }}"}')
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"{fleet['fleet']['services'][0]['health_url']} {lab['datadog']['url']}" in shown.stdout

    client.fleet(0)
    result = run(sys.executable, "-m", "lab", "fleet-inventory", str(tmp_path / "none"))
    assert result.returncode == 1 and "no fleet" in result.stderr
