"""incident_record and the incident store: merge rules, never-overwrite, set_once, histories, find-open, corrupt
files, check mode, locking."""

import fcntl
import json
import multiprocessing
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sre.incident.plugins.module_utils import incident_store as store
from ansible_collections.sre.incident.plugins.module_utils.incident_store import IncidentStoreError, apply_update
from ansible_collections.sre.incident.plugins.modules import incident_record

NOW = 1795793700.0            # 2026-11-27T15:35:00Z
NOW_ISO = "2026-11-27T15:35:00Z"
LATER = NOW + 600
LATER_ISO = "2026-11-27T15:45:00Z"
SERVICE = "sample-service"


def fresh(**kwargs):
    record = store.new_record("sample-service-20261127T153500Z", SERVICE, NOW_ISO, "alice", NOW_ISO)
    record.update(kwargs)
    return record


# --- pure rules -----------------------------------------------------------------------------------------------

def test_time_parsing_and_ids():
    assert store.parse_time("2026-11-27T15:35:00Z") == NOW
    assert store.parse_time("2026-11-27T16:35:00+01:00") == NOW
    assert store.parse_time("2026-11-27T15:35:00") == NOW  # naive = UTC
    assert store.parse_time(str(int(NOW))) == NOW
    assert store.parse_time(NOW) == NOW
    assert store.parse_time("now", now=LATER) == LATER
    assert store.parse_time("20261127T153500Z") == NOW
    with pytest.raises(ValueError, match="cannot read 'yesterday' as a time"):
        store.parse_time("yesterday")
    assert store.make_incident_id(SERVICE, NOW + 0.9) == "sample-service-20261127T153500Z"
    assert store.id_detected_at(SERVICE, "sample-service-20261127T153500Z") == NOW_ISO
    assert store.id_detected_at(SERVICE, "other-20261127T153500Z") is None
    with pytest.raises(IncidentStoreError, match="cannot name an incident"):
        store.make_incident_id("../etc", NOW)
    with pytest.raises(IncidentStoreError, match="is not an incident id"):
        store.incident_dir("/s", "../../x")


def test_never_overwrites_write_once_fields():
    record = fresh(acknowledged_at=NOW_ISO, resolved_at=NOW_ISO, status="resolved")
    after, changed = apply_update(record, {"detected_at": LATER, "set_once": {"acknowledged_at": LATER}, "resolved": True},
                                  LATER, "bob")
    assert after["detected_at"] == NOW_ISO and after["acknowledged_at"] == NOW_ISO and after["resolved_at"] == NOW_ISO
    assert after["created_by"] == "alice"
    assert changed == [] and after == record  # nothing changed, updated_at untouched


def test_set_once_fills_only_empty_keys_and_normalizes_times():
    after, changed = apply_update(fresh(), {"set_once": {"acknowledged_at": "now", "escalated_to": "lead"}}, LATER, "bob")
    assert after["acknowledged_at"] == LATER_ISO and after["escalated_to"] == "lead"
    assert changed == ["acknowledged_at", "escalated_to"]
    assert after["updated_at"] == LATER_ISO and after["updated_by"] == "bob"
    again, changed = apply_update(after, {"set_once": {"acknowledged_at": "now", "escalated_to": "cto"}}, LATER + 60, "carol")
    assert changed == [] and again == after


@pytest.mark.parametrize("key,reason", [("status", "status option"), ("resolved_at", "resolved=true"),
                                        ("actions", "append option"), ("id", "never changes"), ("Bad Key", "lower_case")])
def test_set_once_refuses_keys_with_their_own_option(key, reason):
    with pytest.raises(IncidentStoreError, match=reason):
        apply_update(fresh(), {"set_once": {key: "x"}}, LATER, "bob")


def test_severity_changes_are_kept_in_history():
    record = apply_update(fresh(), {"severity": "SEV2", "severity_reason": "orders failing"}, NOW, "alice")[0]
    record, changed = apply_update(record, {"severity": "SEV2", "severity_reason": "orders failing"}, LATER, "bob")
    assert changed == []
    record, changed = apply_update(record, {"severity": "SEV1", "severity_reason": "all users"}, LATER, "bob")
    assert record["severity"] == "SEV1" and record["severity_reason"] == "all users"
    assert record["severity_history"] == [
        {"at": NOW_ISO, "from": None, "to": "SEV2", "reason": "orders failing", "by": "alice"},
        {"at": LATER_ISO, "from": "SEV2", "to": "SEV1", "reason": "all users", "by": "bob"}]
    assert changed == ["severity", "severity_history", "severity_reason"]
    lowered = apply_update(record, {"severity": "SEV3"}, LATER, "bob")[0]
    assert lowered["severity_reason"] is None  # the SEV1 reason does not describe SEV3
    with pytest.raises(IncidentStoreError, match="not one of SEV1"):
        apply_update(record, {"severity": "SEV0"}, LATER, "bob")


def test_status_history_and_resolved_shortcut():
    record = apply_update(fresh(status="investigating"), {"status": "identified"}, NOW, "alice")[0]
    record = apply_update(record, {"resolved": True}, LATER, "bob")[0]
    assert record["status"] == "resolved" and record["resolved_at"] == LATER_ISO
    assert [(h["from"], h["to"]) for h in record["status_history"]] == [("investigating", "identified"), ("identified", "resolved")]
    again, changed = apply_update(record, {"resolved": True}, LATER + 60, "carol")
    assert changed == [] and again["resolved_at"] == LATER_ISO
    with pytest.raises(IncidentStoreError, match="resolved=true contradicts status=mitigated"):
        apply_update(record, {"resolved": True, "status": "mitigated"}, LATER, "bob")


def test_fields_deep_merge_and_null_never_erases():
    record = fresh(details={"impact": {"users_percent": 30, "orders": "failing"}, "cause": "leak"})
    after, changed = apply_update(record, {"fields": {"impact": {"users_percent": 45}, "cause": None, "summary": "pool"}}, LATER, "bob")
    assert after["details"] == {"impact": {"users_percent": 45, "orders": "failing"}, "cause": "leak", "summary": "pool"}
    assert "details" in changed
    assert record["details"]["impact"]["users_percent"] == 30  # the input is not modified


def test_append_only_grows_and_items_with_an_id_are_appended_once():
    record = fresh(actions=[{"id": "kill-idle", "at": NOW_ISO, "by": "alice"}])
    after, changed = apply_update(record, {"append": {"actions": [{"id": "kill-idle"}, {"id": "restart", "what": "restart"}],
                                                      "runs": {"run_id": "r1"}, "timeline_notes": ["free text"]}}, LATER, "bob")
    assert after["actions"] == [{"id": "kill-idle", "at": NOW_ISO, "by": "alice"},
                                {"id": "restart", "what": "restart", "at": LATER_ISO, "by": "bob"}]
    assert after["runs"] == [{"run_id": "r1", "at": LATER_ISO, "by": "bob"}]
    assert after["timeline_notes"] == ["free text"]
    assert {"actions", "runs", "timeline_notes"} <= set(changed)
    again, changed = apply_update(after, {"append": {"actions": [{"id": "restart"}]}}, LATER + 1, "bob")
    assert changed == []


@pytest.mark.parametrize("name,reason", [("severity_history", "kept by the module"), ("status", "not a list"),
                                         ("detected_at", "not a list"), ("9lives", "lower_case")])
def test_append_refuses_fields_that_are_not_free_lists(name, reason):
    with pytest.raises(IncidentStoreError, match=reason):
        apply_update(fresh(), {"append": {name: ["x"]}}, LATER, "bob")


# --- store files ----------------------------------------------------------------------------------------------

def write_record(root, incident_id, **fields):
    record = store.new_record(incident_id, fields.pop("service", SERVICE), NOW_ISO, "alice", NOW_ISO)
    record.update(fields)
    store.ensure_dir(os.path.join(str(root), incident_id))
    store.write_json_atomic(store.record_path(str(root), incident_id), record)
    return record


def test_find_open_picks_the_newest_unresolved_of_that_service_only(tmp_path):
    write_record(tmp_path, "sample-service-20261127T100000Z", status="investigating")
    write_record(tmp_path, "sample-service-20261127T120000Z", status="mitigated")
    write_record(tmp_path, "sample-service-20261127T130000Z", status="resolved")
    write_record(tmp_path, "sample-service-api-20261127T140000Z", service="sample-service-api", status="investigating")
    (tmp_path / "sample-service-notes").mkdir()
    incident_id, record = store.find_open(str(tmp_path), SERVICE)
    assert incident_id == "sample-service-20261127T120000Z" and record["status"] == "mitigated"
    assert store.find_open(str(tmp_path), "sample")[0] is None
    assert store.find_open(str(tmp_path / "missing"), SERVICE) == (None, None)


def test_corrupt_record_fails_naming_the_file(tmp_path):
    path = tmp_path / "sample-service-20261127T100000Z" / "record.json"
    path.parent.mkdir()
    path.write_text('{"id": "sample-service-20261127T100000Z", ')
    with pytest.raises(IncidentStoreError, match="%s is not valid JSON" % path):
        store.find_open(str(tmp_path), SERVICE)
    path.write_text("[1, 2]")
    with pytest.raises(IncidentStoreError, match="holds a list, not an incident record"):
        store.load_record(str(path))


def test_atomic_write_modes_and_no_leftovers(tmp_path):
    target = tmp_path / "a" / "b"
    store.ensure_dir(str(target))
    store.write_json_atomic(str(target / "record.json"), {"x": 1})
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o750 and stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(target / "record.json").st_mode) == 0o640
    assert os.listdir(target) == ["record.json"]
    assert json.loads((target / "record.json").read_text()) == {"x": 1}


def test_lock_timeout_message(tmp_path):
    holder = os.open(str(tmp_path / ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(IncidentStoreError, match=r"could not lock .*\.lock within 0\.2 s - another run is writing incidents"):
            with store.StoreLock(str(tmp_path), timeout=0.2):
                pass
    finally:
        os.close(holder)
    with store.StoreLock(str(tmp_path), timeout=0.2):
        pass


def _append_many(path, worker):
    for index in range(100):
        store.append_lines(path, [json.dumps({"worker": worker, "n": index, "pad": "x" * 3000})])


def test_concurrent_appends_interleave_whole_lines(tmp_path):
    write_record(tmp_path, "sample-service-20261127T100000Z")
    path = store.timeline_path(str(tmp_path), "sample-service-20261127T100000Z")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_many, args=(path, worker)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = open(path).read().splitlines()
    assert len(lines) == 400
    for worker in range(4):
        assert [item["n"] for item in map(json.loads, lines) if item["worker"] == worker] == list(range(100))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


# --- the module -----------------------------------------------------------------------------------------------

def run(args, capsys, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        incident_record.main()
    return json.loads(capsys.readouterr().out)


def test_open_false_without_an_incident_creates_nothing(tmp_path, capsys):
    root = tmp_path / "store"
    result = run({"store": str(root), "service": SERVICE, "open": False, "severity": "SEV1"}, capsys)
    assert result["changed"] is False and result["found"] is False and result["record"] is None
    assert not root.exists()


def test_check_mode_writes_nothing_and_returns_no_timeline_path(tmp_path, capsys):
    root = tmp_path / "store"
    result = run({"store": str(root), "service": SERVICE, "severity": "SEV2", "detected_at": NOW_ISO}, capsys, check_mode=True)
    assert result["changed"] is True and result["created"] is True and result["found"] is False
    assert result["incident_id"] == "sample-service-20261127T153500Z"
    assert result["record"]["severity"] == "SEV2" and result["record"]["status"] == "investigating"
    assert result["timeline_path"] is None
    assert result["msg"].startswith("would have opened incident")
    assert not root.exists()


def test_open_update_and_idempotent_rerun(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SRE_INCIDENT_USER", "oncall-alice")
    args = {"store": str(tmp_path), "service": SERVICE, "incident_type": "db_pool_exhausted", "severity": "SEV2",
            "severity_reason": "orders failing", "detected_at": NOW_ISO, "set_once": {"acknowledged_at": "now"}}
    first = run(args, capsys)
    assert first["changed"] and first["created"] and first["incident_id"] == "sample-service-20261127T153500Z"
    assert first["timeline_path"] == str(tmp_path / first["incident_id"] / "timeline.jsonl")
    on_disk = json.loads(open(first["path"]).read())
    assert on_disk == first["record"] and on_disk["created_by"] == "oncall-alice"
    assert first["diff"]["before"] == {} and first["diff"]["after"]["severity"] == "SEV2"

    again = run(dict(args, detected_at="2026-11-27T18:00:00Z"), capsys)
    assert again["changed"] is False and again["found"] is True and again["created"] is False
    assert again["record"]["detected_at"] == NOW_ISO

    checked = run(dict(args, severity="SEV1"), capsys, check_mode=True)
    assert checked["changed"] is True and checked["record"]["severity"] == "SEV1"
    assert json.loads(open(first["path"]).read())["severity"] == "SEV2"  # check mode wrote nothing

    raised = run({"store": str(tmp_path), "service": SERVICE, "severity": "SEV1", "by": "bob"}, capsys)
    assert raised["changed"] and raised["diff"]["before"]["severity"] == "SEV2" and raised["diff"]["after"]["severity"] == "SEV1"
    assert set(raised["changed_fields"]) >= {"severity", "severity_history", "severity_reason"}

    closed = run({"store": str(tmp_path), "service": SERVICE, "resolved": True}, capsys)
    assert closed["record"]["status"] == "resolved" and closed["record"]["resolved_at"]
    nothing = run({"store": str(tmp_path), "service": SERVICE, "open": False}, capsys)
    assert nothing == dict(nothing, changed=False, found=False, incident_id=None, record=None, timeline_path=None)

    by_id = run({"store": str(tmp_path), "service": SERVICE, "incident_id": first["incident_id"], "open": False}, capsys)
    assert by_id["found"] is True and by_id["record"]["status"] == "resolved" and by_id["changed"] is False


def test_explicit_incident_id(tmp_path, capsys):
    created = run({"store": str(tmp_path), "service": SERVICE, "incident_id": "sample-service-20261127T153500Z"}, capsys)
    assert created["created"] and created["record"]["detected_at"] == NOW_ISO
    wrong = run({"store": str(tmp_path), "service": "billing", "incident_id": "sample-service-20261127T153500Z"}, capsys)
    assert wrong["failed"] and "belongs to service sample-service, not billing" in wrong["msg"]
    bad = run({"store": str(tmp_path), "service": SERVICE, "incident_id": "sample-service-yesterday"}, capsys)
    assert bad["failed"] and "cannot be opened under that id" in bad["msg"]


def test_module_fails_clearly_on_corrupt_record_and_leaves_it(tmp_path, capsys):
    path = tmp_path / "sample-service-20261127T100000Z" / "record.json"
    path.parent.mkdir()
    path.write_text("{not json")
    result = run({"store": str(tmp_path), "service": SERVICE, "severity": "SEV1"}, capsys)
    assert result["failed"] and str(path) in result["msg"] and "Traceback" not in result["msg"]
    assert path.read_text() == "{not json"


def test_module_lock_timeout_fails_with_one_line(tmp_path, capsys):
    holder = os.open(str(tmp_path / ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        result = run({"store": str(tmp_path), "service": SERVICE, "lock_timeout": 0.2}, capsys)
    finally:
        os.close(holder)
    assert result["failed"] and "could not lock" in result["msg"] and "\n" not in result["msg"]
    assert os.listdir(tmp_path) == [".lock"]


def test_bad_detected_at_is_named(tmp_path, capsys):
    result = run({"store": str(tmp_path), "service": SERVICE, "detected_at": "last tuesday"}, capsys)
    assert result["failed"] and result["msg"].startswith("option detected_at: cannot read 'last tuesday'")


def _concurrent_update(root, worker):
    import io
    import sys
    sys.stdout = io.StringIO()
    with patch_module_args({"store": root, "service": SERVICE, "append": {"actions": [{"id": "w%d" % worker}]}}):
        try:
            incident_record.main()
        except SystemExit:
            pass


def test_concurrent_runs_lose_no_update(tmp_path):
    root = str(tmp_path)
    write_record(tmp_path, "sample-service-20261127T100000Z", status="investigating")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_concurrent_update, args=(root, worker)) for worker in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    record = store.load_record(store.record_path(root, "sample-service-20261127T100000Z"))
    assert sorted(item["id"] for item in record["actions"]) == ["w%d" % n for n in range(6)]


def test_severity_only_up_raises_but_never_lowers():
    record, _changed = apply_update(fresh(), {"severity": "SEV2", "severity_reason": "60 % affected"}, LATER, "bob")
    lower, changed = apply_update(record, {"severity": "SEV4", "severity_reason": "no impact now", "severity_only_up": True},
                                  LATER + 60, "bob")
    assert lower["severity"] == "SEV2" and lower["severity_reason"] == "60 % affected" and not changed
    higher, changed = apply_update(record, {"severity": "SEV1", "severity_reason": "health 502", "severity_only_up": True},
                                   LATER + 60, "bob")
    assert higher["severity"] == "SEV1" and changed and higher["severity_history"][-1]["from"] == "SEV2"
