"""The C unit tests, in the normal and the AddressSanitizer + UBSan builds."""
import os
import subprocess

import pytest

from featherman import SAN_ENV
from services import ROOT


@pytest.mark.parametrize("build", ["build/unit_tests", "build/asan/unit_tests"])
def test_c_unit_tests(build):
    path = os.path.join(ROOT, build)
    assert os.path.exists(path), f"{build} is missing: run make unit asan"
    p = subprocess.run([path], capture_output=True, text=True, env=dict(os.environ, **SAN_ENV), timeout=600)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert p.stdout.strip().splitlines()[-1].endswith(" 0 failed")
