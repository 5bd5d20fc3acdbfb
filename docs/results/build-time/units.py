#!/usr/bin/env python3
"""Every compilation unit's duration from a cargo `--timings` report, longest first, as CSV.

    python3 docs/results/build-time/units.py TARGET/cargo-timings/cargo-timing.html > units.csv

Reads the `UNIT_DATA` array the report embeds (name, version, target, duration in seconds) and
prints the summed duration and unit count on stderr.
"""

import csv
import json
import sys


def units(html):
    start = html.index("const UNIT_DATA = ") + len("const UNIT_DATA = ")
    data, _ = json.JSONDecoder().raw_decode(html[start:])
    return data


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        data = units(f.read())
    data.sort(key=lambda u: -u["duration"])
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["unit", "version", "target", "duration_s"])
    for u in data:
        out.writerow([u["name"], u["version"], u["target"].strip(), f"{u['duration']:.2f}"])
    total = sum(u["duration"] for u in data)
    print(f"{len(data)} units, {total:.1f} s summed", file=sys.stderr)


if __name__ == "__main__":
    main()
