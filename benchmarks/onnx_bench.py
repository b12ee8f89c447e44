"""ONNX segmentation throughput and memory.

1. Memory: RSS after 10 and after ``--rss-images`` segment calls on a small
   image with the same kind of model at a small input size (the per-image
   path is the same; only the arithmetic is smaller). Run first, so the
   process holds nothing else.
2. End to end, decode -> segment (one OnnxSegmenter, one session) -> finish+encode,
   run strictly one photo after another and then as overlapping stages
   (``daemon.stages.StagePipeline``, as the daemon runs them), on the same
   photos in the same process: images/min for each.

The model is built here (tests/onnx_builders.conv_stack_model): random 3x3
conv weights, sized so CPU inference takes about as long as decode + finish
(``--layers auto``), which is the case where overlap matters most. No weights
are downloaded.

    .venv/bin/python benchmarks/onnx_bench.py                  # ~2-4 min on 2 cores
    .venv/bin/python benchmarks/onnx_bench.py --images 8 --rss-images 200   # quick look
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from daemon.stages import Stage, StagePipeline  # noqa: E402
from pipeline import Profile, finish, load_photo  # noqa: E402
from pipeline.segment.contracts import ModelContract  # noqa: E402
from pipeline.segment.onnx import OnnxSegmenter  # noqa: E402
from pipeline.segment.providers import SessionParams  # noqa: E402
from tests.onnx_builders import conv_stack_model  # noqa: E402

SHARED_PHOTOS = REPO.parent / "shared" / "testdata" / "synthetic_white_composites" / "images"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def synthetic_photo(size: int, seed: int = 0) -> bytes:
    """A dark product on a vignetted near-white sweep, as a JPEG."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    img = np.repeat((248 - 14 * (xx ** 2 + yy ** 2))[..., None], 3, axis=2)
    c = size // 2
    cv2.rectangle(img, (c - size // 4, c - size // 6), (c + size // 4, c + size // 5), (28, 28, 32), -1)
    img += rng.normal(0, 2, img.shape).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def photos(args) -> list[bytes]:
    folder = Path(args.photos) if args.photos else SHARED_PHOTOS
    files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if files:
        print(f"photos: {len(files)} from {folder}")
        return [f.read_bytes() for f in files]
    print(f"photos: synthetic {args.size}x{args.size} JPEG")
    return [synthetic_photo(args.size)]


def segmenter(path: Path, size: int, threads: int) -> OnnxSegmenter:
    contract = ModelContract(input_size=size, output=0, activation="sigmoid")
    return OnnxSegmenter(path, contract, providers=["cpu"], session=SessionParams(intra_op_threads=threads))


def timed(fn, *a, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*a)
        best = min(best, time.perf_counter() - t0)
    return best


def calibrate(args, tmp: Path, data: bytes, profile: Profile) -> tuple[OnnxSegmenter, dict[str, float]]:
    photo = load_photo(data)
    decode_s = timed(load_photo, data)

    def build(layers: int, name: str = "bench") -> OnnxSegmenter:
        path = conv_stack_model(tmp / f"{name}{layers}.onnx", args.model_size, args.channels, layers)
        return segmenter(path, args.model_size, args.threads)

    finish_s = timed(finish, photo, build(1, "probe").segment(photo.rgb), profile)
    target = decode_s + finish_s
    if args.layers == "auto":
        # Inference time is close to linear in the layer count: fit it on two
        # models, build the one that should take `target`, and correct once.
        lo, hi = 2, 10
        t_lo, t_hi = (timed(build(n, "probe").segment, photo.rgb) for n in (lo, hi))
        per_layer = max((t_hi - t_lo) / (hi - lo), 1e-4)
        layers = max(1, round(lo + (target - t_lo) / per_layer))
        measured = timed(build(layers, "probe").segment, photo.rgb)
        layers = max(1, round(lo + (layers - lo) * (target - t_lo) / max(measured - t_lo, 1e-3)))
    else:
        layers = int(args.layers)
    model = build(layers)
    segment_s = timed(model.segment, photo.rgb)
    return model, {"decode": decode_s, "segment": segment_s, "finish": finish_s, "layers": layers}


def sequential(datas: list[bytes], n: int, model: OnnxSegmenter, profile: Profile) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        photo = load_photo(datas[i % len(datas)])
        finish(photo, model.segment(photo.rgb), profile)
    return time.perf_counter() - t0


def overlapped(datas: list[bytes], n: int, model: OnnxSegmenter, profile: Profile, capacity: int) -> float:
    errors: list[BaseException] = []
    done = threading.Semaphore(0)
    stages = [
        Stage("decode", lambda i: load_photo(datas[i % len(datas)])),
        Stage("segment", lambda photo: (photo, model.segment(photo.rgb))),  # one session: one worker
        Stage("finish", lambda pair: finish(pair[0], pair[1], profile)),
    ]
    pipe = StagePipeline(stages, capacity, on_done=lambda item, result: done.release(),
                         on_error=lambda item, stage, exc: (errors.append(exc), done.release()))
    t0 = time.perf_counter()
    for i in range(n):
        pipe.submit(i)
    for _ in range(n):
        done.acquire()
    elapsed = time.perf_counter() - t0
    pipe.close(timeout=30)
    if errors:
        raise RuntimeError(f"{len(errors)} photos failed in the pipeline: {errors[0]!r}")
    return elapsed


def memory(args, tmp: Path) -> dict[int, float]:
    model = segmenter(conv_stack_model(tmp / "rss.onnx", args.rss_model_size, 8, 2), args.rss_model_size,
                      args.threads)
    rgb = load_photo(synthetic_photo(args.rss_size)).rgb
    marks = sorted({10, *range(100, args.rss_images + 1, max(100, args.rss_images // 10)), args.rss_images})
    seen: dict[int, float] = {}
    for i in range(1, args.rss_images + 1):
        model.segment(rgb)
        if i in marks:
            seen[i] = rss_mb()
    return seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=24, help="photos per mode (default 24)")
    p.add_argument("--photos", help="folder of JPEGs (default: the shared 4000x4000 composites, else synthetic)")
    p.add_argument("--size", type=int, default=4000, help="synthetic photo side")
    p.add_argument("--model-size", type=int, default=1024, help="model input side")
    p.add_argument("--channels", type=int, default=32, help="conv width")
    p.add_argument("--layers", default="auto", help="conv layers, or 'auto' (inference ~ decode + finish)")
    p.add_argument("--threads", type=int, default=1,
                   help="onnxruntime intra-op threads, both modes (0 = one per core); with 1 the model "
                        "keeps one core and the other stages get the rest, as on a GPU machine")
    p.add_argument("--capacity", type=int, default=4, help="photos in flight in the overlapped run")
    p.add_argument("--rounds", type=int, default=2, help="alternate sequential/overlapped this many times")
    p.add_argument("--rss-images", type=int, default=1000)
    p.add_argument("--rss-size", type=int, default=1024, help="image side for the memory run")
    p.add_argument("--rss-model-size", type=int, default=512)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args(argv)

    print(f"cores: {os.cpu_count()}, onnxruntime threads: {args.threads or 'default'}")
    profile = Profile()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # Memory first, while the process holds nothing else.
        if not args.skip_memory:
            t0 = time.perf_counter()
            seen = memory(args, tmp)
            first, last = seen[10], seen[args.rss_images]
            print(f"RSS after 10 segment calls: {first:.1f} MB; after {args.rss_images}: {last:.1f} MB "
                  f"({last - first:+.1f} MB) in {time.perf_counter() - t0:.0f} s")
            print("RSS trace: " + ", ".join(f"{n}: {mb:.1f}" for n, mb in seen.items()))
        if not args.skip_throughput:
            datas = photos(args)
            model, t = calibrate(args, tmp, datas[0], profile)
            print(f"model: {args.model_size}px, {t['layers']} conv layers x {args.channels} ch, on {model.provider}")
            print(f"per photo: decode {t['decode'] * 1000:.0f} ms, segment {t['segment'] * 1000:.0f} ms, "
                  f"finish+encode {t['finish'] * 1000:.0f} ms (sum {sum(t[k] for k in ('decode', 'segment', 'finish')) * 1000:.0f} ms)")
            # Alternate the two modes in rounds so a neighbour's load hits both alike.
            per_round = max(1, args.images // args.rounds)
            seq = ovl = 0.0
            seq_cpu = ovl_cpu = 0.0
            for _ in range(args.rounds):
                c0 = cpu_seconds()
                seq += sequential(datas, per_round, model, profile)
                c1 = cpu_seconds()
                ovl += overlapped(datas, per_round, model, profile, args.capacity)
                seq_cpu, ovl_cpu = seq_cpu + c1 - c0, ovl_cpu + cpu_seconds() - c1
            n = per_round * args.rounds
            seq_rate, ovl_rate = 60 * n / seq, 60 * n / ovl
            print(f"sequential: {n} photos in {seq:.1f} s = {seq_rate:.1f} images/min "
                  f"(using {seq_cpu / seq:.2f} cores)")
            print(f"overlapped: {n} photos in {ovl:.1f} s = {ovl_rate:.1f} images/min "
                  f"(using {ovl_cpu / ovl:.2f} cores) = {ovl_rate / seq_rate:.2f}x")
            print(f"load average during the run: {os.getloadavg()[0]:.2f} (other processes compete for the cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
