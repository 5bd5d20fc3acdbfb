#!/usr/bin/env python3
"""Summarise an A/B of two skipnet builds from `cargo xtask bench --json` files.

Each side ran the same `xtask bench` command several times, the sides alternating (A B B A A B
...); this prints, per case and mode, the median seconds of each side over its runs, the range,
the speed-up of the medians, and for training the forward + loss / backward / update phases.

    python3 bench/ab_summary.py --a 'before' runs/before-*.json --b 'after' runs/after-*.json
"""

import argparse
import json
import statistics


def load(paths):
    """(arch, batch, mode) -> list of (seconds, phases) over the files, and the build strings."""
    runs = {}
    builds = set()
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        builds.add(data["skipnet_side"]["build"])
        for row in data["skipnet"]:
            key = (row["arch"], row["batch"], row["mode"])
            runs.setdefault(key, []).append((row["seconds"], row["phases"]))
    return runs, builds


def phase_medians(samples):
    phases = [p for _, p in samples if p]
    if not phases:
        return None
    return [statistics.median(p[i] for p in phases) for i in range(3)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", nargs="+", required=True, metavar="NAME_THEN_FILES")
    parser.add_argument("--b", nargs="+", required=True, metavar="NAME_THEN_FILES")
    args = parser.parse_args()
    if len(args.a) < 2 or len(args.b) < 2:
        parser.error("--a and --b each take a name, then at least one JSON file")
    a_name, a_files = args.a[0], args.a[1:]
    b_name, b_files = args.b[0], args.b[1:]
    a_runs, a_builds = load(a_files)
    b_runs, b_builds = load(b_files)
    print(f"A = {a_name}: {len(a_files)} runs; build: {'; '.join(sorted(a_builds))}")
    print(f"B = {b_name}: {len(b_files)} runs; build: {'; '.join(sorted(b_builds))}")
    print()
    print(
        f"| case | mode | {a_name} s, median (range) | {b_name} s, median (range) | speed-up "
        f"| forward + loss | backward | update |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key in a_runs:
        if key not in b_runs:
            continue
        arch, batch, mode = key
        a_s = [s for s, _ in a_runs[key]]
        b_s = [s for s, _ in b_runs[key]]
        a_med, b_med = statistics.median(a_s), statistics.median(b_s)
        cells = [
            f"{arch} b{batch}",
            mode,
            f"{a_med:.3f} ({min(a_s):.3f}–{max(a_s):.3f})",
            f"{b_med:.3f} ({min(b_s):.3f}–{max(b_s):.3f})",
            f"**{a_med / b_med:.2f}×**",
        ]
        a_ph, b_ph = phase_medians(a_runs[key]), phase_medians(b_runs[key])
        if a_ph and b_ph:
            cells += [f"{x:.3f} → {y:.3f} s ({x / y:.2f}×)" for x, y in zip(a_ph, b_ph)]
        else:
            cells += ["", "", ""]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
