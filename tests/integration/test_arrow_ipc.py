"""The Arrow IPC stream our encoder writes, read by an independent implementation (pyarrow).

The C unit test `arrow_dump` (tests/unit/test_encoder.c) encodes a query covering the lake
types, through the same streaming path query_run.c uses, and writes the bytes to $FM_ARROW_DUMP;
here pyarrow must read it as a valid stream with the types and values DuckDB's Arrow export gives.
"""
import datetime
import decimal
import math
import os
import subprocess

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from featherman import SAN_ENV
from services import ROOT


def unit_binaries():
    explicit = os.environ.get("FEATHERMAN_UNIT_BIN")
    if explicit:
        return [explicit]
    return [os.path.join(ROOT, "build", "unit_tests"), os.path.join(ROOT, "build", "asan", "unit_tests")]


@pytest.fixture(params=unit_binaries(), ids=lambda b: os.path.relpath(b, ROOT))
def arrow_stream(request, tmp_path):
    binary = request.param
    assert os.path.exists(binary), f"{binary} is missing: run make unit asan"
    dump = tmp_path / "rich.arrows"
    env = dict(os.environ, FM_ARROW_DUMP=str(dump), **SAN_ENV)
    p = subprocess.run([binary, "arrow_dump"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed", p.stdout + p.stderr
    return dump.read_bytes()


def test_schema_types(arrow_stream):
    reader = ipc.open_stream(arrow_stream)
    s = reader.schema
    want = {
        "ti": pa.int8(), "si": pa.int16(), "i": pa.int32(), "bi": pa.int64(), "ubi": pa.uint64(),
        "hi": pa.decimal128(38, 0), "d": pa.float64(), "f": pa.float32(),
        "dec4": pa.decimal128(4, 1), "dec18": pa.decimal128(18, 3), "dec38": pa.decimal128(38, 10),
        "b": pa.bool_(), "s": pa.string(), "bl": pa.binary(), "dt": pa.date32(), "tm": pa.time64("us"),
        "ts": pa.timestamp("us"), "tstz": pa.timestamp("us", tz="UTC"),
        "iv": pa.month_day_nano_interval(), "l": pa.list_(pa.field("l", pa.int64())),
        "st": pa.struct([("a", pa.int64()), ("b", pa.struct([("c", pa.string())]))]),
        "m": pa.map_(pa.string(), pa.int64()), "n": pa.int32(),
        "enl": pa.list_(pa.field("l", pa.dictionary(pa.uint8(), pa.string()))),
    }
    assert s.names == ["ti", "si", "i", "bi", "ubi", "hi", "d", "f", "dec4", "dec18", "dec38", "b", "s", "bl",
                       "dt", "tm", "ts", "tstz", "u", "iv", "l", "st", "m", "en", "n", "enl"]
    for name, t in want.items():
        assert s.field(name).type == t, (name, s.field(name).type)
    # ENUM is a dictionary array, as the contract says (DuckDB picks the smallest index type)
    assert pa.types.is_dictionary(s.field("en").type)
    assert s.field("en").type.value_type == pa.string()
    # UUID: DuckDB's Arrow export gives its canonical text (or arrow.uuid with lossless options)
    assert s.field("u").type in (pa.string(), pa.binary(16)) or "uuid" in str(s.field("u").type)


def test_values(arrow_stream):
    reader = ipc.open_stream(arrow_stream)
    batches = list(reader)
    assert len(batches) >= 2  # one record batch per DuckDB chunk (2048 rows)
    t = pa.Table.from_batches(batches)
    assert t.num_rows == 3000
    rows = t.to_pylist()
    r0, r1, r2, last = rows[0], rows[1], rows[2], rows[2999]
    assert math.isnan(r0["d"]) and r1["d"] == math.inf and r2["d"] == 0.5
    assert last["ti"] == 99 and last["si"] == 2999 and last["i"] == 2999 and last["bi"] == 2999 * 10**12
    assert last["ubi"] == 18446744073709540000 + 2999
    assert last["hi"] == decimal.Decimal(2999 * 10**21)
    assert r0["dec4"] == decimal.Decimal("-100.0") and last["dec4"] == decimal.Decimal("199.9")
    assert r1["dec18"] == decimal.Decimal("-999124.875")
    assert r1["dec38"] == decimal.Decimal(-999 * 12345678901234567890123)
    assert r0["b"] is True and r1["b"] is False
    assert r0["s"] is None and r1["s"] == 'v1,"\n✓'
    assert r2["bl"] == b"\x00\xff2"
    assert last["dt"] == datetime.date(2024, 1, 1) + datetime.timedelta(days=2999)
    assert r0["tm"] == datetime.time(1, 2, 3, 500000)
    assert r1["ts"] == datetime.datetime(2024, 1, 2, 3, 4, 6, 123456)
    assert r0["tstz"] == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    u = r0["u"]
    assert (u if isinstance(u, str) else str(u)) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" or \
        bytes(u) == bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")
    assert r0["iv"] == pa.MonthDayNano([1, 2, 3 * 10**9])
    assert r2["l"] == [2, None, 3]
    assert last["st"] == {"a": 2999, "b": {"c": "x2999"}}
    assert r1["m"] == [("k", 1)]
    assert [r["en"] for r in rows[:4]] == ["sad", "ok", "happy", "sad"]
    assert r1["enl"] == ["ok", None]
    assert all(r["n"] is None for r in rows)
    # the dictionary column decodes the same in every batch (sent once, reused)
    assert t.column("en").to_pylist()[2046:2050] == ["sad", "ok", "happy", "sad"]
