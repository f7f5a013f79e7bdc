import pytest


@pytest.fixture
def lab_control():
    """The lab's Python API (break_incident, heal, status), as the CLI uses it."""
    from lab import client

    return client
