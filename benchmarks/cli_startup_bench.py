"""How long ``booth`` takes to start: the whole process, from exec to exit.

    .venv/bin/python benchmarks/cli_startup_bench.py [--runs 10]

Each command runs ``--runs`` times after one warm-up; the median wall time is
printed beside the bare interpreter (``python -c pass``), the floor no command
can go under. ``booth --help`` and ``--version`` import no command module and
no heavy library (tests/test_cli_startup.py checks that); ``booth status
--help`` imports its own module only; ``booth config check`` loads the whole
config schema (pydantic, the pipeline's parameter models).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOTH = Path(sys.executable).with_name("booth")

COMMANDS = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "booth --help": [str(BOOTH), "--help"],
    "booth --version": [str(BOOTH), "--version"],
    "booth status --help": [str(BOOTH), "status", "--help"],
    "booth config check config.yaml": [str(BOOTH), "config", "check", "config.yaml"],
}


def wall(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)  # warm-up: file cache, .pyc
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not BOOTH.exists():
        print(f"no {BOOTH}: run `make setup` first", file=sys.stderr)
        return 2
    print(f"{'command':34} {'median':>8} {'min':>8} {'max':>8}   ({args.runs} runs)")
    for name, command in COMMANDS.items():
        times = wall(command, args.runs)
        print(f"{name:34} {statistics.median(times) * 1000:6.0f}ms {min(times) * 1000:6.0f}ms "
              f"{max(times) * 1000:6.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
