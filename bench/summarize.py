"""bench/summarize.py: medians over the rounds of one or more bench/run.sh results files.

  python3 bench/summarize.py build/bench/results-*.txt     (or bench/results-*.txt)

Each round is a block that starts with "== featherman bench round". Every "LABEL: key=value ..."
line of a block contributes its numeric values (latency percentiles, queries/s, fresh-process
medians, bulk seconds, stream rates) under "LABEL key"; each is printed as median [min..max] over
the rounds, after the 1-minute load average at the start and the end of every round.
"""
import re
import statistics
import sys
from collections import defaultdict

KEYS = {"p50_us", "p90_us", "p99_us", "qps", "median_ms", "min_ms", "max_ms", "seconds", "client_ms", "s", "mb",
        "mbps", "mrows"}


def rounds(paths):
    out = []
    for path in paths:
        for line in open(path):
            if line.startswith("== featherman bench round"):
                out.append({"load": [line.split("load=")[1].split()[0]]})
            elif line.startswith("== end of round") and out:
                out[-1]["load"].append(line.split("load=")[1].split()[0])
            elif out and ": " in line:
                label, rest = line.rstrip("\n").split(": ", 1)
                for k, v in re.findall(r"\b(\w+)=([\d.]+)\b", rest):
                    if k in KEYS:
                        out[-1][f"{label} {k}"] = float(v)
    return out


def fmt(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def main():
    rs = rounds(sys.argv[1:])
    if not rs:
        sys.exit(__doc__)
    print(f"{len(rs)} rounds; 1-minute load average at start -> end of each: "
          + ", ".join(" -> ".join(r["load"]) for r in rs))
    vals = defaultdict(list)
    for r in rs:
        for k, v in r.items():
            if k != "load":
                vals[k].append(v)
    print("median [min..max] over the rounds")
    for k, v in vals.items():
        print(f"  {k:50s} {fmt(statistics.median(v)):>8}  [{fmt(min(v))}..{fmt(max(v))}]")


if __name__ == "__main__":
    main()
