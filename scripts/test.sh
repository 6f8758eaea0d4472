#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs and fetches what it needs (cached in
# ~/.cache/featherman), builds the release and the AddressSanitizer + UBSan binaries, then runs
# the C unit tests (both builds) and every integration test through pytest against the
# sanitizer build. Extra arguments go to pytest (e.g. -k lockdown).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
make -s check-layers
make -s -j2 all unit asan
VENV=$(awk '$1=="TEST_VENV"{print $3}' build/config.mk)
export FEATHERMAN_BIN="$PWD/build/asan/featherman"
export FEATHERMAN_EXTENSION_DIR=$(awk '$1=="FEATHERMAN_EXTENSION_DIR"{print $3}' build/config.mk)
exec "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider tests "$@"
