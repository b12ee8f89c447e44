"""Evaluates the white-studio segmenter on the test photos.

    python benchmarks/eval_white_studio.py [--testdata DIR] [--sheets OUT_DIR] [--repeat N]

Prints IoU, MAE and boundary F per masked image (the alpha is upsampled to the
mask's resolution with bilinear interpolation and thresholded at 0.5), the
median ``segment`` time on a 4000x4000 photo with OpenCV on one thread, and,
with ``--sheets``, writes one PNG per test folder showing photo, cut-out on
grey, alpha and shadow side by side for every photo in ``*/images``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import metrics  # noqa: E402
from pipeline.load import load_photo  # noqa: E402
from pipeline.segment.base import NoCutout, Segmentation, working_size  # noqa: E402
from pipeline.segment.white_studio import WhiteStudioParams, WhiteStudioSegmenter  # noqa: E402

PANEL = 384


def masked_scores(segmenter: WhiteStudioSegmenter, folder: Path) -> list[dict]:
    rows = []
    for image in sorted((folder / "images").glob("*")):
        truth = cv2.imread(str(folder / "masks" / f"{image.stem}.png"), cv2.IMREAD_GRAYSCALE)
        if truth is None:
            continue
        alpha = segmenter.segment(load_photo(image.read_bytes()).rgb).alpha
        full = cv2.resize(alpha, truth.shape[::-1], interpolation=cv2.INTER_LINEAR)
        rows.append({"image": image.name, "iou": metrics.iou(full, truth),
                     "mae": metrics.mae(full, truth), "boundary_f": metrics.boundary_f(full, truth)})
    return rows


def median_ms(segmenter: WhiteStudioSegmenter, rgb: np.ndarray, repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``segment`` with OpenCV on one
    thread. On an otherwise idle machine the two agree; on a shared one the
    CPU figure is the one to compare."""
    cv2.setNumThreads(1)
    segmenter.segment(rgb)  # warm up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        segmenter.segment(rgb)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def flat_rgb(path: Path) -> np.ndarray:
    """The photo as the segmenter sees it; a cut-out with transparency is laid on white."""
    photo = load_photo(Path(path).read_bytes())
    if photo.alpha is None:
        return photo.rgb
    a = photo.alpha[..., None].astype(np.float32) / 255.0
    return (photo.rgb * a + 255.0 * (1 - a)).astype(np.uint8)


def sheet_row(rgb: np.ndarray, segmenter: WhiteStudioSegmenter, label: str) -> np.ndarray:
    seg = segmenter.segment(rgb)
    if isinstance(seg, NoCutout):  # a dark or busy backdrop: no cut-out, show the photo alone
        seg = Segmentation(alpha=np.zeros(working_shape(rgb, segmenter), np.float32))
        label += " (no sweep)"
    h, w = seg.alpha.shape
    small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    a = seg.alpha[..., None]
    cutout = small * a + 110.0 * (1 - a)
    contour = small.copy()
    edge = cv2.morphologyEx((seg.alpha >= 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    contour[edge > 0] = (255, 0, 0)
    grey = lambda m: np.repeat(m[..., None] * 255.0, 3, axis=2)  # noqa: E731
    shadow = seg.shadow if seg.shadow is not None else np.zeros_like(seg.alpha)
    panels = [contour, cutout, grey(seg.alpha), grey(shadow)]
    row = np.hstack([_fit(p) for p in panels])
    cv2.putText(row, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 0, 255), 1, cv2.LINE_AA)
    return row


def working_shape(rgb: np.ndarray, segmenter: WhiteStudioSegmenter) -> tuple[int, int]:
    w, h = working_size(rgb.shape, segmenter.params.working_size)
    return h, w


def _fit(panel: np.ndarray) -> np.ndarray:
    h, w = panel.shape[:2]
    scale = PANEL / max(h, w)
    small = cv2.resize(panel.astype(np.uint8), (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.full((PANEL, PANEL, 3), 60, np.uint8)
    canvas[:small.shape[0], :small.shape[1]] = small
    return canvas


def write_sheets(segmenter: WhiteStudioSegmenter, testdata: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in testdata.iterdir() if (p / "images").is_dir()):
        rows = [sheet_row(flat_rgb(image), segmenter, image.stem[:40])
                for image in sorted((folder / "images").glob("*"))]
        for i in range(0, len(rows), 4):
            path = out / f"{folder.name}_{i // 4}.png"
            cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows[i:i + 4]), cv2.COLOR_RGB2BGR))
            print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    parser.add_argument("--sheets", type=Path, help="folder for the side-by-side PNG sheets")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per photo (0 skips timing)")
    args = parser.parse_args()
    segmenter = WhiteStudioSegmenter(WhiteStudioParams())
    rows = masked_scores(segmenter, args.testdata / "synthetic_white_composites")
    for r in rows:
        print(f"{r['image']:40s} IoU {r['iou']:.4f}  MAE {r['mae']:.4f}  boundary F {r['boundary_f']:.4f}")
    if rows:
        print(f"{'mean':40s} IoU {np.mean([r['iou'] for r in rows]):.4f}  "
              f"MAE {np.mean([r['mae'] for r in rows]):.4f}  boundary F {np.mean([r['boundary_f'] for r in rows]):.4f}")
    if args.repeat > 0:
        for image in sorted((args.testdata / "synthetic_white_composites" / "images").glob("*")):
            rgb = load_photo(image.read_bytes()).rgb
            wall, cpu = median_ms(segmenter, rgb, args.repeat)
            print(f"segment {image.name} {rgb.shape[1]}x{rgb.shape[0]}, 1 thread: "
                  f"median {wall:.1f} ms wall, {cpu:.1f} ms CPU (load average {os.getloadavg()[0]:.1f})")
    if args.sheets:
        write_sheets(segmenter, args.testdata, args.sheets)


if __name__ == "__main__":
    main()
