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
