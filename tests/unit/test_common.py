import pytest

from ansible_collections.sre.incident.plugins.module_utils.common import WaitTimeout, parse_duration, wait_for


@pytest.mark.parametrize("value,seconds", [(600, 600), ("600", 600), ("10m", 600), ("1.5h", 5400), ("250ms", 0.25), (" 2d ", 172800)])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["ten minutes", "10 weeks", "-5", -1, "", "5mm"])
def test_parse_duration_rejects_with_reason(value):
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(value)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_for_returns_when_done():
    clock, states = FakeClock(), iter(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    result, waited = wait_for(lambda: next(states), lambda s: s == "COMPLETED", 60, 2, clock=clock, sleep=clock.sleep)
    assert result == "COMPLETED" and waited == 4.0


def test_wait_for_times_out_with_last_observation():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: {"rollout": "IN_PROGRESS"}, lambda s: False, 10, 3, clock=clock, sleep=clock.sleep)
    assert info.value.last == {"rollout": "IN_PROGRESS"}
    assert clock.now == pytest.approx(10, abs=0.1)


def test_wait_for_starts_with_short_pauses_when_asked():
    clock, states = FakeClock(), iter(["Running", "Running", "Running", "Running", "Complete"])
    result, waited = wait_for(lambda: next(states), lambda s: s == "Complete", 60, 1, clock=clock, sleep=clock.sleep,
                              first_interval=0.2)
    assert result == "Complete" and waited == pytest.approx(0.2 + 0.4 + 0.8 + 1.0)
