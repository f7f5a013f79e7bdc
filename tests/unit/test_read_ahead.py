"""Steps read ahead in a forked process (plugin_utils/read_ahead.py): the ticket is redeemed for the answers, a
reader that died or never answers costs a re-read (None), and nothing is read from outside the private directory."""

import fcntl
import os
import threading
import time

import pytest

from ansible_collections.sre.incident.plugins.plugin_utils import read_ahead

STEPS = [("cluster", "sre.incident.elasticache_info", {"replication_group_id": "rg"}),
         ("ping", "sre.incident.redis_probe", {"url": "redis://127.0.0.1:1"})]


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(read_ahead.tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path


def fake_reader(monkeypatch, seconds=0.0):
    def run_steps(steps, check_mode, max_workers):
        time.sleep(seconds)
        return [({"module": module, "check_mode": check_mode, "pid": os.getpid()}, 0.5) for module, _args in steps]
    monkeypatch.setattr(read_ahead, "run_steps", run_steps)


def test_the_answers_come_back_by_step_id_from_another_process_and_the_files_go(monkeypatch):
    fake_reader(monkeypatch, seconds=0.2)
    ticket = read_ahead.start(STEPS, True, 4)
    assert ticket is not None
    answers = read_ahead.redeem(ticket, 10)
    assert answers["cluster"]["answer"]["module"] == "sre.incident.elasticache_info"
    assert answers["ping"]["answer"]["check_mode"] is True and answers["ping"]["seconds"] == 0.5
    assert answers["ping"]["answer"]["pid"] != os.getpid()
    assert os.listdir(os.path.dirname(ticket["path"])) == []
    assert read_ahead.redeem(ticket, 1) is None  # a ticket is redeemed once


def test_the_ticket_directory_is_private(monkeypatch, private_tmp):
    fake_reader(monkeypatch)
    read_ahead.redeem(read_ahead.start(STEPS, False, 4), 10)
    directory = private_tmp / ("sre-incident-read-ahead-%d" % os.getuid())
    assert directory.stat().st_mode & 0o777 == 0o700


def test_a_shared_or_open_directory_is_not_used(monkeypatch, private_tmp):
    fake_reader(monkeypatch)
    directory = private_tmp / ("sre-incident-read-ahead-%d" % os.getuid())
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)
    assert read_ahead.start(STEPS, False, 4) is None


def test_a_reader_that_died_without_answering_is_noticed_at_once(private_tmp):
    directory = private_tmp / ("sre-incident-read-ahead-%d" % os.getuid())
    directory.mkdir(mode=0o700)
    (directory / "dead.lock").write_text("")  # nobody holds its lock
    started = time.monotonic()
    assert read_ahead.redeem({"path": str(directory / "dead")}, 30) is None
    assert time.monotonic() - started < 1
    assert not (directory / "dead.lock").exists()


def test_a_reader_at_work_is_waited_for_and_one_that_never_answers_only_until_the_limit(private_tmp):
    directory = private_tmp / ("sre-incident-read-ahead-%d" % os.getuid())
    directory.mkdir(mode=0o700)
    for name in ("slow", "stuck"):
        (directory / (name + ".lock")).write_text("")
    holders = [open(directory / (name + ".lock")) for name in ("slow", "stuck")]  # pylint: disable=consider-using-with
    for holder in holders:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as the reader holds it while it reads
    try:
        timer = threading.Timer(0.3, lambda: (directory / "slow.json").write_text('{"ping": {"answer": {"ping": true}, "seconds": 0.1}}'))
        timer.start()
        assert read_ahead.redeem({"path": str(directory / "slow")}, 10) == {"ping": {"answer": {"ping": True}, "seconds": 0.1}}
        started = time.monotonic()
        assert read_ahead.redeem({"path": str(directory / "stuck")}, 0.3) is None
        assert 0.3 <= time.monotonic() - started < 2
    finally:
        for holder in holders:
            holder.close()


def test_a_ticket_from_elsewhere_is_never_read(private_tmp):
    outside = private_tmp / "elsewhere"
    (private_tmp / "elsewhere.json").write_text('{"ping": {"answer": {}, "seconds": 0}}')
    for ticket in ({"path": str(outside)}, {"path": ""}, {}, "not a ticket", None):
        assert read_ahead.redeem(ticket, 1) is None
    assert (private_tmp / "elsewhere.json").exists()


def test_tickets_nobody_redeemed_are_removed_after_an_hour(monkeypatch, private_tmp):
    fake_reader(monkeypatch)
    directory = private_tmp / ("sre-incident-read-ahead-%d" % os.getuid())
    directory.mkdir(mode=0o700)
    old, recent = directory / "old.json", directory / "recent.json"
    old.write_text("{}")
    recent.write_text("{}")
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    read_ahead.redeem(read_ahead.start(STEPS, False, 4), 10)
    assert not old.exists() and recent.exists()
