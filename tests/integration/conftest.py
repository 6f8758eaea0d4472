import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from services import MinIO, Postgres  # noqa: E402


@pytest.fixture(scope="session")
def minio():
    m = MinIO()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def postgres():
    p = Postgres()
    yield p
    p.stop()


# A skipped test is a failure unless it is on this list, with the reason it may skip. A suite that
# skips silently when a binary is missing proves nothing; a skip here must be deliberate.
SKIP_ALLOWLIST = {
    # (node id, substring of the skip reason): why it may skip
}

_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    bad = [(n, r) for n, r in _skipped
           if not any(n.startswith(a) and s in r for (a, s) in SKIP_ALLOWLIST)]
    if bad:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        for n, r in bad:
            line = f"SKIPPED AND NOT ALLOWED: {n}: {r}"
            (tr.write_line(line, red=True) if tr else print(line))
        if session.exitstatus == 0:
            session.exitstatus = 1
