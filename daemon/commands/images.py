"""booth process / preview / eval: the pipeline from the command line.

A photo run by hand goes through the daemon's own steps (``daemon.runner``):
the same category and fields from the routes, the same cut-out, the same
confidence and review verdict. A photo inside a watched folder is routed by
its path below that folder, as the daemon routes it; elsewhere by the path
below the folder named on the command line (or ``--as`` says which path it
stands for).
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".heic", ".heif", ".avif"}


def register(sub) -> None:
    p = sub.add_parser("process", help="finish photos now, without the daemon")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photos or folders (searched recursively)")
    p.add_argument("-o", "--output", metavar="OUTDIR", help="where finished images go (default: output.dir)")
    p.add_argument("--mirror", action="store_true",
                   help="mirror the input folders under OUTDIR instead of <category>/<product>/ as the daemon does")
    p.add_argument("--as", dest="as_rel", metavar="RELPATH",
                   help="route the (single) photo as if it were at RELPATH below a watched folder")
    p.add_argument("--category", help="category profile to use (default: what the routes say)")
    p.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                   help="change a setting for this run, as `booth redo` does (e.g. refine.choke_px=1)")
    p.add_argument("--report", metavar="FILE.json", help="write every photo's outcome, confidence and verdict")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--mask-dir", metavar="DIR", help="also write each alpha as an 8-bit PNG at the input's size")
    p.set_defaults(func=process_command)

    p = sub.add_parser("preview", help="original | mask overlay | result, side by side")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", metavar="SHEET.png", required=True)
    p.add_argument("--as", dest="as_rel", metavar="RELPATH",
                   help="route the photo as if it were at RELPATH below a watched folder")
    p.add_argument("--category")
    p.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[])
    p.add_argument("--config", metavar="FILE")
    p.set_defaults(func=preview_command)

    p = sub.add_parser("eval", help="score the segmenter against ground-truth masks")
    p.add_argument("images", metavar="IMAGES_DIR")
    p.add_argument("masks", metavar="MASKS_DIR")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--segmenter", metavar="LABEL", help="a configured segmenter (default: the default one)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=eval_command)


# ----------------------------------------------------------------------------- set-up

@dataclass(frozen=True)
class Photo:
    path: Path       # as given
    rel: str         # the path the routes see
    in_watch: bool   # found inside a watched folder


def find_photos(paths: list[str], config, as_rel: str | None = None) -> list[Photo]:
    """Every image under ``paths``, each with the relative path the daemon would route it by."""
    from daemon.files import locate

    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            items = [(p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*"))
                     if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
        else:
            items = [(path, path.name)]
        for item, rel in items:
            located = locate(Path(item).absolute(), config.watch.paths)
            if as_rel:
                found.append(Photo(item, as_rel.lstrip("/"), False))
            elif located is not None:
                found.append(Photo(item, located.rel, True))
            else:
                found.append(Photo(item, rel, False))
    return found


def _unknown_category(config, name: str | None) -> bool:
    """True (after saying so) when ``--category`` names no category in the config."""
    if not name or name in config.categories:
        return False
    close = difflib.get_close_matches(name, list(config.categories), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"have: {', '.join(sorted(config.categories))}"
    print(f"unknown category {name!r} ({hint})", file=sys.stderr)
    return True


def _setup(args):
    """(config, runner, overrides), or None after saying what is wrong."""
    from daemon.cli import load_or_report
    from daemon.runner import BadOverride, Runner, Segmenters, parse_settings

    config = load_or_report(args.config)
    if config is None or _unknown_category(config, getattr(args, "category", None)):
        return None
    try:
        overrides = parse_settings(getattr(args, "settings", []) or [])
    except BadOverride as exc:
        print(exc, file=sys.stderr)
        return None
    return config, Runner(config, Segmenters(config, lazy=True)), overrides


@dataclass(frozen=True)
class Routed:
    category: str
    product: str
    fields: dict


def route(config, rel: str, forced: str | None = None, tags: dict | None = None) -> Routed:
    """The category, product and bar/alt fields of a photo, as the daemon finds
    them (by its path below the watched folder and the tags the booth wrote)."""
    from daemon.router import Router

    found = Router(config.routes).route(rel, tags)
    category = forced or found.category
    return Routed(category, found.product_key, {**found.fields, "category": category})


def photo_tags(path: Path) -> dict:
    from daemon.intake import photo_tags as read
    return read(path)


def _reason(exc: BaseException) -> str:
    from daemon.worker import describe
    return describe(exc)


# ----------------------------------------------------------------------------- process

def process_command(args) -> int:
    if (setup := _setup(args)) is None:
        return 2
    config, runner, overrides = setup
    outdir = Path(args.output) if args.output else Path(config.output.dir)
    photos = find_photos(args.paths, config, args.as_rel)
    if not photos:
        print("no photos found in " + ", ".join(args.paths), file=sys.stderr)
        return 1
    if args.as_rel and len(photos) > 1:
        print("--as names the path of one photo; give one photo with it", file=sys.stderr)
        return 2
    report, failures = [], 0
    routed = [(photo, route(config, photo.rel, args.category, photo_tags(photo.path))) for photo in photos]
    scales = set_scales(runner, overrides, routed)
    for photo, where in routed:
        entry = _process_one(config, runner, overrides, photo, where, outdir, args,
                             scales.get((where.category, where.product)))
        report.append(entry)
        failures += entry["status"] != "done"
        line = (f"{'done' if entry['status'] == 'done' else 'FAILED':<7} {photo.path}  "
                f"{entry['category']}/{entry['product']}"
                + (f"  confidence {entry['confidence']:.2f} -> {entry['verdict']}" if entry["confidence"] is not None
                   else "") + (f"  {entry['error']}" if entry.get("error") else ""))
        print(line, file=sys.stderr if entry["status"] != "done" else sys.stdout)
        for reason in entry["reasons"] if entry["verdict"] == "review" else []:
            print(f"            - {reason}")
    if args.report:
        from daemon.files import write_atomic
        write_atomic(Path(args.report), json.dumps({"photos": report}, indent=2).encode())
    done = len(photos) - failures
    held = sum(e["verdict"] == "review" for e in report if e["status"] == "done")
    print(f"{done} of {len(photos)} photos finished into {outdir}" + (f", {held} for review" if held else "")
          + (f", {failures} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


def set_scales(runner, overrides, routed: list[tuple[Photo, Routed]]) -> dict[tuple[str, str], float]:
    """(category, product) -> the scale its views share, for the categories with
    ``compose.scale: product``: the smallest any of the photos given needs (the
    daemon does the same as a product's views arrive)."""
    from daemon.runner import BadOverride
    from pipeline import PipelineError

    owns: dict[tuple[str, str], list[float]] = {}
    for photo, where in routed:
        try:
            plan = runner.plan(where.category, overrides)
            if plan.profile.compose.scale != "product":
                continue
            owns.setdefault((where.category, where.product), []).append(runner.measure(photo.path, plan))
        except (PipelineError, BadOverride, OSError):
            continue  # reported when the photo itself is processed
    return {key: min(values) for key, values in owns.items()}


def _process_one(config, runner, overrides, photo: Photo, routed: Routed, outdir: Path, args,
                 scale: float | None = None) -> dict:
    from daemon.files import fit_name, safe_name, write_atomic
    from daemon.runner import BadOverride
    from pipeline import BadPhoto, PipelineError
    from pipeline.core import full_alpha

    entry = {"input": str(photo.path), "status": "done", "category": routed.category, "product": routed.product,
             "view": routed.fields.get("view") or None, "confidence": None, "verdict": None, "reasons": [],
             "output": None, "scale": None}
    try:
        plan = runner.plan(routed.category, overrides)
        finished = runner.process(photo.path, plan, routed.fields, asked=False, scale=scale)
        name = fit_name(Path(photo.rel).stem + "." + finished.result.extension)
        target = (outdir / Path(photo.rel).parent / name) if args.mirror else (
            outdir / safe_name(routed.category) / safe_name(routed.product) / name)
        write_atomic(target, finished.result.encoded)
        if args.mask_dir:
            import cv2
            import numpy as np
            alpha = full_alpha(finished.photo, finished.result.segmentation)
            ok, png = cv2.imencode(".png", (alpha * 255 + 0.5).astype(np.uint8))
            write_atomic(Path(args.mask_dir) / Path(photo.rel).with_suffix(".png"), png.tobytes())
        entry.update(confidence=round(finished.assessment.confidence, 4), verdict=finished.verdict,
                     reasons=list(finished.reasons or finished.assessment.reasons), output=str(target),
                     scale=round(scale, 6) if scale is not None else None)
    except BadPhoto as exc:  # the daemon quarantines these
        entry.update(status="quarantined", error=_reason(exc), verdict="review")
    except (PipelineError, BadOverride, OSError) as exc:
        entry.update(status="failed", error=_reason(exc), verdict="review")
    return entry


# ----------------------------------------------------------------------------- preview

PANEL = 640


def preview_command(args) -> int:
    from pipeline import BadPhoto, PipelineError

    if (setup := _setup(args)) is None:
        return 2
    config, runner, overrides = setup
    photo = find_photos([args.image], config, args.as_rel)[0]
    routed = route(config, photo.rel, args.category, photo_tags(photo.path))
    try:
        plan = runner.plan(routed.category, overrides)
        finished = runner.process(photo.path, plan, routed.fields)
    except (PipelineError, BadPhoto, OSError, ValueError) as exc:
        print(f"{args.image}: {_reason(exc)}", file=sys.stderr)
        return 1
    verdict = f"confidence {finished.assessment.confidence:.2f}, {finished.verdict}"
    sheet = preview_sheet(finished.photo.rgb, finished.result.segmentation.alpha, finished.result.image,
                          title=f"{Path(args.image).name} - {routed.category} / {routed.product} - {verdict}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output)
    print(f"{args.output}  ({routed.category}/{routed.product}, {verdict})")
    for reason in finished.assessment.reasons:
        print(f"  - {reason}")
    return 0


def preview_sheet(rgb, alpha, result, title: str = ""):
    """Three labelled panels: the original, the mask over it, and the finished image on a checkerboard."""
    from PIL import Image, ImageDraw, ImageFont

    from pipeline import preview

    original = preview.fit(rgb, PANEL, upscale=True)
    panels = [("original", original), ("mask", preview.mask_overlay(original, alpha)),
              ("result", preview.on_checkerboard(preview.fit(result, PANEL, upscale=True)))]
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


# ----------------------------------------------------------------------------- eval

def eval_command(args) -> int:
    import cv2
    import numpy as np
    from tqdm import tqdm

    from daemon.errors import CannotCut
    from pipeline import NoCutout, PipelineError, metrics
    from pipeline.core import full_alpha, segment_photo
    from pipeline.load import load_photo

    if (setup := _setup(args)) is None:
        return 2
    config, runner, _ = setup
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
    label = args.segmenter or "default"
    try:
        segmenter = runner.segmenters.get(label)
    except (PipelineError, ValueError) as exc:
        print(f"cannot cut out: {exc}", file=sys.stderr)
        return 2
    plan = runner.plan(None)
    rows, failures = [], []
    for image_path, mask_path in tqdm(pairs, unit="photo", file=sys.stderr, disable=None):
        try:
            photo = runner.load(runner.read(image_path, plan), plan)
            cut = segment_photo(photo, segmenter)  # an empty cut-out is scored (IoU 0), not a failure
            if isinstance(cut, NoCutout):
                raise CannotCut(cut)
            alpha = full_alpha(photo, cut)
            truth = np.asarray(load_photo(mask_path.read_bytes()).rgb.max(axis=2))  # any mask format, EXIF-rotated
        except (PipelineError, OSError) as exc:
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
        print(json.dumps({"segmenter": label, "images": rows, "mean": mean, "failed": failures}, indent=2))
    else:
        width = max(len(r["image"]) for r in rows)
        print(f"{'image':<{width}}    IoU     MAE  boundary F")
        for r in rows:
            print(f"{r['image']:<{width}}  {r['iou']:.4f}  {r['mae']:.4f}  {r['boundary_f']:.4f}")
        print(f"{'mean':<{width}}  {mean['iou']:.4f}  {mean['mae']:.4f}  {mean['boundary_f']:.4f}")
    return 1 if failures else 0
