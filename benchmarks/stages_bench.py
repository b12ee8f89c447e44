"""The daemon's machinery without the pipeline: does the staged executor
overlap its stages, and do the idle threads sleep?

    .venv/bin/python benchmarks/stages_bench.py [--items 40] [--nap 0.02] [--idle 2.0]

- overlap: ``--items`` items through three stages that each sleep ``--nap``;
  sequential would take items x 3 x nap, overlapped about items x nap. The
  ratio (sequential / measured) is printed, median of 5 runs, side by side
  with the ideal 3.0.
- idle: CPU seconds the settler thread and an idle pipeline use over
  ``--idle`` seconds of wall time (should be ~0: nothing polls).

These were timed asserts in the unit tests once; on a shared, noisy machine
they belong here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.stages import Stage, StagePipeline  # noqa: E402
from daemon.watch import Settler  # noqa: E402


def overlap(items: int, nap: float) -> float:
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def finished(item, result):
        with lock:
            count[0] += 1
            if count[0] == items:
                done.set()

    def sleep(x):
        time.sleep(nap)
        return x

    pipe = StagePipeline([Stage("a", sleep), Stage("b", sleep), Stage("c", sleep)], 6, finished,
                         lambda *a: None)
    start = time.perf_counter()
    for i in range(items):
        pipe.submit(i)
    done.wait(60)
    elapsed = time.perf_counter() - start
    pipe.close(5)
    return items * 3 * nap / elapsed


def idle_cpu(seconds: float) -> float:
    settler = Settler(0.1, lambda *a: None)
    settler.start()
    pipe = StagePipeline([Stage("a", lambda x: x)], 2, lambda *a: None, lambda *a: None)
    t0 = time.process_time()
    time.sleep(seconds)
    used = time.process_time() - t0
    settler.stop()
    pipe.close(1)
    return used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--nap", type=float, default=0.02)
    parser.add_argument("--idle", type=float, default=2.0)
    args = parser.parse_args()
    ratios = [overlap(args.items, args.nap) for _ in range(5)]
    print(f"overlap: sequential/measured median {statistics.median(ratios):.2f} (ideal 3.00; "
          f"min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"idle: {idle_cpu(args.idle) * 1000:.1f} ms CPU over {args.idle:.1f} s (settler + idle pipeline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
