"""booth process / preview / eval: the pipeline from the command line."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from daemon.cli import load_or_report
from daemon.config import Config
from daemon.router import Router
from pipeline import BadPhoto, PipelineError, finish, load_photo
from pipeline.core import full_alpha, segment_photo
from pipeline.encode import write_atomic

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}


def register(sub) -> None:
    p = sub.add_parser("process", help="finish photos now, without the daemon")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photos or folders (searched recursively)")
    p.add_argument("-o", "--output", metavar="OUTDIR", help="where finished images go (default: output.dir)")
    p.add_argument("--category", help="category profile to use (default: default)")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--mask-dir", metavar="DIR", help="also write each alpha as an 8-bit PNG at the input's size")
    p.set_defaults(func=process_command)

    p = sub.add_parser("preview", help="original | mask overlay | result, side by side")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", metavar="SHEET.png", required=True)
    p.add_argument("--category")
    p.add_argument("--config", metavar="FILE")
    p.set_defaults(func=preview_command)

    p = sub.add_parser("eval", help="score the segmenter against ground-truth masks")
    p.add_argument("images", metavar="IMAGES_DIR")
    p.add_argument("masks", metavar="MASKS_DIR")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=eval_command)


def _unknown_category(config: Config, name: str | None) -> bool:
    """True (after saying so) when ``--category`` names no category in the config."""
    if not name or name in config.categories:
        return False
    close = difflib.get_close_matches(name, list(config.categories), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"have: {', '.join(sorted(config.categories))}"
    print(f"unknown category {name!r} ({hint})", file=sys.stderr)
    return True


def find_photos(paths: list[str]) -> list[tuple[Path, Path]]:
    """(photo, path relative to what was named) for every image under ``paths``."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [(p, p.relative_to(path)) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
        else:
            found.append((path, Path(path.name)))
    return found


def _config_and_category(args):
    """(config, the ``--category`` profile or None), or None after saying what is wrong."""
    config = load_or_report(args.config)
    if config is None or _unknown_category(config, args.category):
        return None
    return config, config.categories[args.category] if args.category else None


def process_command(args) -> int:
    if (setup := _config_and_category(args)) is None:
        return 2
    config, forced = setup
    router = Router(config.routes)
    outdir = Path(args.output) if args.output else config.output.dir
    mask_dir = Path(args.mask_dir) if args.mask_dir else None
    photos = find_photos(args.paths)
    if not photos:
        print("no photos found in " + ", ".join(args.paths), file=sys.stderr)
        return 1
    segmenter = _segmenter(config)
    if segmenter is None:
        return 2
    failures: list[str] = []
    bar = tqdm(photos, unit="photo", file=sys.stderr, disable=None)
    for path, rel in bar:
        bar.set_postfix_str(path.name, refresh=False)
        try:
            category, fields = _route(config, router, rel, forced)
            photo = load_photo(path, category.profile.load)
            segmentation = segment_photo(photo, segmenter)
            result = finish(photo, segmentation, category.profile, fields)
            write_atomic((outdir / rel).with_suffix("." + result.extension), result.encoded)
            if mask_dir is not None:
                alpha = full_alpha(photo, segmentation)
                _write_png(mask_dir / rel.with_suffix(".png"), (alpha * 255 + 0.5).astype(np.uint8))
        except (PipelineError, OSError) as exc:
            failures.append(f"{path}: {_reason(exc)}")
            tqdm.write(f"FAILED {failures[-1]}", file=sys.stderr)
    done = len(photos) - len(failures)
    print(f"{done} of {len(photos)} photos finished into {outdir}"
          + (f", {len(failures)} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


def _segmenter(config: Config):
    """The segmenter the daemon would use (a fetched model resolves the same way), or None after saying why."""
    from daemon.service import build_segmenter

    try:
        return build_segmenter(config)
    except PipelineError as exc:
        print(f"cannot cut out: {exc}", file=sys.stderr)
        return None


def _route(config: Config, router: Router, rel: Path, forced=None):
    """The category and the bar's fields for a photo, from the config's routes as the
    daemon finds them (the path below the named folder stands for the path below
    the watched one); ``--category`` overrides the category."""
    route = router.route(rel.as_posix())
    category = forced or config.category(route.category)
    return category, {**route.fields, "category": category.name}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BadPhoto):
        return f"{exc.reason}: {exc}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc)


def _write_png(path: Path, array: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"cannot encode {path}")
    write_atomic(path, data.tobytes())


# ----------------------------------------------------------------------------- preview

PANEL = 640


def preview_command(args) -> int:
    if (setup := _config_and_category(args)) is None:
        return 2
    config, forced = setup
    category, fields = _route(config, Router(config.routes), Path(Path(args.image).name), forced)
    segmenter = _segmenter(config)
    if segmenter is None:
        return 2
    try:
        photo = load_photo(args.image, category.profile.load)
        segmentation = segment_photo(photo, segmenter)
        result = finish(photo, segmentation, category.profile, fields)
    except (PipelineError, OSError) as exc:
        print(f"{args.image}: {_reason(exc)}", file=sys.stderr)
        return 1
    sheet = preview_sheet(photo.rgb, segmentation.alpha, result.image,
                          title=f"{Path(args.image).name} - category {category.name}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output)
    print(args.output)
    return 0


def preview_sheet(rgb: np.ndarray, alpha: np.ndarray, result: np.ndarray, title: str = "") -> Image.Image:
    """Three labelled panels: the original, the mask over it (product tinted,
    sweep dimmed, edge outlined), and the finished image on a checkerboard."""
    original = _fit(rgb)
    a = cv2.resize(alpha, original.shape[1::-1], interpolation=cv2.INTER_LINEAR)[..., None]
    tint = np.array([255, 60, 60], np.float32)
    overlay = original * (0.35 + 0.65 * a) * (1 - 0.25 * a) + tint * 0.25 * a
    edge = cv2.Canny((a[..., 0] > 0.5).astype(np.uint8) * 255, 50, 150) > 0
    overlay[edge] = (0, 200, 255)
    finished = _fit(result)
    if finished.shape[2] == 4:
        finished = _on_checkerboard(finished)
    panels = [("original", original), ("mask", overlay.clip(0, 255).astype(np.uint8)), ("result", finished)]
    label_h = 34
    sheet = Image.new("RGB", (PANEL * 3 + 40, PANEL + label_h * 2 + 20), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=20)
    draw.text((10, 8), title, font=font, fill=(230, 230, 230))
    for i, (label, panel) in enumerate(panels):
        x = 10 + i * (PANEL + 10)
        y = label_h + (PANEL - panel.shape[0]) // 2
        sheet.paste(Image.fromarray(panel), (x + (PANEL - panel.shape[1]) // 2, y))
        draw.text((x, PANEL + label_h + 4), label, font=font, fill=(230, 230, 230))
    return sheet


def _fit(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = PANEL / max(h, w)
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _on_checkerboard(rgba: np.ndarray) -> np.ndarray:
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // 16 + xx // 16) % 2)[..., None] == 0, 235, 200).astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255
    return (rgba[..., :3] * a + board * (1 - a)).astype(np.uint8)


# ----------------------------------------------------------------------------- eval

def eval_command(args) -> int:
    from pipeline import metrics

    config = load_or_report(args.config)
    if config is None:
        return 2
    images, masks = Path(args.images), Path(args.masks)
    for folder in (images, masks):
        if not folder.is_dir():
            print(f"{folder}: not a folder", file=sys.stderr)
            return 2
    mask_by_stem = {p.stem: p for p in masks.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    pairs = [(p, mask_by_stem[p.stem]) for p in sorted(images.iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in mask_by_stem]
    if not pairs:
        print(f"no image in {images} has a mask with the same name in {masks}", file=sys.stderr)
        return 1
    segmenter = _segmenter(config)
    if segmenter is None:
        return 2
    rows, failures = [], []
    for image_path, mask_path in tqdm(pairs, unit="photo", file=sys.stderr, disable=None):
        try:
            photo = load_photo(image_path, config.category(None).profile.load)
            alpha = full_alpha(photo, segment_photo(photo, segmenter))
            truth = np.asarray(load_photo(mask_path).rgb.max(axis=2))  # any mask format, EXIF-rotated like the photo
        except PipelineError as exc:
            failures.append(f"{image_path.name}: {_reason(exc)}")
            tqdm.write(f"FAILED {failures[-1]}", file=sys.stderr)
            continue
        if truth.shape != alpha.shape:
            alpha = cv2.resize(alpha, truth.shape[::-1], interpolation=cv2.INTER_LINEAR)
        rows.append({"image": image_path.name, "iou": metrics.iou(alpha, truth),
                     "mae": metrics.mae(alpha, truth), "boundary_f": metrics.boundary_f(alpha, truth)})
    if not rows:
        print("no image could be scored", file=sys.stderr)
        return 1
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("iou", "mae", "boundary_f")}
    if args.json:
        print(json.dumps({"segmenter": config.segmenter.name, "images": rows, "mean": mean,
                          "failed": failures}, indent=2))
    else:
        width = max(len(r["image"]) for r in rows)
        print(f"{'image':<{width}}    IoU     MAE  boundary F")
        for r in rows:
            print(f"{r['image']:<{width}}  {r['iou']:.4f}  {r['mae']:.4f}  {r['boundary_f']:.4f}")
        print(f"{'mean':<{width}}  {mean['iou']:.4f}  {mean['mae']:.4f}  {mean['boundary_f']:.4f}")
    return 1 if failures else 0
