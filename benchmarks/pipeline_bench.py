"""One 4000x4000 booth JPEG -> one 2048x2048 listing JPEG: per-stage medians,
the whole pipeline against the floor (decode + resize to 2048 + encode) on the
same run, and peak RSS. Single-threaded by default, as on one core of the
2-core reference machine.

    .venv/bin/python benchmarks/pipeline_bench.py [--runs 7] [--threads 1] [--photo PATH]

Without --photo it makes a stand-in booth photo: a test composite from
../shared/testdata with sensor-like noise, saved at quality 95 so it weighs
what the booth's 5-7 MB exports weigh (entropy decoding dominates decode time).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import Profile, build_segmenter, finish, load_photo  # noqa: E402
from pipeline.core import segment_photo  # noqa: E402
from pipeline.encode import encode  # noqa: E402
from pipeline.segment import SegmenterConfig  # noqa: E402

COMPOSITE = REPO.parent / "shared/testdata/synthetic_white_composites/images/kerosene-lamp-gde06bdaab_1920.jpg"
OUT = REPO / "benchmarks" / "out"


def stand_in_photo() -> Path:
    path = OUT / "booth-4000.jpg"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    if COMPOSITE.exists():
        rgb = np.asarray(Image.open(COMPOSITE).convert("RGB"))
    else:  # no shared test data: a dark product on a sweep
        rgb = np.full((4000, 4000, 3), 246, np.uint8)
        cv2.rectangle(rgb, (1100, 1300), (2900, 2900), (30, 30, 34), -1)
    noise = np.random.default_rng(0).normal(0, 3.2, rgb.shape).astype(np.float32)
    noisy = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(path, "JPEG", quality=95, subsampling=0)
    return path


def run(photo_path: Path, runs: int) -> dict:
    data = photo_path.read_bytes()
    profile = Profile.model_validate({"shadow": {"mode": "contact"}})
    segmenter = build_segmenter(SegmenterConfig())
    stages: dict[str, list[float]] = {}
    floor: list[float] = []
    total: list[float] = []
    for i in range(runs + 1):  # the first run warms caches and is dropped
        t0 = time.perf_counter()
        photo = load_photo(data, profile.load)
        t1 = time.perf_counter()
        segmentation = segment_photo(photo, segmenter)
        t2 = time.perf_counter()
        result = finish(photo, segmentation, profile, {"title": "bench"})
        t3 = time.perf_counter()
        del photo, segmentation
        f0 = time.perf_counter()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        small = cv2.resize(rgb, (2048, 2048), interpolation=cv2.INTER_AREA)
        encode(small, profile.encode)
        f1 = time.perf_counter()
        del rgb, small
        if i == 0:
            continue
        for name, ms in {"decode": (t1 - t0) * 1000, "segment": (t2 - t1) * 1000, **result.timings}.items():
            stages.setdefault(name, []).append(ms)
        total.append((t3 - t0) * 1000)
        floor.append((f1 - f0) * 1000)
    med = {k: statistics.median(v) for k, v in stages.items()}
    return {
        "photo": str(photo_path), "bytes": len(data), "runs": runs,
        "stages_ms": {k: round(v, 1) for k, v in med.items()},
        "pipeline_ms": round(statistics.median(total), 1),
        "floor_ms": round(statistics.median(floor), 1),
        "ratio": round(statistics.median(total) / statistics.median(floor), 2),
    }


def pipeline_peak_rss(photo_path: Path, runs: int = 3) -> float:
    """Peak RSS (MB) of a process that only runs the pipeline: the figure a worker sees."""
    data = photo_path.read_bytes()
    profile = Profile.model_validate({"shadow": {"mode": "contact"}})
    segmenter = build_segmenter(SegmenterConfig())
    for _ in range(runs):
        photo = load_photo(data, profile.load)
        result = finish(photo, segment_photo(photo, segmenter), profile)
        del photo, result
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = one core)")
    ap.add_argument("--photo", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    photo = args.photo or stand_in_photo()
    env = {"OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads), "PATH": ""}
    if args.rss_child:
        cv2.setNumThreads(args.threads)
        print(pipeline_peak_rss(photo))
        return 0
    if not args.child:  # timings side by side in one fresh process, peak RSS in another
        cmd = [sys.executable, __file__, "--child", "--photo", str(photo), "--runs", str(args.runs),
               "--threads", str(args.threads)] + (["--json"] if args.json else [])
        return subprocess.call(cmd, env=env)
    cv2.setNumThreads(args.threads)
    report = run(photo, args.runs)
    rss = subprocess.run([sys.executable, __file__, "--rss-child", "--photo", str(photo), "--threads",
                          str(args.threads)], env=env, capture_output=True, text=True, check=True)
    report["peak_rss_mb"] = float(rss.stdout.strip())
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"photo: {report['photo']} ({report['bytes'] / 1e6:.1f} MB), {report['runs']} runs, "
          f"{args.threads} thread(s)")
    for name, ms in report["stages_ms"].items():
        print(f"  {name:<8} {ms:7.1f} ms")
    print(f"pipeline {report['pipeline_ms']:.0f} ms  floor {report['floor_ms']:.0f} ms  "
          f"ratio {report['ratio']:.2f}x  (target <= 3x, <= 600 ms)")
    print(f"peak RSS {report['peak_rss_mb']:.0f} MB (target <= 800 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
