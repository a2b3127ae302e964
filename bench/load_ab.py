"""Store load of two source trees, alternating, on the same synthetic store: a before/after for loader work.

    .venv/bin/python bench/load_ab.py /tmp/before .                 # 100,000 articles, 5 rounds
    .venv/bin/python bench/load_ab.py /tmp/before . --n 10000 --rounds 9
    git worktree add /tmp/before <commit>                           # one way to get the "before" tree

Each round runs, for each tree in turn (the order alternates), a new process that imports everything, then
times ``load_store`` on the store (the first read) and again on the same store with one article's title
changed (what a reload after an edit does), and reads VmHWM. The machine is shared and noisy: the report gives
every round, the ratio of the medians and the median of each round's own ratio (after / before, run back to
back, which cancels most of what other machines did to that round), all measured in this one run. Not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ensure_store  # noqa: E402  (bench/run.py: the store every benchmark uses)

PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import flask, nh3, orjson  # imports are not load time
import feedservice.loader as loader
assert loader.__file__.startswith(sys.argv[1]), loader.__file__
raw = open(sys.argv[2], "rb").read()
t0 = time.perf_counter()
loader.parse_store(raw, sys.argv[2])
first = time.perf_counter() - t0
edited = raw.replace(b'"title": "', b'"title": "Edited ', 1)
t0 = time.perf_counter()
loader.parse_store(edited, sys.argv[2])
reload = time.perf_counter() - t0
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) * 1024
print(json.dumps({"first": first, "reload": reload, "hwm": hwm}))
"""


def probe(tree: Path, store: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree.resolve()), str(store)], capture_output=True, text=True, timeout=900
    )
    if out.returncode:
        sys.exit(f"{tree}: the probe failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the source tree measured first in odd rounds")
    parser.add_argument("after", type=Path, help="the other source tree")
    parser.add_argument("--n", type=int, default=100_000, help="articles in the store (default 100,000)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = ensure_store(args.n)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for k in range(args.rounds):
        order = [("before", args.before), ("after", args.after)]
        for label, tree in order if k % 2 == 0 else order[::-1]:
            runs[label].append(probe(tree, store))
    print(f"{args.n:,} articles ({store.stat().st_size / 1e6:.1f} MB), {args.rounds} rounds, alternating\n")
    print("| tree | first read, each round (s) | reload after an edit (s) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for label, tree in (("before", args.before), ("after", args.after)):
        r = runs[label]
        firsts = " ".join(f"{x['first']:.2f}" for x in r)
        reloads = " ".join(f"{x['reload']:.2f}" for x in r)
        print(f"| {label}: {tree} | {firsts} | {reloads} | {max(x['hwm'] for x in r) / 2**20:.0f} |")
    for key, what in (("first", "first read"), ("reload", "reload")):
        b, a = (statistics.median(x[key] for x in runs[side]) for side in ("before", "after"))
        # Each round's two runs are back to back, so their ratio cancels what the neighbours did to that round.
        paired = statistics.median(y[key] / x[key] for x, y in zip(runs["before"], runs["after"]))
        print(f"\n{what}: median {b:.2f} s -> {a:.2f} s ({a / b:.2f}x the time); median of each round's ratio "
              f"{paired:.2f}x", end="")
    print()


if __name__ == "__main__":
    main()
