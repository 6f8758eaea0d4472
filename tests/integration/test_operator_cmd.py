"""`featherman operator`'s command line: a malformed flag is refused with a message naming it and
exit code 2, before anything talks to an API server (the kubeconfig here points at a file that
does not exist: had the operator got that far it would exit 1, not 2)."""
import os
import subprocess
import tempfile

import pytest

from featherman import binary, env


def run(*args):
    missing = os.path.join(tempfile.mkdtemp(prefix="fm-opcmd-"), "no-such-kubeconfig")
    p = subprocess.run([binary(), "operator", *args], capture_output=True, text=True, timeout=60,
                       env=env(KUBECONFIG=missing, FEATHERMAN_WATCH_NAMESPACE="", POD_NAMESPACE=""))
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("args, says", [
    (["--workers", "abc"], '--workers: expected an integer from 1 to 64, got "abc"'),
    (["--workers", "0"], '--workers: expected an integer from 1 to 64, got "0"'),
    (["--workers", "4x"], '--workers: expected an integer from 1 to 64, got "4x"'),
    (["--workers=100000000000000000000"], "--workers: expected an integer from 1 to 64"),
    (["--listen", "localhost"], '--listen: expected an IPv4 ADDR:PORT such as 127.0.0.1:8081, got "localhost"'),
    (["--listen", "127.0.0.1:99999"], '--listen: expected an IPv4 ADDR:PORT'),
    (["--image", ""], '--image: expected an image reference, got ""'),
    (["--lease-namespace", ""], '--lease-namespace: expected a namespace, got ""'),
    (["--no-such-flag"], "unrecognized option '--no-such-flag'"),
    (["stray"], 'unexpected argument "stray"'),
])
def test_a_bad_flag_is_refused_naming_it(args, says):
    rc, out = run(*args)
    assert rc == 2, out
    assert says in out, out


def test_help_and_a_good_command_line_get_past_the_flags():
    rc, out = run("--help")
    assert rc == 0 and "usage: featherman operator" in out, out
    # valid flags: refused only later, for the kubeconfig that is not there
    rc, out = run("--workers", "3", "--listen", "127.0.0.1:0", "--no-leader-elect")
    assert rc == 1 and "no-such-kubeconfig" in out, out
