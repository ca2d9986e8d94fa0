"""Fault tests run against the native stack started by scripts/faults.sh.
Each test starts from the seed balances and leaves every process running."""

import pytest

import faultkit


@pytest.fixture(autouse=True)
def healthy_stack():
    """Before each test: every component up and the seed data back."""
    for name in ("api01", "api02"):
        if not faultkit.alive(faultkit.pid_of(name)):
            faultkit.stack("replica", name)
    assert faultkit.wait_until(lambda: faultkit.replica_serves("api01") and faultkit.replica_serves("api02"),
                               timeout=15) is not None, "replicas not serving before the test"
    faultkit.reset_database()
    yield
