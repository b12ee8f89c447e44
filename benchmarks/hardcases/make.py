"""Writes the hard cases: studio photos with exact masks, for ``booth eval`` and
``benchmarks/confidence_eval.py``.

    python benchmarks/hardcases/make.py OUT_DIR [--size 2000] [--only STEM ...]

OUT_DIR/images/<stem>.jpg, OUT_DIR/masks/<stem>.png (the exact product coverage;
shadows and colour spill are sweep) and OUT_DIR/cases.csv (stem, split, what the
case tests and whether it is expected to be hard for white-studio). Deterministic:
the same command writes the same files. Built from the real RGBA cut-outs in
shared/testdata/pixabay_cutouts_anau and synthetic products drawn in ``render``.
The default size is 2000x2000 (white-studio segments at 1024 px whatever the
photo's size, so this keeps the run short); ``--size 4000`` gives the booth's size.

``split`` divides the cases into ``dev`` (used to choose the confidence threshold)
and ``holdout`` (only reported), one of each kind of case in the hold-out.
``--variant N`` writes a fresh variant of every case (split ``fresh``): the same
set-ups with the sweep's colour, vignetting and gradient, the shadows' and
spill's strength, the framing (zoom and shift), the noise and the JPEG quality
drawn at random from seed N -- photos nobody tuned anything on.
"""

from __future__ import annotations

import argparse
import csv
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import Layer, Scene, bezier, blob, box, cutout, cylinder, disc, merge, tube, turned  # noqa: E402

WHITE = (247, 247, 245)
BLACK = (34, 34, 37)


@dataclass(frozen=True)
class Case:
    stem: str
    build: Callable[[Scene], None]
    expect: str          # "hard: <why>" or "ok"
    note: str
    split: str = "dev"
    quality: int = 90
    noise: float = 1.5


# --------------------------------------------------------------------- clean, real cut-outs

def _soft(sc: Scene, name: str, height: float, cx: float = 0.5, base: float = 0.8, look: str = "as-is",
          sweep: dict | None = None, shadow: float = 0.35) -> Layer:
    sc.sweep(**(sweep or {}))
    layer = cutout(name, height, sc.size, cx, base, look)
    w = layer.alpha.shape[1] / sc.size
    sc.contact_shadow(cx, base - 0.005, 0.42 * w, 0.02, strength=shadow)
    sc.put(layer)
    return layer


def clock_soft(sc):
    _soft(sc, "clock", 0.5)


def lamp_soft(sc):
    _soft(sc, "lamp", 0.68, sweep=dict(colour=(241, 241, 238), vignette=0.08))


def teddy_soft(sc):
    _soft(sc, "teddy", 0.6, sweep=dict(colour=(244, 243, 241), gradient=0.04))


def van_soft(sc):
    _soft(sc, "van", 0.3, base=0.7, sweep=dict(colour=(242, 242, 240), curve=0.03))


def teddy_gradient(sc):
    _soft(sc, "teddy", 0.55, base=0.82, sweep=dict(colour=(246, 245, 242), gradient=0.1, gradient_angle=30,
                                                  curve=0.05, vignette=0.1))


def clock_vignette(sc):
    _soft(sc, "clock", 0.45, base=0.75, sweep=dict(colour=(244, 244, 242), vignette=0.22))


# --------------------------------------------------------------------- white on white

def plush_pale_bright(sc):
    _soft(sc, "teddy", 0.6, look="pale", sweep=dict(colour=(250, 250, 249), vignette=0.03), shadow=0.25)


def plush_pale_grey(sc):
    _soft(sc, "teddy", 0.58, look="pale", sweep=dict(colour=(234, 233, 230), vignette=0.06))


def van_white(sc):
    _soft(sc, "van", 0.32, base=0.72, look="white", sweep=dict(colour=(246, 246, 244), vignette=0.04))


def van_white_warm(sc):
    _soft(sc, "van", 0.3, base=0.7, look="white", sweep=dict(colour=(238, 234, 226), vignette=0.06))


def _white_lens(sc: Scene, p0, p1, radius=0.085) -> Layer:
    rings = [(0.0, 0.05, (40, 40, 42), 0), (0.05, 0.07, (160, 160, 160), 0),
             (0.52, 0.68, (32, 32, 34), 10), (0.9, 0.915, (190, 30, 30), 0)]
    return cylinder(sc.size, p0, p1, radius, WHITE, rings=rings, shine=0.12, ambient=0.7, rng=sc.rng)


def lens_white(sc):
    sc.sweep(colour=(245, 245, 243), vignette=0.05)
    sc.contact_shadow(0.5, 0.6, 0.3, 0.02)
    sc.put(_white_lens(sc, (0.2, 0.5), (0.8, 0.5)))


def lens_white_upright(sc):
    # Standing on its mount, its hood running out of the top of the frame.
    sc.sweep(colour=(246, 246, 244), vignette=0.04, gradient=0.03)
    sc.contact_shadow(0.5, 0.86, 0.12, 0.015)
    sc.put(_white_lens(sc, (0.5, 0.86), (0.5, -0.05), radius=0.1))


def _charger(sc: Scene, corner=(0.36, 0.46), port=True) -> Layer:
    return box(sc.size, corner, 0.22, 0.22, 0.12, (246, 246, 244), faces=(1.02, 0.97, 0.86), port=port)


def charger_white(sc):
    sc.sweep(colour=(245, 245, 242), vignette=0.05)
    sc.contact_shadow(0.5, 0.68, 0.16, 0.02)
    path = bezier((0.36, 0.62), (0.2, 0.66), (0.22, 0.85), (0.08, 0.9))
    sc.put(tube(sc.size, path, 0.006, WHITE, ambient=0.7))
    sc.put(_charger(sc))


def charger_white_port(sc):
    sc.sweep(colour=(242, 244, 246), vignette=0.06)
    sc.contact_shadow(0.5, 0.7, 0.16, 0.02, strength=0.3)
    sc.put(_charger(sc, corner=(0.38, 0.48)))


def _usb(sc: Scene, at, angle=0.0) -> Layer:
    """A white USB plug: a white moulding and a metal tip (pointing up)."""
    x, y = at
    body = box(sc.size, (x - 0.04, y), 0.08, 0.14, 0.02, WHITE, faces=(1.0, 0.96, 0.8))
    tip = box(sc.size, (x - 0.032, y - 0.08), 0.064, 0.08, 0.012, (205, 205, 208), faces=(1.0, 0.9, 0.75))
    return merge(sc.size, tip, body)


def cable_white(sc):
    sc.sweep(colour=(244, 244, 242), vignette=0.05)
    path = bezier((0.5, 0.42), (0.5, 0.75), (0.2, 0.55), (0.22, 0.85))
    sc.put(tube(sc.size, path, 0.007, WHITE, ambient=0.72))
    sc.put(_usb(sc, (0.5, 0.3)))


def cable_white_frame(sc):
    # Like a plug photographed from above: the cable leaves through the bottom edge.
    sc.sweep(colour=(240, 241, 243), vignette=0.04, gradient=0.04)
    path = bezier((0.52, 0.5), (0.52, 0.75), (0.4, 0.8), (0.36, 1.05))
    sc.put(tube(sc.size, path, 0.006, WHITE, ambient=0.7))
    sc.put(_usb(sc, (0.52, 0.36)))


def mug_white(sc):
    sc.sweep(colour=(246, 246, 245), vignette=0.05)
    sc.contact_shadow(0.48, 0.74, 0.16, 0.02)
    handle = bezier((0.6, 0.42), (0.74, 0.42), (0.74, 0.64), (0.6, 0.64))
    sc.put(tube(sc.size, handle, 0.018, WHITE, ambient=0.7))
    sc.put(cylinder(sc.size, (0.47, 0.74), (0.47, 0.34), 0.14, WHITE, shine=0.1, ambient=0.72))


def bulb_white_fill(sc):
    # A white bulb that fills the frame from top to bottom, like a close packshot.
    sc.sweep(colour=(250, 250, 250), vignette=0.02)
    s = sc.size
    pins = merge(s, tube(s, [(0.45, 0.86), (0.45, 1.02)], 0.012, (170, 168, 160)),
                 tube(s, [(0.55, 0.86), (0.55, 1.02)], 0.012, (170, 168, 160)))
    sc.put(pins)
    profile = [(-0.02, 0.3), (0.18, 0.3), (0.22, 0.27), (0.58, 0.13), (0.62, 0.12), (0.88, 0.12)]
    sc.put(turned(s, 0.5, profile, WHITE, ambient=0.78))


# --------------------------------------------------------------------- hard light, cast shadows

def _tripod(sc: Scene) -> Layer:
    s = sc.size
    legs = [tube(s, [(0.5, 0.34), foot], 0.0055, BLACK, texture=3, rng=sc.rng)
            for foot in ((0.3, 0.84), (0.52, 0.88), (0.7, 0.83))]
    column = tube(s, [(0.5, 0.22), (0.5, 0.52)], 0.008, (60, 60, 64))
    head = box(s, (0.46, 0.18), 0.08, 0.05, 0.03, BLACK, faces=(1.1, 1.0, 0.8), texture=3, rng=sc.rng)
    return merge(s, *legs, column, head)


def tripod_sun(sc):
    sc.sweep(colour=(242, 238, 230), vignette=0.05)
    tripod = _tripod(sc)
    sc.cast_shadow(tripod, base_y=0.87, lean=0.55, flatten=0.22, strength=0.62)
    sc.put(tripod)


def tripod_soft(sc):
    sc.sweep(colour=(243, 243, 241), vignette=0.06)
    for foot in ((0.3, 0.84), (0.52, 0.88), (0.7, 0.83)):
        sc.contact_shadow(foot[0], foot[1], 0.015, 0.006, strength=0.3, blur=0.006)
    sc.put(_tripod(sc))


def monopod_sun(sc):
    sc.sweep(colour=(240, 241, 238), vignette=0.05, gradient=0.03)
    s = sc.size
    pole = merge(s, tube(s, [(0.5, 0.14), (0.51, 0.86)], 0.0075, BLACK, texture=3, rng=sc.rng),
                 tube(s, [(0.51, 0.55), (0.512, 0.86)], 0.005, (95, 95, 98)),
                 box(s, (0.47, 0.1), 0.06, 0.04, 0.02, BLACK, faces=(1.1, 1, 0.8)),
                 tube(s, [(0.49, 0.86), (0.53, 0.86)], 0.007, BLACK))
    sc.cast_shadow(pole, base_y=0.865, lean=-0.75, flatten=0.14, strength=0.6)
    sc.put(pole)


def charger_grey_cable(sc):
    """A product's own grey cable lying on the floor from its foot, in soft light:
    shaped like a thin gear's hard floor shadow, and product."""
    sc.sweep(colour=(243, 243, 240), vignette=0.05)
    sc.contact_shadow(0.5, 0.69, 0.16, 0.02, strength=0.35)
    sc.put(tube(sc.size, bezier((0.38, 0.675), (0.28, 0.685), (0.18, 0.69), (0.04, 0.72)), 0.0045,
                (150, 150, 153), ambient=0.75, shine=0.1))
    sc.put(box(sc.size, (0.36, 0.47), 0.22, 0.22, 0.12, (60, 60, 64), faces=(1.1, 1.0, 0.85), port=True))


def monopod_grey_strap(sc):
    """A monopod in soft light with its flat grey wrist strap lying straight on the floor."""
    sc.sweep(colour=(241, 241, 239), vignette=0.05)
    sc.contact_shadow(0.51, 0.865, 0.03, 0.006, strength=0.3, blur=0.006)
    s = sc.size
    sc.put(merge(s, tube(s, [(0.5, 0.14), (0.51, 0.86)], 0.0075, BLACK, texture=3, rng=sc.rng),
                 box(s, (0.47, 0.1), 0.06, 0.04, 0.02, BLACK, faces=(1.1, 1, 0.8)),
                 tube(s, [(0.49, 0.86), (0.53, 0.86)], 0.007, BLACK),
                 tube(s, [(0.49, 0.862), (0.2, 0.83)], 0.003, (170, 170, 172), ambient=0.9, shine=0.0)))


def _bag(sc: Scene, colour=(78, 66, 58)) -> Layer:
    s = sc.size
    body = blob(s, (0.48, 0.6), 0.22, 0.16, colour, rng=sc.rng, flat_bottom=0.74, wobble=0.04)
    handle = tube(s, bezier((0.36, 0.5), (0.38, 0.28), (0.58, 0.28), (0.6, 0.5)), 0.009,
                  (45, 38, 34), texture=3, rng=sc.rng)
    return merge(s, handle, body)


def bag_sun(sc):
    sc.sweep(colour=(239, 238, 233), vignette=0.05)
    bag = _bag(sc)
    sc.cast_shadow(bag, base_y=0.74, lean=0.7, flatten=0.28, strength=0.58)
    sc.put(bag)


def bag_soft(sc):
    sc.sweep(colour=(243, 243, 240), vignette=0.06)
    sc.contact_shadow(0.48, 0.74, 0.2, 0.02)
    sc.put(_bag(sc, colour=(52, 70, 98)))


def _camera(sc: Scene, corner=(0.3, 0.42), scale=1.0) -> Layer:
    s = sc.size
    x, y = corner
    body = box(s, (x, y), 0.36 * scale, 0.2 * scale, 0.1 * scale, (42, 42, 45), faces=(1.25, 1.0, 0.75),
               texture=5, rng=sc.rng)
    top = box(s, (x + 0.02 * scale, y - 0.05 * scale), 0.1 * scale, 0.05 * scale, 0.05 * scale,
              (190, 190, 195), faces=(1.1, 1.0, 0.8))
    lens = disc(s, (x + 0.18 * scale, y + 0.1 * scale), 0.085 * scale,
                [(1.0, (25, 25, 27)), (0.82, (150, 150, 155)), (0.72, (20, 22, 30)), (0.4, (40, 50, 80))])
    return merge(s, top, body, lens)


def camera_sun_warm(sc):
    # A compact camera in hard sun on warm paper (the cast shadow is a dark slab beside it).
    sc.sweep(colour=(236, 230, 218), vignette=0.08, gradient=0.05, gradient_angle=20)
    cam = _camera(sc, corner=(0.36, 0.4))
    sc.cast_shadow(cam, base_y=0.6, lean=-0.9, flatten=0.55, strength=0.55, blur_px=3)
    sc.put(cam)


def lens_grey_sun(sc):
    sc.sweep(colour=(241, 240, 236), vignette=0.05)
    barrel = _grey_barrel(sc, (0.3, 0.56), (0.72, 0.56))
    sc.cast_shadow(barrel, base_y=0.66, lean=0.4, flatten=0.35, strength=0.55)
    sc.put(barrel)


# --------------------------------------------------------------------- grey products, not shadows

def _grey_barrel(sc: Scene, p0, p1, grey=(92, 92, 95)) -> Layer:
    rings = [(0.0, 0.06, (30, 30, 32), 0), (0.25, 0.27, (210, 210, 210), 0), (0.45, 0.62, (45, 45, 48), 12)]
    return cylinder(sc.size, p0, p1, 0.1, grey, rings=rings, shine=0.2, ambient=0.6, rng=sc.rng)


def barrel_grey(sc):
    sc.sweep(colour=(243, 243, 241), vignette=0.05)
    sc.contact_shadow(0.5, 0.62, 0.24, 0.02)
    sc.put(_grey_barrel(sc, (0.26, 0.52), (0.74, 0.52)))


def barrel_grey_plain(sc):
    # A plain, evenly lit grey barrel with little shading: the closest a product comes to a shadow.
    sc.sweep(colour=(245, 245, 243), vignette=0.04)
    sc.contact_shadow(0.5, 0.64, 0.24, 0.02)
    rings = [(0.0, 0.05, (28, 28, 30), 0), (0.3, 0.32, (200, 200, 200), 0)]
    sc.put(cylinder(sc.size, (0.26, 0.53), (0.74, 0.53), 0.1, (105, 105, 107), rings=rings, shine=0.05,
                    ambient=0.85))


# --------------------------------------------------------------------- colour spill

def mug_red_spill(sc):
    sc.sweep(colour=(244, 244, 242), vignette=0.05)
    sc.spill(0.5, 0.77, 0.22, 0.06, (255, 90, 90), strength=0.35)
    sc.contact_shadow(0.5, 0.75, 0.15, 0.015, strength=0.3)
    sc.put(cylinder(sc.size, (0.5, 0.75), (0.5, 0.35), 0.13, (205, 22, 28), shine=0.6, ambient=0.55))


def speaker_blue_spill(sc):
    sc.sweep(colour=(243, 243, 243), vignette=0.05)
    sc.spill(0.5, 0.74, 0.26, 0.07, (90, 140, 255), strength=0.35)
    sc.contact_shadow(0.5, 0.72, 0.2, 0.015, strength=0.3)
    sc.put(box(sc.size, (0.32, 0.44), 0.3, 0.28, 0.1, (30, 70, 190), faces=(1.3, 1.0, 0.8)))


# --------------------------------------------------------------------- frame edge, tiny, several

def lamp_frame_top(sc):
    _soft(sc, "lamp", 0.95, base=0.9, sweep=dict(colour=(243, 243, 240)))


def van_frame_right(sc):
    _soft(sc, "van", 0.36, cx=0.7, base=0.72, sweep=dict(colour=(244, 244, 241)))


def teddy_frame_bottom(sc):
    _soft(sc, "teddy", 0.7, base=1.08, sweep=dict(colour=(243, 242, 240)))


def clock_tiny(sc):
    _soft(sc, "clock", 0.06, cx=0.45, base=0.6)


def battery_tiny(sc):
    sc.sweep(colour=(243, 243, 240), vignette=0.05)
    sc.contact_shadow(0.55, 0.57, 0.03, 0.004, blur=0.004)
    rings = [(0.0, 0.12, (190, 190, 195), 0), (0.12, 1.0, (30, 120, 60), 0)]
    sc.put(cylinder(sc.size, (0.52, 0.555), (0.585, 0.555), 0.012, (30, 120, 60), rings=rings, shine=0.3))


def kit_camera_lens_cap(sc):
    sc.sweep(colour=(242, 242, 240), vignette=0.06)
    sc.contact_shadow(0.3, 0.56, 0.15, 0.015)
    sc.contact_shadow(0.68, 0.76, 0.12, 0.015)
    sc.put(_camera(sc, corner=(0.12, 0.36), scale=0.9))
    rings = [(0.0, 0.08, (200, 200, 205), 0), (0.3, 0.5, (28, 28, 30), 14)]
    sc.put(cylinder(sc.size, (0.55, 0.68), (0.82, 0.68), 0.075, (38, 38, 40), rings=rings, shine=0.25, rng=sc.rng))
    sc.put(disc(sc.size, (0.72, 0.28), 0.06, [(1.0, (30, 30, 32)), (0.85, (22, 22, 24)), (0.4, (60, 60, 62))]))


def clock_and_lamp(sc):
    sc.sweep(colour=(244, 244, 241), vignette=0.05)
    lamp = cutout("lamp", 0.55, sc.size, 0.3, 0.8)
    clock = cutout("clock", 0.32, sc.size, 0.7, 0.8)
    sc.contact_shadow(0.3, 0.795, 0.1, 0.015)
    sc.contact_shadow(0.7, 0.795, 0.12, 0.015)
    sc.put(lamp)
    sc.put(clock)


def camera_dark(sc):
    sc.sweep(colour=(240, 240, 238), vignette=0.06, gradient=0.06)
    sc.contact_shadow(0.48, 0.63, 0.2, 0.02)
    sc.put(_camera(sc))


CASES = [
    Case("clock_soft", clock_soft, "ok", "real cut-out, soft contact shadow"),
    Case("lamp_soft", lamp_soft, "ok", "real cut-out with see-through gaps", split="holdout"),
    Case("teddy_soft", teddy_soft, "ok", "beige plush, fur edge"),
    Case("van_soft", van_soft, "ok", "orange van, white roof", quality=85),
    Case("teddy_gradient", teddy_gradient, "ok", "strong gradient, curved sweep, vignette", split="holdout"),
    Case("clock_vignette", clock_vignette, "ok", "heavy vignetting", quality=95),
    Case("camera_dark", camera_dark, "ok", "dark camera on a gradient sweep"),
    Case("bag_soft", bag_soft, "ok", "blue fabric bag, soft light", split="holdout"),
    Case("tripod_soft", tripod_soft, "hard: thin legs", "tripod, soft light: gaps between the legs stay open"),
    Case("barrel_grey", barrel_grey, "ok", "grey lens barrel (a product, not a shadow)"),
    Case("barrel_grey_plain", barrel_grey_plain, "ok", "plain evenly lit grey barrel", split="holdout"),
    Case("plush_pale_bright", plush_pale_bright, "hard: white on white", "pale plush on a bright sweep"),
    Case("plush_pale_grey", plush_pale_grey, "hard: white on white", "pale plush, darker sweep", split="holdout"),
    Case("van_white", van_white, "hard: white on white", "white van: lower body, wheel arches"),
    Case("van_white_warm", van_white_warm, "hard: white on white", "white van on warm paper", split="holdout"),
    Case("lens_white", lens_white, "hard: white on white", "white telephoto lens, side on"),
    Case("lens_white_upright", lens_white_upright, "hard: white on white, frame edge",
         "white lens upright, hood out of the frame", split="holdout"),
    Case("charger_white", charger_white, "hard: white on white", "white charger and cable"),
    Case("charger_white_port", charger_white_port, "hard: white on white", "white charger, cool sweep",
         split="holdout"),
    Case("cable_white", cable_white, "hard: white on white", "white USB plug and cable"),
    Case("cable_white_frame", cable_white_frame, "hard: white on white, frame edge",
         "white plug, cable leaving the frame", split="holdout"),
    Case("mug_white", mug_white, "hard: white on white", "white mug with handle"),
    Case("bulb_white_fill", bulb_white_fill, "hard: white on white, frame edge", "white bulb filling the frame",
         split="holdout"),
    Case("tripod_sun", tripod_sun, "hard: cast shadow", "tripod in hard light, shadows of its legs"),
    Case("monopod_sun", monopod_sun, "hard: cast shadow", "monopod in hard light", split="holdout"),
    Case("bag_sun", bag_sun, "hard: cast shadow", "bag in hard light"),
    Case("charger_grey_cable", charger_grey_cable, "hard: thin gear", "grey cable on the floor (not a shadow)"),
    Case("monopod_grey_strap", monopod_grey_strap, "hard: thin gear", "grey strap straight on the floor (not a shadow)",
         split="holdout"),
    Case("camera_sun_warm", camera_sun_warm, "hard: cast shadow", "camera in sun on warm paper", quality=85),
    Case("lens_grey_sun", lens_grey_sun, "hard: cast shadow, grey product", "grey barrel and its hard shadow",
         split="holdout"),
    Case("mug_red_spill", mug_red_spill, "hard: colour spill", "glossy red mug tints the sweep"),
    Case("speaker_blue_spill", speaker_blue_spill, "hard: colour spill", "glossy blue box tints the sweep",
         split="holdout"),
    Case("lamp_frame_top", lamp_frame_top, "frame edge", "lamp's top cut by the frame"),
    Case("van_frame_right", van_frame_right, "frame edge", "van running off the right edge", split="holdout"),
    Case("teddy_frame_bottom", teddy_frame_bottom, "frame edge", "plush cut by the bottom edge"),
    Case("clock_tiny", clock_tiny, "tiny", "clock at 6% of the frame", split="holdout"),
    Case("battery_tiny", battery_tiny, "tiny", "a battery, 7% of the frame wide"),
    Case("kit_camera_lens_cap", kit_camera_lens_cap, "several", "camera, lens and cap"),
    Case("clock_and_lamp", clock_and_lamp, "several", "two real cut-outs side by side", split="holdout"),
]


def write_case(case: Case, out: Path, size: int, variant: int = 0) -> None:
    seed = zlib.crc32(case.stem.encode()) + 7919 * variant
    scene = Scene(size, np.random.default_rng(seed), jitter=variant > 0)
    case.build(scene)
    jpeg, mask = scene.photo(noise=case.noise, quality=case.quality)
    (out / "images" / f"{case.stem}.jpg").write_bytes(jpeg)
    cv2.imwrite(str(out / "masks" / f"{case.stem}.png"), mask)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, metavar="OUT_DIR")
    parser.add_argument("--size", type=int, default=2000, help="side of the square photos in pixels (default 2000)")
    parser.add_argument("--only", nargs="+", metavar="STEM", help="write only these cases")
    parser.add_argument("--variant", type=int, default=0,
                        help="0: the cases as designed; N > 0: a fresh variant with sweep, light, shadows, framing "
                             "and noise varied at random (split 'fresh'), for validation")
    args = parser.parse_args(argv)
    if args.size < 256:
        parser.error("--size must be at least 256")
    known = {c.stem for c in CASES}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"no case called {', '.join(unknown)}")
    for sub in ("images", "masks"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    chosen = [c for c in CASES if not args.only or c.stem in args.only]
    split = (lambda case: case.split) if args.variant == 0 else (lambda case: "fresh")
    for case in chosen:
        write_case(case, args.out, args.size, args.variant)
        print(f"{case.stem:22s} {split(case):8s} {case.expect}")
    with open(args.out / "cases.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["stem", "split", "expect", "note", "size"])
        for case in CASES:  # every case written to this folder, now or by an earlier run
            if (args.out / "images" / f"{case.stem}.jpg").is_file():
                writer.writerow([case.stem, split(case), case.expect, case.note, args.size])
    return 0


if __name__ == "__main__":
    sys.exit(main())
