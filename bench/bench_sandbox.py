"""How long the sandbox takes to come up and go down (issue 3: Katana + 3 stores "well under a second").

    python bench/bench_sandbox.py [--repeat 20]

Prints the median and worst of `sandbox.start(None, stores=3)` + `stop()`, and of the demo dataset
on top. A script, not a test: timings belong to a machine, not to a pass/fail suite.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from katana_woo_sdk import sandbox  # noqa: E402

STORES = ("shop-eu", "shop-us", "shop-outlet")


def measure(repeat: int, dataset: str | None) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        box = sandbox.start(dataset, stores=STORES if dataset is None else None)
        box.stop()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for label, dataset in (("empty, Katana + 3 stores", None), ("demo dataset", "demo")):
        times = measure(args.repeat, dataset)
        print(f"{label:26s} up and down: median {statistics.median(times) * 1000:6.1f} ms, "
              f"worst {max(times) * 1000:6.1f} ms over {len(times)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
