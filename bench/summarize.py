"""bench/summarize.py: medians over several bench/run.sh results blocks.

  python3 bench/summarize.py build/bench/results-*.txt     (or bench/results-*.txt)

A file may hold several blocks (each starts with "== featherman bench"). Each figure of a block (p50/p90/p99 per query and path, fresh-process medians, bulk times
and stream rates) is collected across the files and printed as median [min..max] over the runs.
"""
import re
import statistics
import sys
from collections import defaultdict


def parse_file(path):
    blocks = []
    for line in open(path):
        if line.startswith("== featherman bench"):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return [parse(b) for b in blocks]


def parse(lines):
    out, q = {}, None
    for line in lines:
        s = line.strip()
        m = re.match(r"(Q\d):", s)
        if m:
            q = m.group(1)
            continue
        for path_name in ("featherman", "in-process"):
            if s.startswith(path_name + " "):
                for k in ("p50_us", "p90_us", "p99_us", "qps"):
                    v = re.search(rf"\b{k}=(\d+)", s)
                    if v:
                        out[f"{q} {path_name} {k}"] = float(v.group(1))
        m = re.search(r"fresh process\s+median_ms=([\d.]+)", s)
        if m:
            out[f"{q} fresh process ms"] = float(m.group(1))
        m = re.search(r"without the lake.*median_ms=([\d.]+)", s)
        if m:
            out["bare DuckDB process SELECT 1 ms"] = float(m.group(1))
        m = re.search(r"load 1M\+10k rows.*: ([\d.]+) s", s)
        if m:
            out["load 1M+10k rows s"] = float(m.group(1))
        m = re.match(r"(featherman arrow|DuckDB Python).*client process (\d+) ms, \S+\s+([\d.]+) s", s)
        if m:
            out[f"{m.group(1)}: client process ms"] = float(m.group(2))
            out[f"{m.group(1)}: measured part s"] = float(m.group(3))
        m = re.match(r"stream (\w+)\s+to curl: (\d+) MB, median ([\d.]+) s = (\d+) MB/s, ([\d.]+) M rows/s", s)
        if m:
            out[f"stream {m.group(1)} s"] = float(m.group(3))
            out[f"stream {m.group(1)} MB/s"] = float(m.group(4))
            out[f"stream {m.group(1)} M rows/s"] = float(m.group(5))
    return out


def fmt(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def main():
    runs = [r for p in sys.argv[1:] for r in parse_file(p)]
    if not runs:
        sys.exit(__doc__)
    vals = defaultdict(list)
    for r in runs:
        for k, v in r.items():
            vals[k].append(v)
    print(f"medians over {len(runs)} runs: median [min..max]")
    for k, v in vals.items():
        print(f"  {k:45s} {fmt(statistics.median(v)):>8}  [{fmt(min(v))}..{fmt(max(v))}]")


if __name__ == "__main__":
    main()
