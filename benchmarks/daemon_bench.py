"""The daemon end to end: latency from a photo's last write to its finished
image on disk, and a burst's throughput. Runs a real ``booth run`` process.

    .venv/bin/python benchmarks/daemon_bench.py [--photos 7] [--size 2000] [--settle 1.0]
                                                [--burst 100] [--burst-size 300]

Latency, per photo, written one at a time (the daemon idle in between):

- ``rename``: written under ``.name.part`` and renamed into place, so only a
  moved event arrives and the full ``settle_seconds`` applies;
  overhead = latency - settle - processing (the journal's per-stage ms);
- ``in place``: written and closed under its final name; the close event with a
  complete JPEG end lets it go after a short grace instead of the settle time.

Throughput: ``--burst`` photos written at once; photos per second from the first
write to the last job done. Results are printed and written to
``benchmarks/daemon_results.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.daemon_helpers import Daemon, photo_bytes, wait_for, write  # noqa: E402

RESULTS = ROOT / "benchmarks" / "daemon_results.md"


def _processing_ms(job: dict) -> float:
    import json

    timings = json.loads(job["timings"])
    return sum(v for k, v in timings.items() if "." not in k)


def _wait_output(daemon: Daemon, name: str, timeout: float = 120) -> float:
    """Poll (2 ms) for an output named ``name``; returns the time it appeared."""
    folder = daemon.outbox / "default" / Path(name).stem
    target = folder / name
    deadline = time.monotonic() + timeout
    while not target.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no output for {name}")
        time.sleep(0.002)
    return time.monotonic()


def latency(daemon: Daemon, photos: int, size: int, mode: str) -> list[dict]:
    rows = []
    for i in range(photos):
        data = photo_bytes(size, size, seed=1000 + i + (0 if mode == "rename" else 500))
        name = f"{mode.replace(' ', '')}{i:02d}.jpg"
        path = daemon.inbox / name
        if mode == "rename":
            part = path.with_name("." + name + ".part")
            with open(part, "wb") as f:
                f.write(data)
            last_write = time.monotonic()
            os.replace(part, path)
        else:
            with open(path, "wb") as f:
                f.write(data)
                last_write = time.monotonic()
        appeared = _wait_output(daemon, name)
        job = wait_for(lambda: next((j for j in daemon.jobs("done") if j["path"] == str(path)), None), 30)
        rows.append({"latency_ms": (appeared - last_write) * 1000, "processing_ms": _processing_ms(job)})
        time.sleep(0.3)
    return rows


def burst(daemon: Daemon, count: int, size: int) -> dict:
    before = len(daemon.jobs("done"))
    start = time.monotonic()
    for i in range(count):
        write(daemon.inbox / "burst" / f"{i:04d}.jpg", photo_bytes(size, size, seed=5000 + i))
    written = time.monotonic()
    wait_for(lambda: len(daemon.jobs("done")) >= before + count, 1800, every=0.05)
    elapsed = time.monotonic() - start
    return {"photos": count, "size": size, "write_s": written - start, "elapsed_s": elapsed,
            "per_s": count / elapsed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=7)
    ap.add_argument("--size", type=int, default=2000, help="latency photos are SIZE x SIZE")
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--burst-size", type=int, default=300)
    ap.add_argument("--no-write", action="store_true", help="do not update benchmarks/daemon_results.md")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="booth-bench-") as tmp:
        daemon = Daemon(Path(tmp), settle=args.settle,
                        categories={"default": {"compose": {"width": 2048, "height": 2048},
                                                "encode": {"quality": 90}}},
                        workers={"max_in_memory": 6}).start()
        try:
            latency(daemon, 1, args.size, "in place")  # warm caches
            renamed = latency(daemon, args.photos, args.size, "rename")
            in_place = latency(daemon, args.photos, args.size, "in place")
            thru = burst(daemon, args.burst, args.burst_size)
        finally:
            daemon.stop()

    overhead = [r["latency_ms"] - r["processing_ms"] - args.settle * 1000 for r in renamed]
    lines = [
        "# Daemon benchmark",
        "",
        f"`benchmarks/daemon_bench.py --photos {args.photos} --size {args.size} --settle {args.settle} "
        f"--burst {args.burst} --burst-size {args.burst_size}` on {os.cpu_count()} CPUs, "
        f"white-studio segmenter, 2048x2048 JPEG output.",
        "",
        "| measure | median |",
        "|---|---|",
        f"| rename into place: last write -> output on disk | {statistics.median(r['latency_ms'] for r in renamed):.0f} ms |",
        f"| of which processing (load + segment + finish) | {statistics.median(r['processing_ms'] for r in renamed):.0f} ms |",
        f"| overhead beyond settle ({args.settle:g} s) + processing | {statistics.median(overhead):.0f} ms |",
        f"| written in place (close event): last write -> output | {statistics.median(r['latency_ms'] for r in in_place):.0f} ms |",
        f"| of which processing | {statistics.median(r['processing_ms'] for r in in_place):.0f} ms |",
        "",
        f"Burst: {thru['photos']} photos of {thru['size']}x{thru['size']} in {thru['elapsed_s']:.1f} s "
        f"= **{thru['per_s']:.1f} photos/s** (first write to last job done; writing took {thru['write_s']:.1f} s).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
