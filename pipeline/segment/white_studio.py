"""The embedded segmenter for photos on a light photo sweep: no model, just
the sweep.

The sweep is fitted from the photo's border as a smooth surface in CIELAB
(a low-order polynomial, so vignetting and light fall-off stay background),
then each pixel is judged against it:

- product: its own colour (chroma off the sweep and off the sweep's shadows;
  a shadow is the sweep, darker, with the sweep's chroma scaled down), darker
  than any shadow gets, much brighter than the sweep, a sharp lightness edge or
  fine texture (shadows are smooth; this is what finds white on white), or a
  grain clearly coarser than the sweep's own noise (a pale plush's fur);
  coloured light spilled on the sweep (light, smooth, fading, no edge round
  it) is not the product's colour;
- lit sweep: within a small colour difference of the fit;
- shade: everything else, smooth and neutral -- a shadow, or a smooth part of
  the product. Shade that the product surrounds is product; shade that fades
  out into the lit sweep is shadow. A hard cast shadow darker than that is
  told from a black product by being flat and lying between its caster and
  the lit sweep.

Enclosed holes are filled unless they look see-through -- lit sweep that
matches the fit closely, wide enough, rimmed by solid product (a strap loop stays open, a white product's
interior inside its outline is filled) --, what a white product's outline
nearly closes (its gaps bridged, closed along the frame where it runs into it,
or within its hull) is filled where the surface behaves unlike the sweep (off
the fit, or shaded by its shape), specks too small to be a product
are dropped, and the edge is made soft
by a local two-colour fit (product colour against the background right next to
it), which places it to a fraction of a working pixel. Everything runs at the
working resolution with vectorised numpy/OpenCV operations.

A photo whose border is not a light sweep (a black backdrop, a scene) gets the
honest answer: a ``NoCutout`` value (kind ``no-sweep``), which the daemon quarantines with its reason.

Every cut-out carries white-studio's own doubts about it (``Segmentation.doubts``,
see ``measure``): outline stretches where the photo shows no edge (a white
product running on into the sweep, or spilled coloured light), a white
product's inside missing between its outline's lines, a kept cast shadow, and
a backdrop the sweep fit does not explain. ``pipeline.confidence`` weighs them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BeforeValidator, Field

from pipeline.profile import Params
from pipeline.segment.base import NO_SWEEP, Doubt, NoCutout, Segmentation, downsample

_FIT_CELLS = 64  # the sweep is fitted on a grid this many cells along the long side
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_RIM = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))  # how far round a hole its rim is judged
_BEYOND_RIM = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25))  # ...and what lies past a thin rim
_PAST_ENCLOSED = 0.9  # a hole whose thin rim has this share of another enclosed area past it goes through a part
_MIN_PAST = 20        # ...judged from at least this many pixels past the rim
# How far round a flat dark patch its rim is judged: past the band its texture
# blur leaves at its edge (4 px), a hard penumbra and the JPEG ringing beside it.
_SHADOW_REACH = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))
_PENUMBRA = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (19, 19))  # how far from the lit sweep a penumbra reaches
_GRAIN = 2.5          # texture this many times the sweep's own noise is a surface of the product (fur, fabric)
_SEAM = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))  # a line this thin across a face is a seam
_HOLE_GRAIN = 1.6     # grain over the sweep's noise past which a lit hole is a white surface, not see-through
_GRAIN_MARGIN = 8     # working pixels from the frame within which a coarse patch counts as reaching it
_CLIPPED = 99.5       # L* of a pixel blown out to white
_BUSY = 1.0           # mean |Laplacian| (L*) of the border's smoothest min_sweep_border past which it is no sweep
_GRAIN_FLOOR = 0.1    # mean |Laplacian| (L*) of a camera's noise on a lit sweep, the least a sweep is taken to have
_GRAIN_REACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # how far an edge's curvature reaches
_OUTLINE_GAP = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))  # widest gap bridged in a white product's outline
_RIM_OUTLINE = 0.3    # an area nearly closed by the product is a white part when this share of its rim is outline
_FRAME_OUTLINE = 0.5  # ...and at least this share of its rim is outline
_FRAME_CLOSE = 0.5    # an area whose frame edge is under this share of its rim is closed along the frame
_FRAME_INSIDE = 0.9   # ...when this share of it lies within the hull of the product's parts
_FIRM = 0.5           # ...or when this share of its rim is the product's outline, solid and thick parts
_FRAME_FIRM_CLOSE = 1.0  # ...and its frame edge at most this share of its rim (a white barrel's end above a ring)
_HULL_FIRM_OUTLINE = 0.15  # inside the hull such an area, off the frame, is closed with this share outline
_UPRIGHT = 4.0       # a flat patch this many times taller than wide stands up: a product part, not a shadow
_GRAIN_SPECK = 0.02   # a separate part under this share of the largest, found by grain alone, is the floor's
_PEEL = 2             # working pixels of the cut-out's rim that may be the sweep an edge's gradient spread onto
_PEEL_MATCH = 1.2     # ...when they match the fitted sweep within this delta E (its noise)
_PEEL_BEYOND = 4      # ...or this many when they match the backdrop right beyond them (a strong step's spread)
_GRAIN_LOW = 1.8      # inside the product's hull, touching it and lit, grain this much over the sweep's noise is its surface
_GRAIN_LIGHT = 0.95   # ...lighter than this share of the sweep (a shadow's noise is coarser)
_PORES = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # the gaps in a patchy grain closed
# Texture at the scale of a fur's strands (a difference of Gaussians, sigma 1 and 2
# working pixels): the lit fur of a pale plush, about as bright as the sweep, has too
# little pixel-scale grain (a camera's noise fills that band) but plenty at this scale.
_WEAVE_SCALES = (1.0, 2.0)
_WEAVE_FLOOR = 0.02   # mean |difference of Gaussians| (L*) of a camera's noise, the least a sweep is taken to have
_WEAVE_REACH = 24     # working pixels round the product within which the sweep's own is read
_WEAVE_SAMPLE = 200   # ...from at least this many of its lit pixels
_WEAVE = 1.5          # inside the hull, touching the product and lit, this much over the sweep's is its surface
_WEAVE_OFF = 0.8      # ...on a patch this far off the sweep on average (delta E): fibres shade each other
_WEAVE_CONTACT = 0.3  # ...running on from it along this share of the patch's rim
_WEAVE_HOLE = 1.2     # a hole left in that surface is more of it when its texture averages this much
_WEAVE_WINDOW = (7, 7)  # working pixels over which it is averaged: a surface's weave is a regional trait
_WEAVE_BANDS = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # patches thinner than this are an edge's halo
_WEAVE_CLEAR = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))  # ...and so is the texture this near a solid part
_HULL_OPEN = 0.5      # an area the hull closes is open sweep when the hull's side is over this share of its rim
_RUN_IN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))  # a flat lit patch this wide in a filled area is sweep running in
_RUN_IN_FLANK = 12    # ...as is one that meets the frame with the product this close on both sides along it
_MIN_SHADED = 50      # pixels: an area with fewer away from its rim shows too little to call it shaded
_SHADING = 0.05       # lightness change per working pixel (smoothed) of a shaded surface; the fitted sweep is flatter
_SPILL_LIGHT = 0.8    # spilled light dims the sweep little: lighter than this share of its lightness
_SPILL_AREA = 0.0004  # smaller patches of light colour are left as they are (glints, print)
_SPILL_RING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # how far round a patch of colour its rim is read
_SPILL_FADE = 0.3     # chroma per working pixel: spilled light fades slower, a colour edge is steeper
_SPILL_SPREAD = 0.5   # chroma standard deviation over a patch under which its tint is steady: a product's face
_SPILL_RIM_EDGE = 0.4  # a patch of colour whose outer rim has a sharp edge along less than this share fades: spill
_RAMP_SCALE = 4.0    # working pixels: the coarse scale a shadow's ramp is read at
_RAMP = 0.7          # a ramp keeps more than this share of its gradient there; a step keeps about a third
_STEP = 0.4          # ...and a step under this share (a white face's faint edge: 0.2-0.35)
_FAINT = 0.4         # a step down to this share of edge_threshold is an edge, where it bridges the outline's gaps
_BRIDGE = cv2.getStructuringElement(cv2.MORPH_RECT, (31, 31))  # ...within this reach of the other evidence
_FAINT_LINE = 0.05   # ...or, anywhere, along a line in from the frame's edge this long (share of the long side)
_FAINT_JOIN = np.ones((5, 5), np.uint8)  # ...whose breaks under 5 px are bridged
_MIN_CONTRAST = 20.0  # sRGB distance under which product and background colours are too alike to mix
_LAB_SCALE = np.array([[100 / 255, 0, 0, 0], [0, 1, 0, -128], [0, 0, 1, -128]], np.float32)


def _shadow_mode(value: object) -> object:
    """``auto`` / ``true`` / ``false``, from YAML booleans or a redo's strings."""
    if isinstance(value, str):
        word = value.strip().lower()
        return {"true": True, "on": True, "yes": True, "1": True,
                "false": False, "off": False, "no": False, "0": False}.get(word, word)
    return value


ShadowMode = Annotated[Literal["auto", True, False], BeforeValidator(_shadow_mode)]


class WhiteStudioParams(Params):
    working_size: int = Field(1024, ge=256, le=4096, description="long side in pixels the photo is segmented at")
    border: float = Field(0.04, gt=0, le=0.25, description="width of the border strip the sweep is first fitted on, fraction of the long side")
    surface_degree: int = Field(2, ge=0, le=3, description="degree of the polynomial surface fitted to the sweep (vignetting, fall-off)")
    sweep_tolerance: float = Field(3.0, gt=0, le=30, description="colour difference (CIELAB delta E) within which a pixel is the lit sweep")
    chroma_tolerance: float = Field(5.0, gt=0, le=50, description="chroma off the sweep and its shadows that marks the product's own colour")
    shadow_tint: float = Field(12.0, ge=0, le=100, description="extra chroma a shadow may pick up from light bounced off the product, per unit of darkening")
    brighter_tolerance: float = Field(15.0, gt=0, le=100, description="lightness (L*) above the fitted sweep that marks product; a little brighter is a patch of the sweep")
    shadow_floor: float = Field(0.4, ge=0, lt=1, description="darkest a shadow gets, as a fraction of the sweep's lightness; darker is product")
    edge_threshold: float = Field(2.0, gt=0, le=50, description="lightness gradient (L* per working pixel) that marks a product edge; shadow edges are softer")
    texture_threshold: float = Field(1.0, gt=0, le=50, description="mean lightness curvature (|Laplacian|, L*) that marks product texture; shadows are smooth")
    hard_shadows: ShadowMode = Field("auto", description="hard cast shadows (hard, directional light): auto drops "
                                     "a flat dark patch only where the photo's evidence says shadow (tint, place "
                                     "at the product's base, backdrop above it); true drops every one the shape "
                                     "rule finds, false none")
    cast_shadow_texture: float = Field(0.6, ge=0, le=50, description="lightness curvature under which 95% of a flat patch darker than shadow_floor must lie for it to be a hard cast shadow")
    cast_shadow_lit: float = Field(0.45, ge=0, le=1, description="...and at least this share of its rim is lit sweep (and a sixth or more the product casting it)")
    cast_shadow_floor: float = Field(0.12, ge=0, le=1, description="...and it is on average at least this fraction of the sweep's lightness (ambient light reaches a shadow)")
    cast_shadow_area: float = Field(0.004, ge=0, le=1, description="...and it covers at least this fraction of the photo; a smaller flat dark patch is a product part")
    shade_open_share: float = Field(0.25, ge=0, le=1, description="a smooth shadow-toned patch is product when less than this share of its rim is lit sweep")
    hole_sweep_share: float = Field(0.5, gt=0, le=1, description="an enclosed hole stays open when at least this share of it is lit sweep")
    hole_rim_solid: float = Field(0.3, ge=0, le=1, description="...and at least this share of its rim is solid product, not just an outline")
    hole_min_width: float = Field(8.0, ge=0, le=100, description="...and is at least this wide in working pixels (a glint on glass is a thin slit)")
    hole_match: float = Field(1.2, gt=0, le=30, description="...and its median colour is within this delta E of the fitted sweep (a white panel is a shade or tint off it)")
    min_object: float = Field(0.0004, ge=0, lt=0.5, description="smallest object (or hole) kept, fraction of the photo's area; smaller specks are dust")
    edge_band: int = Field(3, ge=1, le=16, description="half-width in working pixels of the band where the edge is made soft")
    min_sweep_lightness: float = Field(45.0, ge=0, le=100, description="a backdrop darker than this (L*) is not a light sweep: no cut-out is made")
    min_sweep_border: float = Field(0.3, gt=0, le=1, description="share of the border that must fit one smooth sweep, else no cut-out is made")


@dataclass(frozen=True)
class SweepFit:
    """The fitted sweep at working resolution: ``lab`` float32 HxWx3 (L* 0..100,
    a*, b*), ``rgb`` float32 HxWx3 sRGB 0..255 and its ``grey`` level HxW."""

    lab: np.ndarray
    rgb: np.ndarray
    grey: np.ndarray


@dataclass(frozen=True)
class Judgement:
    """Per-pixel verdicts at working resolution, uint8 0/1 masks: ``evidence``
    of product, ``lit`` sweep, ``solid`` product (its own colour or too dark
    for a shadow, as opposed to an edge or texture alone), the product's own
    ``colour``, and ``dark_smooth``: darker than ``shadow_floor`` yet smooth and
    on the sweep's colour line, a black product or a hard cast shadow, and the
    float32 lightness ``texture`` (mean |Laplacian|) and ``ratio`` of lightness
    to the sweep's, the HxWx3 Lab ``offset`` from the fitted sweep, and how
    ``coarse`` the local grain is against the sweep's own noise (float32, 1 = the
    sweep's; 0 near sharp edges, where it is not read)."""

    evidence: np.ndarray
    lit: np.ndarray
    solid: np.ndarray
    colour: np.ndarray
    dark_smooth: np.ndarray
    texture: np.ndarray
    ratio: np.ndarray
    offset: np.ndarray
    coarse: np.ndarray

    def crop(self, box: tuple[slice, slice]) -> "Judgement":
        """The same verdicts over ``box`` only."""
        return Judgement(*(getattr(self, f.name)[box] for f in fields(Judgement)))


class WhiteStudioSegmenter:
    """Segments a photo on a light sweep. ``segment`` takes an HxWx3 uint8 sRGB
    photo, never modifies it, and returns alpha, the fitted sweep and the
    photo's own shadow at the working resolution (long side ``working_size``).
    Without a light sweep it returns ``NoCutout``: there is nothing to cut against."""

    name = "white-studio"

    def __init__(self, params: WhiteStudioParams = WhiteStudioParams()) -> None:
        self.params = params
        r = params.edge_band
        self._band_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        self._close_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def segment(self, rgb: np.ndarray) -> Segmentation | NoCutout:
        _check(rgb)
        p = self.params
        small = np.ascontiguousarray(downsample(rgb, p.working_size))
        lab = to_lab(small)
        sweep = fit_sweep(lab, p)
        if sweep is None:
            return NoCutout(NO_SWEEP, "the photo's border is not a light sweep (dark or busy backdrop): "
                            "white-studio cannot cut it out; reshoot on the sweep or use an ONNX model")
        seen = judge(lab, sweep, p)
        if _busy(seen.texture, p):
            return NoCutout(NO_SWEEP, "the photo's border is textured all over, not a smooth sweep (a busy scene "
                            "or a garbled photo): white-studio cannot cut it out; reshoot on the sweep or use an "
                            "ONNX model")
        mask, floor_lines = self.regions(seen, sweep, lab)
        alpha = two_colour_alpha(small, mask, self._band_kernel, 4 * p.edge_band + 1)
        doubts = doubts_from(measure(small, lab, sweep, seen, alpha, p, floor_lines))
        return Segmentation(alpha=alpha, background=sweep.rgb, shadow=own_shadow(small, sweep, alpha), doubts=doubts)

    def regions(self, seen: Judgement, sweep: SweepFit, lab: np.ndarray) -> tuple[np.ndarray, float]:
        """Product regions (uint8 0/1) from the per-pixel verdicts, the fitted
        ``sweep`` and the photo's ``lab`` (``hard_shadows`` weighs a shadow's tint
        against the sweep's), and the share of them left out as a thin gear's
        floor shadow (``_floor_lines``: a strap on the floor looks the same)."""
        p = self.params
        min_area = p.min_object * seen.lit.size
        if p.hard_shadows is True:
            seen = drop_cast_shadows(seen, p, min_area)
        claimed = claim_enclosed_shade(seen.evidence, seen.lit, p.shade_open_share)
        closed = cv2.morphologyEx(claimed, cv2.MORPH_CLOSE, self._close_kernel)
        # Solid: the product's own colour or darkness, or anything thicker than
        # an outline.
        solid = seen.solid | cv2.erode(closed, self._band_kernel)
        filled = fill_holes(closed, seen.lit, solid, seen.offset, p, min_area, seen.coarse)
        filled = close_outlines(filled, seen, p, min_area)
        floor_lines = 0.0
        if p.hard_shadows is not False:
            filled, floor_lines = drop_kept_shadows(filled, lab, seen, sweep, min_area)
        # Last, on the product's own parts: its light grain inside their hull, then
        # the sweep its edges' gradient spread onto peeled off.
        kept = grow_grain(drop_specks(filled, min_area, seen), seen, min_area)
        return peel_sweep_rim(kept, seen, min_area), floor_lines


def _check(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"white-studio needs an HxWx3 uint8 sRGB array, got {got}")


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 CIELAB (L* 0..100, a*, b* around 0)."""
    return cv2.transform(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32), _LAB_SCALE)


# --- the sweep ---------------------------------------------------------------

def fit_sweep(lab: np.ndarray, p: WhiteStudioParams) -> SweepFit | None:
    """Fits the sweep as a polynomial surface per Lab channel: first robustly on
    the border strip (rejecting what the product covers where it touches the
    frame), then on every grid cell that matches that first fit, so a curved
    sweep is modelled by the sweep itself. None when the border is not a light
    sweep."""
    h, w = lab.shape[:2]
    gw, gh = _grid_size(w, h)
    cells = cv2.resize(lab, (gw, gh), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    terms = _poly_terms(gw, gh, p.surface_degree)
    strip = _strip(gw, gh, p.border).ravel()
    coef, fits = _robust_fit(terms[strip], cells[strip])
    if fits.mean() < p.min_sweep_border:
        return None
    residual = np.linalg.norm(_apply(terms, coef) - cells, axis=1)
    matching = residual < p.sweep_tolerance
    if matching.sum() > 2 * terms.shape[1]:
        coef, _ = _robust_fit(terms[matching], cells[matching])
    surface = _apply(terms, coef).reshape(gh, gw, 3).astype(np.float32)
    surface[..., 0] = np.clip(surface[..., 0], 0.0, 100.0)
    if np.median(surface[..., 0]) < p.min_sweep_lightness:
        return None
    rgb = np.clip(cv2.cvtColor(surface, cv2.COLOR_Lab2RGB) * 255.0, 0.0, 255.0)
    size = (w, h)
    return SweepFit(lab=cv2.resize(surface, size, interpolation=cv2.INTER_LINEAR),
                    rgb=cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR),
                    grey=cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_LINEAR))


def _grid_size(w: int, h: int) -> tuple[int, int]:
    scale = _FIT_CELLS / max(w, h)
    return max(4, round(w * scale)), max(4, round(h * scale))


def _poly_terms(gw: int, gh: int, degree: int) -> np.ndarray:
    """Monomials x^i y^j (i + j <= degree) at the cell centres, x and y in [-1, 1]."""
    x = (np.arange(gw) + 0.5) / gw * 2 - 1
    y = (np.arange(gh) + 0.5) / gh * 2 - 1
    xx, yy = np.meshgrid(x, y)
    xx, yy = xx.ravel(), yy.ravel()
    return np.stack([xx ** i * yy ** j for i in range(degree + 1) for j in range(degree + 1 - i)], axis=1)


def _busy(texture: np.ndarray, p: WhiteStudioParams) -> bool:
    """Whether even the smoothest ``min_sweep_border`` of the border strip has
    a fine texture (``_BUSY``) no sweep has: the cells the fit reads average a
    busy scene or a garbled photo out to a flat grey, its pixels do not (real
    sweeps measured 0-0.22, a bag's fabric filling the frame 0.57, noise 2.3)."""
    h, w = texture.shape
    strip = _strip(w, h, p.border)
    return float(np.quantile(texture[strip], p.min_sweep_border)) > _BUSY


def _strip(gw: int, gh: int, border: float) -> np.ndarray:
    n = max(1, round(border * max(gw, gh)))
    strip = np.ones((gh, gw), bool)
    strip[n:-n, n:-n] = False
    return strip


def _robust_fit(terms: np.ndarray, values: np.ndarray, rounds: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Least squares that drops outliers (product cells) round by round. It
    starts from the cells near the median colour, so a product covering less
    than half the strip cannot drag the fit. Returns the coefficients and
    which cells fit."""
    dist = np.linalg.norm(values - np.median(values, axis=0), axis=1)
    keep = dist <= max(4.0, 2.5 * np.median(dist))
    coef = np.zeros((terms.shape[1], 3))
    for _ in range(rounds):
        if keep.sum() < terms.shape[1]:
            break
        coef = _least_squares(terms[keep], values[keep])
        dist = np.linalg.norm(_apply(terms, coef) - values, axis=1)
        keep = dist <= max(1.5, 3.0 * 1.4826 * np.median(dist[keep]))
    return coef, keep


def _least_squares(terms: np.ndarray, values: np.ndarray) -> np.ndarray:
    # Normal equations with einsum: a few thousand rows by at most ten terms
    # does not need LAPACK, and a threaded BLAS only spins on a busy machine.
    gram = np.einsum("ij,ik->jk", terms, terms) + 1e-9 * np.eye(terms.shape[1])
    return np.linalg.solve(gram, np.einsum("ij,ik->jk", terms, values))


def _apply(terms: np.ndarray, coef: np.ndarray) -> np.ndarray:
    return np.einsum("ij,jk->ik", terms, coef)


# --- per-pixel judgement -----------------------------------------------------

def judge(lab: np.ndarray, sweep: SweepFit, p: WhiteStudioParams) -> Judgement:
    """Judges every pixel of the working image (float32 Lab) against the sweep."""
    L, a, b = cv2.split(lab)
    Ls, As, Bs = cv2.split(sweep.lab)
    ratio = L / np.maximum(Ls, 1.0)
    shade = np.minimum(ratio, 1.0)
    # A shadow keeps the sweep's hue with its chroma scaled by the darkening.
    off_chroma = cv2.magnitude(a - shade * As, b - shade * Bs)
    dl = L - Ls
    # Light bounced off the product tints its shadow: allow more the darker it is.
    colour = off_chroma > p.chroma_tolerance + p.shadow_tint * (1.0 - shade)
    tone = (ratio < p.shadow_floor) | (dl > p.brighter_tolerance)
    lit = (np.abs(dl) < p.sweep_tolerance) & (off_chroma < p.sweep_tolerance)
    edges, curvature = edges_and_curvature(L)
    texture = cv2.blur(curvature, (5, 5))
    # Shadows are smooth: a sharp edge or fine texture is the product (this is
    # what finds a white product on white), as long as it is not the lit sweep,
    # and so is a grain clearly coarser than the sweep's own noise.
    coarse = coarseness(L, curvature, texture, edges, lit, p)
    # The edge's shape tells a shadow's rim from a product's edge: read at a coarser
    # scale a smooth ramp of shade keeps its gradient, a step loses most of it. A
    # ramp as steep as an edge (a small product's tight contact shadow) is not evidence;
    # a faint step (a white face barely off the sweep) is, as a line one pixel wide
    # where it bridges the gaps of the product's outline, not farther out (a glossy
    # floor's far edge is as faint), or as a long line in from the frame's edge.
    broad = coarse_gradient(L)
    ramp = (broad > _RAMP * edges) & (ratio < 1.0) & ~colour
    detail = ((edges > p.edge_threshold) & ~ramp) | ((texture > p.texture_threshold) & ~lit) | grainy(coarse, ratio)
    # Coloured light spilled on the sweep is the sweep, tinted: not the product's own colour.
    colour &= ~spilled_light(colour, off_chroma, ratio, edges, texture, p)
    faint = (edges > _FAINT * p.edge_threshold) & (edges <= p.edge_threshold) & (broad < _STEP * edges)
    detail |= _faint_lines(_ridge(faint, edges, L), cv2.dilate((colour | tone | detail).view(np.uint8), _BRIDGE) > 0)
    # JPEG blocks speckle a smooth shadow with texture; over a wider window it is flat.
    dark_smooth = (ratio < p.shadow_floor) & ~colour & (cv2.blur(texture, (9, 9)) < p.texture_threshold)
    return Judgement(evidence=(colour | tone | detail).view(np.uint8), lit=lit.view(np.uint8),
                     solid=(colour | tone).view(np.uint8), colour=colour.view(np.uint8),
                     dark_smooth=dark_smooth.view(np.uint8), texture=texture, ratio=ratio,
                     offset=lab - sweep.lab, coarse=coarse)


def _ridge(candidate: np.ndarray, edges: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """bool: the ``candidate`` pixels where ``edges`` peaks across the edge (its
    greatest value along the gradient's direction, in four directions): the
    line of the edge itself, one pixel wide, not the band its blur spreads over."""
    out = np.zeros(candidate.shape, bool)
    ys, xs = np.nonzero(candidate)
    if len(ys) == 0:
        return out
    # Its direction from differences two pixels either side (steadier than one against noise).
    pad = np.pad(lightness, 2, mode="edge")
    gx = pad[ys + 2, xs + 4] - pad[ys + 2, xs]
    gy = pad[ys + 4, xs + 2] - pad[ys, xs + 2]
    # The neighbour step along the gradient, rounded to one of the eight directions
    # (0.414 = tan 22.5 degrees): across, down, or along a diagonal.
    ax, ay = np.abs(gx), np.abs(gy)
    across, down = ay <= 0.414 * ax, ax <= 0.414 * ay
    dy = np.where(across, 0, 1)
    dx = np.where(down, 0, np.where(across | (gx * gy >= 0), 1, -1))
    mag = np.pad(edges, 1, mode="edge")
    here = mag[ys + 1, xs + 1]
    out[ys, xs] = (here >= mag[ys + 1 + dy, xs + 1 + dx]) & (here >= mag[ys + 1 - dy, xs + 1 - dx])
    return out


def _faint_lines(line: np.ndarray, near: np.ndarray) -> np.ndarray:
    """bool: the faint steps' ``line`` pixels that are evidence: those ``near``
    other evidence, where they bridge the outline's gaps, and whole lines (gaps
    under ``_FAINT_JOIN`` pixels bridged) at least ``_FAINT_LINE`` of the
    photo's long side that run in from the frame's edge: the lit side of a
    product that fills the frame (a white bulb lit from its side) can be as
    light as the sweep but for a faint step, with nothing else in reach to
    bridge, while a glossy floor's or a reflection's far edge, as faint, lies
    beside the product and ends on the sweep."""
    n, labels = cv2.connectedComponents(cv2.dilate(line.view(np.uint8), _FAINT_JOIN), connectivity=8)
    if n <= 1:
        return line & near
    long = np.bincount(labels[line], minlength=n) >= _FAINT_LINE * max(line.shape)
    frame = np.zeros(n, bool)
    frame[_on_border(labels)] = True
    long &= frame
    long[0] = False
    return line & (near | long[labels])


def coarse_gradient(lightness: np.ndarray) -> np.ndarray:
    """float32: the lightness gradient (L* per working pixel) read at the coarse
    scale ``_RAMP_SCALE``. Against the fine one (``edges_and_curvature``) it tells
    a smooth ramp of shade (a soft shadow's rim: it keeps its strength) from a
    step (a product's edge: it spreads out and drops to about a third)."""
    # At half resolution: at that scale it is smooth, and a quarter of the work.
    h, w = lightness.shape
    half = cv2.GaussianBlur(cv2.resize(lightness, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA),
                            (0, 0), _RAMP_SCALE / 2)
    coarse = cv2.magnitude(cv2.Sobel(half, cv2.CV_32F, 1, 0, ksize=3, scale=0.0625),
                           cv2.Sobel(half, cv2.CV_32F, 0, 1, ksize=3, scale=0.0625))
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def coarseness(lightness: np.ndarray, curvature: np.ndarray, texture: np.ndarray, edges: np.ndarray,
               lit: np.ndarray, p: WhiteStudioParams) -> np.ndarray:
    """float32: the local fine texture (``curvature``, |Laplacian| per pixel)
    against the sweep's own noise (1 = the sweep's ``texture`` on the ``lit``
    sweep). Clearly coarser (``_GRAIN``) is a surface of the product (a pale
    plush's fur on a white sweep). It is measured away from sharp ``edges``
    (they are evidence already; their curvature would only fatten the outline)."""
    if not lit.any():
        return np.zeros(lit.shape, np.float32)
    # A sample is plenty for a median. A sweep blown out to pure white has had its noise
    # clipped away, and what grain is left round it is the JPEG's: it is not read there.
    # A noiseless (retouched) sweep is judged against a camera's noise.
    sample = texture[::4, ::4][lit[::4, ::4]]
    if np.count_nonzero(lightness[::4, ::4][lit[::4, ::4]] >= _CLIPPED) > 0.5 * len(sample):
        return np.zeros(lit.shape, np.float32)
    level = max(float(np.median(sample)), _GRAIN_FLOOR)
    calm = (cv2.dilate((edges > p.edge_threshold).view(np.uint8), _GRAIN_REACH) == 0).view(np.uint8)
    # The mean over about 9x9 calm pixels, taken at half resolution: a surface's grain is a regional trait.
    h, w = calm.shape
    half = ((w + 1) // 2, (h + 1) // 2)
    share = cv2.blur(cv2.resize(calm.astype(np.float32), half, interpolation=cv2.INTER_AREA), (5, 5))
    total = cv2.blur(cv2.resize(curvature * calm, half, interpolation=cv2.INTER_AREA), (5, 5))
    local = cv2.resize(total / np.maximum(share, 1e-3), (w, h), interpolation=cv2.INTER_LINEAR)
    share = cv2.resize(share, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where((share > 0.5) & (calm > 0), local / level, 0.0).astype(np.float32)


def grainy(coarse: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """bool: the patches clearly coarser than the sweep (``_GRAIN``) that do not
    reach the frame's edge: a backdrop coarser than the lit sweep (a wall, a
    table, a paper sweep's fibre) runs on out of the photo; a product's surface
    is bounded by its outline. A camera's noise grows in L* as the light falls
    (a shadow is noisier than the lit sweep), so the bar rises with the darkening
    (``ratio``, lightness against the sweep's)."""
    coarse_enough = coarse > _GRAIN
    coarse_enough[coarse_enough] = scaled_grain(coarse[coarse_enough], ratio[coarse_enough]) > _GRAIN
    n, labels, stats, _ = cv2.connectedComponentsWithStats(coarse_enough.view(np.uint8), connectivity=8)
    if n <= 1:
        return coarse_enough
    x, y, w, h = (stats[:, i] for i in range(4))
    height, width = coarse.shape
    m = _GRAIN_MARGIN  # the grain is not read right at the frame (the window runs off it)
    keep = (x > m) & (y > m) & (x + w < width - m) & (y + h < height - m)
    if keep[1:].all():
        return coarse_enough
    keep[0] = False
    return keep[labels]


def scaled_grain(coarse: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """The grain against the sweep's noise (``coarse``), weighed down where the
    light falls (``ratio``): a camera's noise grows in shadow."""
    return coarse * np.maximum(ratio, 0.25)


def spilled_light(colour: np.ndarray, chroma: np.ndarray, ratio: np.ndarray, edges: np.ndarray, texture: np.ndarray,
                  p: WhiteStudioParams) -> np.ndarray:
    """bool: coloured light spilled or reflected on the sweep (under a glossy
    product): light (no darker than ``_SPILL_LIGHT`` of the sweep), smooth and
    without edges inside, its tint (``chroma`` off the sweep) changing only
    gradually as it fades with distance, and no edge along its outer rim. A
    pale product of that colour has an edge all round it and a steady or
    sharply bounded colour, and a product's own darker colour is not light."""
    calm = colour & (ratio >= _SPILL_LIGHT) & (edges <= p.edge_threshold) & (texture < p.texture_threshold)
    found = np.zeros(colour.shape, bool)
    if np.count_nonzero(calm) < _SPILL_AREA * calm.size:
        return found
    n, labels, stats, _ = cv2.connectedComponentsWithStats(calm.view(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= _SPILL_AREA * calm.size
    big[0] = False
    if not big.any():
        return found
    # Only the patches big enough to matter, in their box.
    box = _around(big[labels], _SPILL_RING.shape[0])
    colour, chroma, edges, light = colour[box], chroma[box], edges[box], ratio[box] >= _SPILL_LIGHT
    labels = np.where(big[labels[box]], labels[box], 0)
    area = np.bincount(labels.ravel(), minlength=n)
    # Its rim: the ring just outside it that is not itself its own colour.
    near = cv2.dilate(labels.astype(np.float32), _SPILL_RING).astype(np.int32)
    rim = (labels == 0) & (near > 0) & ~colour
    owner = near[rim]
    rim_len = np.bincount(owner, minlength=n)
    rim_edge = np.bincount(owner[edges[rim] > p.edge_threshold], minlength=n)
    fade = cv2.GaussianBlur(chroma, (0, 0), 2.0)
    steep = cv2.magnitude(cv2.Sobel(fade, cv2.CV_32F, 1, 0, ksize=3, scale=0.125),
                          cv2.Sobel(fade, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)) > _SPILL_FADE
    sharp = np.bincount(labels[steep], minlength=n)
    # It fades with distance from the product: its tint varies; a product's face is one steady tint.
    mean = np.bincount(labels.ravel(), weights=chroma.ravel(), minlength=n) / np.maximum(area, 1)
    spread = np.bincount(labels.ravel(), weights=(chroma * chroma).ravel(), minlength=n) / np.maximum(area, 1) - mean ** 2
    spill = (big & (rim_edge < _SPILL_RIM_EDGE * rim_len) & (sharp < 0.1 * area)
             & (spread > _SPILL_SPREAD ** 2))
    spill[0] = False
    # And its fringe by the product's base, which the product's edge blurs into texture.
    fringe = cv2.dilate(spill[labels].view(np.uint8), _SPILL_RING) > 0
    found[box] = fringe & colour & light & (edges <= p.edge_threshold)
    return found


def edges_and_curvature(lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude (L* per pixel) and |Laplacian| per pixel after a
    light blur that quiets JPEG noise (its 5x5 mean is the texture). A soft
    shadow has a gradient but almost no curvature; fur or fabric has plenty of both."""
    smooth = cv2.GaussianBlur(lightness, (5, 5), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return cv2.magnitude(gx, gy), np.abs(cv2.Laplacian(smooth, cv2.CV_32F, ksize=1))


# --- regions -----------------------------------------------------------------

def drop_cast_shadows(seen: Judgement, p: WhiteStudioParams, min_area: float) -> Judgement:
    """Takes hard cast shadows out of the product evidence. A shadow in direct
    light can be darker than ``shadow_floor``, but it stays the sweep times a
    factor: on the sweep's colour line, and flat inside (no grain, no print, no
    highlights) where a black product has its material's texture. It lies
    between the product that casts it and the lit sweep: a good share of its
    rim is lit sweep (through its penumbra) and a good share is the caster.
    A flat black product alone on the sweep has no caster along its rim and
    stays product, as does a dark patch the product mostly surrounds."""
    dark = seen.dark_smooth
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=4)
    area = stats[:, cv2.CC_STAT_AREA]
    big = area >= p.cast_shadow_area * dark.size
    big[0] = False
    if not big.any():
        return seen
    flat = np.bincount(labels.ravel(), weights=seen.texture.ravel() < p.cast_shadow_texture, minlength=n)
    level = np.bincount(labels.ravel(), weights=seen.ratio.ravel(), minlength=n)
    candidate = big & (flat >= 0.95 * area) & (level >= p.cast_shadow_floor * area)
    if not candidate.any():
        return seen
    near = cv2.dilate(np.where(candidate[labels], labels, 0).astype(np.float32), _SHADOW_REACH).astype(np.int32)
    rim = (near > 0) & (dark == 0)
    owner = near[rim]
    rim_len = np.bincount(owner, minlength=n)
    # Rim pixels within a penumbra of the lit sweep face it; the rest is the caster.
    facing = cv2.dilate(seen.lit, _PENUMBRA) > 0
    rim_lit = np.bincount(owner[facing[rim]], minlength=n)
    caster = np.bincount(owner[(seen.evidence[rim] > 0) & ~facing[rim]], minlength=n)
    shadow = candidate & (rim_lit >= p.cast_shadow_lit * rim_len) & (caster >= 0.15 * rim_len)
    if not shadow.any():
        return seen
    # The shadow and its penumbra up to the lit sweep, not the caster's own colour.
    penumbra = shadow[near] & (seen.colour == 0) & facing
    clear = (shadow[labels] | penumbra).view(np.uint8)
    keep = 1 - clear
    return replace(seen, evidence=seen.evidence & keep, solid=seen.solid & keep)


def claim_enclosed_shade(evidence: np.ndarray, lit: np.ndarray, open_share: float) -> np.ndarray:
    """Adds to ``evidence`` the shade patches the product surrounds. A patch
    that is neither product evidence nor lit sweep is a shadow or a smooth part
    of the product: a shadow fades out into the lit sweep along much of its
    rim, a smooth part of the product is rimmed by the product (with at most a
    small gap). Patches whose rim is less than ``open_share`` lit are claimed."""
    shade = (1 - evidence) & (1 - lit)
    n, labels = cv2.connectedComponents(shade, connectivity=4)
    if n <= 1:
        return evidence
    # Each rim pixel is credited to one patch next to it (the highest label).
    near = cv2.dilate(labels.astype(np.float32), _CROSS).astype(np.int32)
    rim = (shade == 0) & (near > 0)
    owner = near[rim]
    rim_len = np.bincount(owner, minlength=n)
    rim_lit = np.bincount(owner[lit[rim] > 0], minlength=n)
    claim = (rim_len > 0) & (rim_lit < open_share * rim_len)
    claim[0] = False
    if not claim.any():
        return evidence
    return evidence | claim[labels].view(np.uint8)


def fill_holes(mask: np.ndarray, lit: np.ndarray, solid: np.ndarray, offset: np.ndarray,
               p: WhiteStudioParams, min_area: float, coarse: np.ndarray) -> np.ndarray:
    """Fills the enclosed holes of ``mask`` (uint8 0/1) unless they look
    see-through (``_see_through``): the gap in a strap or a tripod stays open,
    a product's uniform interior is filled, and so is a white product's
    interior that only its outline encloses, and two see-through holes that
    only a light line parts (a face exactly the sweep's colour with a seam
    across it). Holes under ``min_area`` pixels are filled whatever they show,
    like specks outside."""
    n, labels = cv2.connectedComponents(1 - mask, connectivity=4)
    fill = np.ones(n, bool)
    fill[0] = False  # label 0 is the mask itself
    fill[_on_border(labels)] = False  # not enclosed
    if not fill.any():
        return mask
    area = np.bincount(labels.ravel(), minlength=n)
    sweep = np.bincount(labels[lit > 0], minlength=n)
    candidates = np.flatnonzero(fill & (area >= min_area) & (sweep >= p.hole_sweep_share * area))
    inner = np.where(fill[labels], labels, -1)  # each enclosed area's label, -1 elsewhere
    open_ = [k for k in candidates if _see_through(labels == k, mask, solid, offset, p, coarse, inner, k)]
    fill[open_] = False
    # Two see-through holes parted only by a light line are one face with a seam across it.
    if len(open_) > 1:
        holes = np.where(np.isin(labels, open_), labels, 0).astype(np.float32)
        high = cv2.dilate(holes, _SEAM)  # the highest and lowest hole label within reach
        low = cv2.erode(np.where(holes > 0, holes, np.float32(n)), _SEAM)
        seam = (mask > 0) & (solid == 0) & (high > low)
        for a, b in set(zip(high[seam].astype(int), low[seam].astype(int))):
            fill[a] = fill[b] = True
    return mask | fill[labels].view(np.uint8)


def _see_through(hole: np.ndarray, mask: np.ndarray, solid: np.ndarray, offset: np.ndarray,
                 p: WhiteStudioParams, coarse: np.ndarray, inner: np.ndarray, k: int) -> bool:
    """Whether a lit hole (label ``k`` of ``inner``, the enclosed areas' labels,
    -1 elsewhere) is a gap in the product rather than a white patch on it: wide
    enough to see through (a glint on glass is a thin slit), continuing the
    fitted sweep precisely, and rimmed by solid product, not just by an
    outline -- or by an outline with another enclosed area past it all round:
    the unfound white surface of a ring or a handle the hole goes through (a
    white patch's outline has the sweep or the product's found parts past it).
    Lit only means within ``sweep_tolerance``; a white panel sits a steady
    shade or tint off the sweep (its own paint, its own angle to the light),
    where the sweep seen through a loop matches the fit to its noise."""
    if float(np.linalg.norm(np.median(offset[hole], axis=0))) > p.hole_match:
        return False
    # The sweep seen through a hole has the sweep's own noise; a white surface has its grain.
    if float(np.median(coarse[hole])) > _HOLE_GRAIN:
        return False
    r = _BEYOND_RIM.shape[0] // 2
    x, y, w, h = cv2.boundingRect(hole.view(np.uint8))
    box = np.s_[max(y - r, 0):y + h + r, max(x - r, 0):x + w + r]
    hole = hole[box].view(np.uint8)
    if cv2.distanceTransform(hole, cv2.DIST_L2, 3).max() < p.hole_min_width / 2:
        return False
    rim = (cv2.dilate(hole, _RIM) > hole) & (mask[box] > 0)
    if not rim.any():
        return False
    if float(solid[box][rim].mean()) >= p.hole_rim_solid:
        return True
    past = inner[box][(cv2.dilate(hole, _BEYOND_RIM) > hole) & (mask[box] == 0)]
    return len(past) >= _MIN_PAST and float(np.mean((past >= 0) & (past != k))) >= _PAST_ENCLOSED


def close_outlines(mask: np.ndarray, seen: Judgement, p: WhiteStudioParams, min_area: float) -> np.ndarray:
    """Fills what a white product's outline nearly closes: its gaps (up to
    ``_OUTLINE_GAP`` pixels, where its edge matched the sweep) bridged, the
    outline closed along the frame edge where it runs into it, or its parts'
    convex hulls where longer stretches are missing. Such an area is filled
    when it is mostly rimmed by outline (thin, light, colourless lines, not
    solid product) and its surface behaves unlike the sweep: it sits a steady
    shade or tint off the fit, or carries shading that follows its shape. A
    real hole (a strap loop, the gap between a plug's pins) shows the sweep:
    the fit continued, flat, to its noise."""
    if not mask.any():
        return mask
    # Work on the product's box; what reaches the box's side inside the frame is open sweep.
    box = _around(mask, 2 * _OUTLINE_GAP.shape[0])
    whole, mask = mask, mask[box]
    seen = seen.crop(box)
    wide = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _OUTLINE_GAP, borderType=cv2.BORDER_REPLICATE)
    outline = _outline(mask, seen)
    if not outline.any():
        return whole
    open_area = 1 - wide
    n, labels = cv2.connectedComponents(open_area, connectivity=4)
    hull = _hulls(mask, min_area)
    on_frame = _on_frame(labels, n, box, whole.shape)
    # What the frame closes lies within the product's hull; the backdrop round a
    # product that fills the photo reaches the frame too, outside it.
    inside = np.bincount(labels[hull > 0], minlength=n)
    on_frame[(on_frame > 0) & (inside < _FRAME_INSIDE * np.bincount(labels.ravel(), minlength=n))] += labels.size
    # Firm: outline, or product that is solid or thicker than an outline (with its soft edge).
    firm = outline | ((mask > 0) & (cv2.dilate(seen.solid | _thick(mask), _PORES) > 0))
    found = _outline_closed(labels, n, wide, outline, min_area, on_frame, firm=firm)
    hull_n, hull_labels = cv2.connectedComponents(open_area & hull, connectivity=4)
    # Within the hull too, an area along the frame is closed only where the frame closes it,
    # and one whose side is mostly the hull's own straight line (the wedge between a cable and
    # the body it leaves) is open sweep: a white part missing a stretch of outline is mostly rimmed.
    along_hull = np.bincount(hull_labels[cv2.dilate(1 - hull, _CROSS) > 0], minlength=hull_n)
    found |= _outline_closed(hull_labels, hull_n, wide, outline, min_area,
                             _on_frame(hull_labels, hull_n, box, whole.shape), along_hull, firm)
    if not found.any():
        return whole
    shading = cv2.GaussianBlur(seen.offset[..., 0], (0, 0), 3.0)
    shaded = cv2.magnitude(cv2.Sobel(shading, cv2.CV_32F, 1, 0, ksize=3, scale=0.125),
                           cv2.Sobel(shading, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)) > _SHADING
    # Shading is read away from the rim: the smoothing would carry the outline's own edge in.
    far = cv2.erode(found.view(np.uint8), _OUTLINE_GAP) > 0
    n, labels = cv2.connectedComponents(found.view(np.uint8), connectivity=4)
    fill = np.zeros(n, bool)
    frame_sides = [side for side, is_frame in _box_sides(box, whole.shape) if is_frame]
    at_frame = np.zeros(labels.shape, bool)
    for side in frame_sides:
        at_frame[side] = True
    for k in range(1, n):
        inside = labels == k
        deep = far & inside
        shaped = np.count_nonzero(shaded & deep) > 0.3 * max(np.count_nonzero(deep), _MIN_SHADED)
        # Off the fit alone is not enough along the frame: a backdrop the fit does not
        # explain (a wall, a table) runs out of the photo too; a product's surface is shaded.
        steady = (float(np.median(np.linalg.norm(seen.offset[inside], axis=1))) > p.hole_match
                  and not (inside & at_frame).any())
        fill[k] = shaped or steady
    if not fill.any():
        return whole
    filled = fill[labels]
    filled &= ~_sweep_run_in(filled, wide, shaded, seen.lit, frame_sides)
    bridge = (wide > mask) & (cv2.dilate(filled.view(np.uint8), _OUTLINE_GAP) > 0)
    out = whole.copy()
    out[box] |= (filled | bridge).view(np.uint8)
    return out


def _sweep_run_in(filled: np.ndarray, wide: np.ndarray, shaded: np.ndarray, lit: np.ndarray,
                  frame_sides: list) -> np.ndarray:
    """bool: the parts of the ``filled`` areas that are the sweep running in
    from outside them: patches that are flat (not ``shaded``) and ``lit``,
    at least ``_RUN_IN`` wide, that touch the open sweep beyond (across the
    hull's straight side, or an area left open), or that meet the frame's
    edge (``frame_sides``, indices into the box) between two parts of the
    product that run out of it (the sweep between a bulb's pins), with their
    rim. A gap in an outline joins such a patch to the product's inside (the
    wedge between a white bulb's chamfer and its pins), and the hull closes
    the sweep between a plush's ears. A white face's own flat, lit stretch
    (a cylinder's highlight) meets the frame between its shaded parts."""
    flat = cv2.morphologyEx((filled & ~shaded & (lit > 0)).view(np.uint8), cv2.MORPH_OPEN, _RUN_IN)
    if not flat.any():
        return np.zeros(filled.shape, bool)
    n, patches = cv2.connectedComponents(flat, connectivity=4)
    outside = cv2.dilate(((wide == 0) & ~filled).view(np.uint8), _CROSS) > 0
    runs_in = np.zeros(n, bool)
    runs_in[patches[outside & (flat > 0)]] = True
    product = (wide > 0) & ~filled
    for side in frame_sides:
        runs_in[_between_parts(patches[side], product[side], _RUN_IN_FLANK)] = True
    runs_in[0] = False
    return cv2.dilate(runs_in[patches].view(np.uint8), _RUN_IN) > 0


def _between_parts(labels: np.ndarray, product: np.ndarray, reach: int) -> list[int]:
    """The labels along a line (a frame edge) whose runs have ``product``
    within ``reach`` pixels on both sides."""
    change = np.flatnonzero(np.diff(labels)) + 1
    return [int(labels[a]) for a, b in zip(np.r_[0, change], np.r_[change, len(labels)])
            if labels[a] and product[max(a - reach, 0):a].any() and product[b:b + reach].any()]


def _box_sides(box: tuple[slice, slice], shape: tuple[int, ...]):
    """(each side of a box as an index into it, whether that side is the frame's edge)."""
    rows, cols = box
    yield np.s_[0, :], rows.start == 0
    yield np.s_[-1, :], rows.stop >= shape[0]
    yield np.s_[1:-1, 0], cols.start == 0
    yield np.s_[1:-1, -1], cols.stop >= shape[1]


def _on_frame(labels: np.ndarray, n: int, box: tuple[slice, slice], shape: tuple[int, ...]) -> np.ndarray:
    """Per label, its pixels on the frame's edge; a label that reaches a side
    of the box inside the frame is open sweep, counted past any bar."""
    counts = np.zeros(n, np.int64)
    for side, is_frame in _box_sides(box, shape):
        counts += np.bincount(labels[side], minlength=n) * (1 if is_frame else labels.size)
    return counts


def _hulls(mask: np.ndarray, min_area: float) -> np.ndarray:
    """uint8: the convex hull of the mask's parts that are big or long, all
    together (a white product's outline can break into separate lines)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    big = [c for c in contours
           if cv2.contourArea(c) >= min_area or cv2.arcLength(c, True) >= 0.05 * max(mask.shape)]
    hull = np.zeros_like(mask)
    if big:
        cv2.fillConvexPoly(hull, cv2.convexHull(np.concatenate(big)), 1)
    return hull


def _outline_closed(labels: np.ndarray, n: int, wide: np.ndarray, outline: np.ndarray, min_area: float,
                    on_frame: np.ndarray | None, along_hull: np.ndarray | None = None,
                    firm: np.ndarray | None = None) -> np.ndarray:
    """bool: the areas of ``labels`` (not the product) that are at least
    ``min_area``, mostly rimmed by outline, and (with ``on_frame``, their
    pixels on the frame's edge) enclosed, or closed along the frame edge:
    touching it along less than ``_FRAME_CLOSE`` of their rim, or along less
    than ``_FRAME_FIRM_CLOSE`` where ``firm`` (outline, or product solid or
    thicker than an outline) rims them mostly (``_FIRM``): a product cut by
    the frame rims what it encloses there with whatever it is made of. With
    ``along_hull`` (their pixels on the side of the hull they lie in) open
    there along at most ``_HULL_OPEN`` of their rim, and closed off the frame
    where ``firm`` rims them mostly and outline along ``_HULL_FIRM_OUTLINE``
    (a white lens's end beside its ring)."""
    if n <= 1:
        return np.zeros(labels.shape, bool)
    area = np.bincount(labels.ravel(), minlength=n)
    near = cv2.dilate(labels.astype(np.float32), _CROSS).astype(np.int32)
    rim = (wide > 0) & (near > 0)
    owner = near[rim]
    rim_len = np.bincount(owner, minlength=n)
    rim_outline = np.bincount(owner[outline[rim]], minlength=n)
    keep = (area >= min_area) & (rim_outline >= _RIM_OUTLINE * np.maximum(rim_len, 1))
    firmly = np.zeros(n, bool)
    if firm is not None:
        firmly = (area >= min_area) & (np.bincount(owner[firm[rim]], minlength=n) >= _FIRM * rim_len)
    if on_frame is not None:
        # Closing one along the frame assumes more: its rim must be mostly outline.
        keep &= (on_frame <= _FRAME_CLOSE * rim_len) & ((on_frame == 0) | (rim_outline >= _FRAME_OUTLINE * rim_len))
        keep |= firmly & (on_frame > 0) & (on_frame <= _FRAME_FIRM_CLOSE * rim_len)
    if along_hull is not None:
        # Inside the hull, one rimmed mostly by the product, part of it outline, is closed too.
        keep |= firmly & (on_frame == 0) & (rim_outline >= _HULL_FIRM_OUTLINE * rim_len)
        keep &= along_hull <= _HULL_OPEN * rim_len
    keep[0] = False
    return keep[labels]


def grow_grain(mask: np.ndarray, seen: Judgement, min_area: float) -> np.ndarray:
    """Adds the patches of weaker grain (over ``_GRAIN_LOW`` of the sweep's
    noise, under the bar for a surface) that touch the cut-out inside the hull
    of its parts and are about as light as the sweep: the lightest, least
    shaded fur of a pale plush on a bright sweep, which its outline and the
    rest of it enclose. So do the patches woven at a strand's scale (``weave``)
    and a shade off the sweep, and the holes left inside them that are woven
    too. Outside the hull (a wall's or a floor's texture) and in shade (a
    shadow's noise) such grain is not read."""
    if not mask.any():
        return mask
    box = _around(mask, _PORES.shape[0])  # the hull lies within the product's box
    strands = weave(seen, box)
    part, seen = mask[box], seen.crop(box)
    hull = _hulls(mask, min_area)[box]  # which parts count as long is read against the frame
    light = seen.ratio > _GRAIN_LIGHT
    weak = (((scaled_grain(seen.coarse, seen.ratio) > _GRAIN_LOW) | _woven(strands, seen, part, light))
            & (hull > 0) & (part == 0) & light).view(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    if n <= 1:
        return mask
    touch = np.zeros(n, bool)
    touch[labels[(cv2.dilate(part, _CROSS) > 0) & (weak > 0)]] = True
    touch[0] = False
    grown = part | touch[labels].view(np.uint8)
    # Its grain is patchy: close the pores, within the hull, and fill the wider
    # gaps it encloses that are woven like it (the sweep seen through a real
    # hole has the sweep's noise, and its colour).
    grown |= cv2.morphologyEx(grown, cv2.MORPH_CLOSE, _PORES) & hull
    n, labels = cv2.connectedComponents((grown == 0).view(np.uint8), connectivity=4)
    enclosed = np.ones(n, bool)
    enclosed[_on_border(labels)] = False
    enclosed[0] = False  # the grown product itself
    if enclosed.any():
        holes = enclosed[labels]
        at = labels[holes]
        enclosed &= _label_means(at, n, strands[holes]) > _WEAVE_HOLE
        enclosed &= _label_means(at, n, _delta_e(seen.offset[holes])) > _WEAVE_OFF
        enclosed &= _label_means(at, n, light[holes]) > 0.5
        grown |= enclosed[labels].view(np.uint8)
    out = mask.copy()
    out[box] = grown
    return out


def weave(seen: Judgement, box: tuple[slice, slice]) -> np.ndarray:
    """float32 over ``box``: the texture at a fur's strands' scale
    (``_WEAVE_SCALES``) against the lit sweep's own round the product, 0 near
    sharp edges, near solid parts (``_WEAVE_CLEAR``) and wherever ``coarse`` is
    not read (a sweep blown out to white keeps only the JPEG's texture),
    averaged over ``_WEAVE_WINDOW`` of calm pixels."""
    rows, cols = box
    h, w = seen.lit.shape
    r = _WEAVE_REACH
    big = (slice(max(rows.start - r, 0), min(rows.stop + r, h)), slice(max(cols.start - r, 0), min(cols.stop + r, w)))
    calm = (seen.coarse[big] > 0).view(np.uint8)
    # Beside a solid part (dark, or of its own colour) the sweep carries its edge's
    # blur and the JPEG's ringing: not read there.
    calm &= (cv2.dilate(seen.solid[big], _WEAVE_CLEAR) == 0).view(np.uint8)
    lightness = np.ascontiguousarray(seen.offset[big][..., 0])  # off the sweep: the same texture on a flat base
    fine, broad = _WEAVE_SCALES
    band = np.abs(cv2.GaussianBlur(lightness, (0, 0), fine) - cv2.GaussianBlur(lightness, (0, 0), broad))
    sweep = band[(seen.lit[big] > 0) & (calm > 0)]
    out = np.zeros(seen.lit[box].shape, np.float32)
    if len(sweep) < _WEAVE_SAMPLE:
        return out
    level = max(float(np.median(sweep)), _WEAVE_FLOOR)
    share = cv2.blur(calm.astype(np.float32), _WEAVE_WINDOW)
    total = cv2.blur(np.minimum(band, 4 * level) * calm, _WEAVE_WINDOW)  # a stray edge weighs little
    local = np.where((share > 0.5) & (calm > 0), total / np.maximum(share, 1e-3) / level, 0.0)
    y, x = rows.start - big[0].start, cols.start - big[1].start
    out[:] = local[y:y + out.shape[0], x:x + out.shape[1]]
    return out


def _woven(strands: np.ndarray, seen: Judgement, part: np.ndarray, light: np.ndarray) -> np.ndarray:
    """bool: the patches of ``strands`` over ``_WEAVE`` (scaled like the grain for
    the light's fall), their pores closed, that are not thin bands (the halo a
    faint edge's blur leaves on the sweep beside it), lie on average a shade off
    the sweep (``_WEAVE_OFF`` delta E: fibres shade each other) and run on from the
    ``part`` along ``_WEAVE_CONTACT`` of their rim or more (fur beside fur; a
    clump of the sweep's noise meets it at a corner)."""
    found = ((scaled_grain(strands, seen.ratio) > _WEAVE) & (part == 0) & light).view(np.uint8)
    found = cv2.morphologyEx(found, cv2.MORPH_CLOSE, _PORES) & (part == 0)
    found = cv2.morphologyEx(found, cv2.MORPH_OPEN, _WEAVE_BANDS)
    n, labels = cv2.connectedComponents(found, connectivity=8)
    if n <= 1:
        return found > 0
    inside = found > 0
    rim = np.bincount(labels[inside & (cv2.erode(found, _CROSS) == 0)], minlength=n)
    contact = np.bincount(labels[inside & (cv2.dilate(part, _CROSS) > 0)], minlength=n)
    keep = _label_means(labels[inside], n, _delta_e(seen.offset[inside])) > _WEAVE_OFF
    keep &= contact >= _WEAVE_CONTACT * rim
    keep[0] = False
    return keep[labels]


def _label_means(labels: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """The mean of ``values`` per label (0..n-1) over the pixels given (0 where none)."""
    return np.bincount(labels, values.astype(np.float64), n) / np.maximum(np.bincount(labels, minlength=n), 1)


def _delta_e(offset: np.ndarray) -> np.ndarray:
    """The length of each Lab offset (the last axis): its delta E."""
    return np.sqrt(np.einsum("...c,...c->...", offset, offset))


def drop_specks(mask: np.ndarray, min_area: float, seen: Judgement) -> np.ndarray:
    """Removes connected parts smaller than ``min_area`` pixels (dust, noise),
    and the small separate parts (under ``_GRAIN_SPECK`` of the largest) that
    only grain found: neither the product's colour nor dark, mostly just
    coarser than the sweep (a patch of the floor's texture beside the product).
    Every other part is kept, so several products survive, and a small part of
    one (a cap, a clip) has its own colour or darkness, or an outline."""
    if not mask.any():
        return mask
    box = _around(mask, 1)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask[box], connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    drop = area < min_area
    drop[0] = False
    small = ~drop & (area < _GRAIN_SPECK * area[1:].max(initial=0))
    small[0] = False
    if small.any():
        at = np.nonzero(small[labels])  # only the small parts' pixels are read
        owner = labels[at]
        coarse, ratio, solid = seen.coarse[box][at], seen.ratio[box][at], seen.solid[box][at]
        grain = np.bincount(owner[scaled_grain(coarse, ratio) > _GRAIN], minlength=n)
        firm = np.bincount(owner[solid > 0], minlength=n)
        drop |= small & (grain >= 0.5 * area) & (firm < 0.3 * area)
    if not drop.any():
        return mask
    out = mask.copy()
    out[box] &= (~drop[labels]).view(np.uint8)
    return out


def peel_sweep_rim(mask: np.ndarray, seen: Judgement, min_area: float) -> np.ndarray:
    """Peels off the rim pixels that are not solid and match what lies beyond
    them: an edge's gradient spreads a few pixels onto the backdrop, and where
    there is no colour for the soft edge to mix (white on white, a grey
    product's rim on its own shadow) the cut-out kept them (a thin white cable
    came out 2-3 working pixels too wide on each side, a small battery 4-5
    into its contact shadow). A rim pixel goes when it matches the fitted
    sweep to its noise (within ``_PEEL_MATCH`` delta E, up to ``_PEEL`` deep),
    or the open backdrop right beyond it, the sweep outside the product's hull
    or a shade (up to ``_PEEL_BEYOND`` deep). A pale rim of the product itself
    (chrome, white plastic) sits a shade or a tint off both and stays; so does
    the rim along a lit gap inside the hull, which may be the product's own
    unfound surface (a pale plush's fur)."""
    if not mask.any():
        return mask
    box = _around(mask, 2)
    peeled, offset = mask[box], seen.offset[box]
    dark = seen.solid[box] & ~seen.colour[box]  # too dark for a shade: product whatever lies beyond
    # Matched pixel by pixel, or over 3x3 where the noise averages out (a noisy
    # pixel would stay behind as a spur).
    near = cv2.blur(offset, (3, 3))
    # The backdrop: the sweep outside the hull, or a shade that is open to it (a
    # contact shadow), not an enclosed hole (an unfound patch of a white diffuser).
    _, around = cv2.connectedComponents((peeled == 0).view(np.uint8), connectivity=4)
    open_ = np.isin(around, _on_border(around))
    backdrop = ((_hulls(mask, min_area)[box] == 0) | ((seen.lit[box] == 0) & open_)) & (peeled == 0)
    framed = np.pad(offset, ((1, 1), (1, 1), (0, 0))).reshape(-1, 3)  # a ring of nothing round the box
    for depth in range(max(_PEEL, _PEEL_BEYOND)):
        at = np.nonzero((peeled > 0) & (cv2.erode(peeled, _CROSS) == 0) & (dark == 0))
        gone = np.zeros(len(at[0]), bool)
        if depth < _PEEL:
            gone |= _within(offset[at], near[at], 0.0)
        if depth < _PEEL_BEYOND:
            count, beyond = _mean_beyond(framed, backdrop | (mask[box] > peeled), at)  # peeled: backdrop
            gone |= (count > 0) & _within(offset[at], near[at], beyond)
        if not gone.any():
            break
        peeled = peeled.copy()
        peeled[at[0][gone], at[1][gone]] = 0
    out = mask.copy()
    out[box] = peeled
    return out


def _mean_beyond(framed: np.ndarray, backdrop: np.ndarray, at: tuple) -> tuple[np.ndarray, np.ndarray]:
    """How many of the 8 neighbours of each pixel ``at`` are ``backdrop`` (bool
    HxW), and the mean of their values (``framed``: the (H+2)*(W+2) x 3 values
    padded by one pixel, flat), read at those pixels only (a rim is a small
    share of the box)."""
    width = backdrop.shape[1] + 2
    seen = np.pad(backdrop, 1).ravel()
    where = (at[0] + 1) * width + at[1] + 1
    count = np.zeros(len(where), np.float32)
    total = np.zeros((len(where), framed.shape[1]), np.float32)
    for step in (-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1):
        k = where + step
        hit = seen[k]
        count += hit
        total[hit] += framed[k[hit]]
    return count, total / np.maximum(count, 1.0)[:, None]


def _within(offset: np.ndarray, near: np.ndarray, target: np.ndarray | float) -> np.ndarray:
    """bool: the pixel's colour (``offset`` from the sweep) or its 3x3 mean
    (``near``) is within ``_PEEL_MATCH`` delta E of ``target``."""
    return ((np.linalg.norm(offset - target, axis=1) < _PEEL_MATCH)
            | (np.linalg.norm(near - target, axis=1) < _PEEL_MATCH))


# --- soft edge and shadow ----------------------------------------------------

def two_colour_alpha(rgb: np.ndarray, region: np.ndarray, kernel: np.ndarray, window: int) -> np.ndarray:
    """Soft alpha around the edge of ``region`` (uint8 0/1). Pixels deeper than
    ``kernel`` inside are product, deeper outside are background; each pixel of
    the band between is read as a mix of the product colour and the background
    colour right next to it (local means over ``window``), which puts the edge
    between working pixels and leaves the photo's shadow outside. Where the two
    colours are too alike to tell apart, the region's own edge is used."""
    inner = cv2.erode(region, kernel)
    grown = cv2.dilate(region, kernel)
    alpha = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 0.7)
    alpha[inner > 0] = 1.0
    alpha[grown == 0] = 0.0
    band = np.nonzero(grown > inner)
    if len(band[0]) == 0:
        return alpha
    fg, fg_seen = _local_mean(rgb, inner, window, band)
    bg, bg_seen = _local_mean(rgb, 1 - grown, window, band)
    img = rgb[band].astype(np.float32)
    contrast = fg - bg
    c2 = np.einsum("ij,ij->i", contrast, contrast)
    mix = np.einsum("ij,ij->i", img - bg, contrast) / np.maximum(c2, 1e-3)
    # A pixel on the far side of the background from the product, and well off
    # it, is no mix of the two (a white cable's dark outline beside its lit
    # face): the region's edge stays there.
    beyond = (mix < 0) & (np.einsum("ij,ij->i", img - bg, img - bg) > _MIN_CONTRAST ** 2)
    known = (c2 > _MIN_CONTRAST ** 2) & fg_seen & bg_seen & ~beyond
    alpha[band] = np.where(known, np.clip(mix, 0.0, 1.0), alpha[band])
    return alpha


def _local_mean(rgb: np.ndarray, mask: np.ndarray, window: int, at: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of the ``mask`` pixels in a window around each pixel ``at``,
    and whether there were any."""
    size = (window, window)
    total = cv2.boxFilter(cv2.bitwise_and(rgb, rgb, mask=mask), cv2.CV_32F, size, normalize=False)[at]
    count = cv2.boxFilter(mask, cv2.CV_32F, size, normalize=False)[at]
    return total / np.maximum(count, 1.0)[:, None], count > 0.5


def own_shadow(rgb: np.ndarray, sweep: SweepFit, alpha: np.ndarray) -> np.ndarray:
    """How much the photo darkens the sweep where the product is not: 0 lit
    sweep .. 1 black, ``1 - photo / sweep`` on grey levels."""
    # A blur that weighs only the sweep, so the product's dark edge does not
    # leak into a ring of false shadow around it.
    clear = 1.0 - alpha
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    seen = cv2.GaussianBlur(grey * clear, (5, 5), 0) / np.maximum(cv2.GaussianBlur(clear, (5, 5), 0), 1e-3)
    lit = np.maximum(sweep.grey, 1.0)
    shadow = np.clip(1.0 - seen / lit, 0.0, 1.0)
    shadow[shadow < 0.02] = 0.0  # sensor and JPEG noise on a lit sweep
    return shadow * clear


# --- doubts: what the segmenter itself finds suspicious ------------------------

_BESIDE = np.ones((5, 5), np.uint8)  # how far from the cut-out the backdrop beside it is read
_LOOSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))  # a surface's grain reaches this far past its firm parts' hull
_WEAK_EDGE = 20.0      # sRGB distance between the two sides under which an outline shows no edge in the photo
_EDGE_WINDOW = 15      # working pixels around an outline pixel whose product and sweep colours are compared
_THIN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # parts narrower than this are an outline
_SHADOW_LEVEL = (0.22, 0.65)  # a kept cast shadow: lighter than a black product, clearly darker than the sweep
_FLAT_RANGE = 0.05     # lightness ratio range over 3x3 under which a patch is flat (a shadow has no grain)
_PENUMBRA_GROW = np.ones((5, 5), np.uint8)  # how far round a flat patch its penumbra is counted with it
# Lab chroma off the darkened sweep's that makes a flat patch a product part; ambient light
# tints a real shadow a little (a sunlit one a few units), a brown or grey-blue product more.
_OWN_TINT = 5.0
_PENUMBRA_LEVEL = 0.97  # a dropped shadow's penumbra and hard edge: neutral shade darker than this share of the sweep
_PENUMBRA_STEPS = 6    # ...within this many working pixels of the flat patch
_HUG = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # a product's soft edge lies this close along it
_LINE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))  # a thin gear's shadow line with its penumbra is narrower
_MEETING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))  # where two shadow lines meet the shade is this wide
_CROSSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (51, 51))  # across a leg (and its soft edges) a shadow line passes under
_LINE_CROSSINGS = 3    # a dropped shadow's thin lines are followed across this many product parts they pass under
_FOOT = 0.1            # a product's foot: the lowest tenth of its solid part
_FLOOR_LINE = 0.04     # a thin gear's floor shadow is at least this long (share of the long side)
_FLOOR_RISE = 0.35     # ...and rises less than this share of the product's height: the floor recedes, it stays low
_FLOOR_SHADE = 0.85    # ...and its darker part is under this share of the sweep's lightness
_FLOOR_STRAIGHT = 0.08  # ...and it is straight: this narrow across for its length (standard deviations)
_FLOOR_BESIDE = 0.6    # ...and this share of it lies beside the product's solid part, not under it
_FLOOR_FADE = 0.08    # a floor line whose core is this much lighter (share of the sweep) at its far third than at its near one fades: a shadow
_FLOOR_DOUBT = 0.6     # how much a left-out floor line weighs: enough to hold the cut-out for review
_LOOK_UP = 16          # working pixels above a patch searched for the backdrop (past a penumbra)


@dataclass(frozen=True)
class Evidence:
    """What white-studio measured about its own cut-out, at working resolution.

    ``weak_white`` / ``weak_colour`` / ``weak_other``: shares of the cut-out's
    outline where the photo shows no edge across it (the two sides differ by
    less than ``_WEAK_EDGE``) and the product side is light (a pale product
    running on into the sweep), light, tinted and smooth (coloured light
    spilled on the sweep), or neither; ``unseen``: share of the outline
    with no clear product or sweep next to it. ``hollow``: share of the
    product's outline-closed area that is missing (sweep-white inside an
    outline of thin, colourless lines). ``shadow``: share of the cut-out that
    looks like a kept cast shadow, weighted by how much it looks like one.
    ``unlit``: share of the backdrop the fitted sweep does not explain.
    ``floor_lines``: share of the product regions left out as a thin gear's
    floor shadow, which a strap or cable lying on the floor can look like.
    ``loose_grain``: share of the cut-out that only grain found, outside the
    hull of the rest (a glossy floor's or a paper sweep's texture).
    ``unlit_beside``: the backdrop beside the cut-out that is no lit sweep and
    runs on to the frame, against the cut-out's area (a frame-filling product
    mostly missed leaves its shaded side there)."""

    weak_white: float = 0.0
    weak_colour: float = 0.0
    weak_other: float = 0.0
    unseen: float = 0.0
    hollow: float = 0.0
    shadow: float = 0.0
    unlit: float = 0.0
    floor_lines: float = 0.0
    loose_grain: float = 0.0
    unlit_beside: float = 0.0


def measure(small: np.ndarray, lab: np.ndarray, sweep: SweepFit, seen: Judgement, alpha: np.ndarray,
            p: WhiteStudioParams, floor_lines: float = 0.0) -> Evidence:
    """The evidence about a cut-out (``alpha``) that white-studio made from ``seen``
    (and left ``floor_lines`` out of it, see ``regions``)."""
    subject = (alpha >= 0.5).view(np.uint8)
    if not subject.any():
        return Evidence()
    background = alpha < 0.05
    unlit = float(np.count_nonzero(background & (seen.lit == 0)) / max(np.count_nonzero(background), 1))
    beside = unlit_beside(subject, background & (seen.lit == 0))
    min_area = p.min_object * alpha.size
    # Everything else looks at the product and what is right round it: work on that box.
    box = _around(subject, _EDGE_WINDOW)
    small, lab, alpha, subject = small[box], lab[box], alpha[box], subject[box]
    sweep = SweepFit(lab=sweep.lab[box], rgb=sweep.rgb[box], grey=sweep.grey[box])
    seen = seen.crop(box)
    white, colour, other, unseen = outline_contrast(small, lab, sweep, seen.texture, alpha, subject)
    return Evidence(weak_white=white, weak_colour=colour, weak_other=other, unseen=unseen,
                    hollow=hollow_share(subject, seen, min_area),
                    shadow=kept_shadow_share(subject, lab, sweep, seen, min_area), unlit=unlit,
                    floor_lines=floor_lines, loose_grain=loose_grain_share(subject, seen, min_area),
                    unlit_beside=beside)


def _on_border(labels: np.ndarray) -> np.ndarray:
    """The labels found on the array's outer rows and columns (repeats kept)."""
    return np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])


def _around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The box of ``mask``'s pixels, ``margin`` wider on every side (clipped to the frame)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
            slice(max(cols[0] - margin, 0), cols[-1] + margin + 1))


def outline_contrast(small: np.ndarray, lab: np.ndarray, sweep: SweepFit, texture: np.ndarray,
                     alpha: np.ndarray, subject: np.ndarray) -> tuple[float, float, float, float]:
    """Shares of the outline (subject pixels beside the sweep) where the photo
    shows no edge: light (a pale product running on into the sweep), light,
    tinted and smooth (coloured light spilled on the sweep: no grain, unlike a
    pale plush's fur), other; and the share with no clear product or sweep
    within reach. A product edge has contrast across it; a cut running through
    a white product, or round a patch of spilled light, has none."""
    outline = np.nonzero((subject > 0) & (cv2.erode(subject, _CROSS) == 0))
    if len(outline[0]) == 0:
        return 0.0, 0.0, 0.0, 0.0
    fg_mask, bg_mask = (alpha > 0.9).view(np.uint8), (alpha < 0.1).view(np.uint8)
    fg, fg_seen = _local_mean(small, fg_mask, _EDGE_WINDOW, outline)
    bg, bg_seen = _local_mean(small, bg_mask, _EDGE_WINDOW, outline)
    known = fg_seen & bg_seen
    weak = known & (np.linalg.norm(fg - bg, axis=1) < _WEAK_EDGE)
    n = len(outline[0])
    if not weak.any():
        return 0.0, 0.0, 0.0, float(np.count_nonzero(~known) / n)
    # Judge the product side of the weak stretches against the sweep behind them.
    fg_lab = to_lab(np.clip(fg[weak] + 0.5, 0, 255).astype(np.uint8)[None])[0]
    behind = sweep.lab[outline[0][weak], outline[1][weak]]
    light = fg_lab[:, 0] >= 0.8 * behind[:, 0]
    spill = light & (np.hypot(*(fg_lab[:, 1:] - behind[:, 1:]).T) > 4.0)
    spill &= texture[outline[0][weak], outline[1][weak]] < 0.6
    return (float(np.count_nonzero(light & ~spill) / n), float(np.count_nonzero(spill) / n),
            float(np.count_nonzero(~light) / n), float(np.count_nonzero(~known) / n))


def unlit_beside(subject: np.ndarray, unlit: np.ndarray) -> float:
    """The area of the ``unlit`` backdrop (bool) that touches the cut-out
    (``subject``) and reaches the frame's edge, against the cut-out's area. A
    shadow lies beside a product and is smaller than it or fades before the
    frame; the shaded side of a product that fills the frame, cut out as a
    sliver, is many times the sliver."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(unlit.view(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    beside = np.zeros(n, bool)
    beside[labels[cv2.dilate(subject, _BESIDE) > 0]] = True
    framed = np.zeros(n, bool)
    framed[_on_border(labels)] = True
    beside &= framed
    beside[0] = False
    return float(stats[beside, cv2.CC_STAT_AREA].sum() / np.count_nonzero(subject))


def loose_grain_share(subject: np.ndarray, seen: Judgement, min_area: float) -> float:
    """Share of the cut-out that only grain found (neither the product's colour
    or darkness nor an edge) and that lies outside the hull of the rest, more
    than ``_LOOSE`` pixels out: texture running on from under the product (a
    glossy floor's, a paper sweep's) rather than a surface its outline holds
    (a plush's fur inside its outline, a teddy's fringe along its body)."""
    grain = scaled_grain(seen.coarse, seen.ratio) > _GRAIN_LOW
    firm = (subject > 0) & ((seen.solid > 0) | ((seen.evidence > 0) & ~grain))
    hull = cv2.dilate(_hulls(firm.view(np.uint8), min_area), _LOOSE)
    return float(np.count_nonzero((subject > 0) & ~firm & (hull == 0)) / np.count_nonzero(subject))


def hollow_share(subject: np.ndarray, seen: Judgement, min_area: float) -> float:
    """How much of the area the product's outline closes (its parts' convex
    hulls) is missing *and* bordered by outline -- thin, light, colourless
    lines, the shaded edges of a white product whose inside matched the sweep
    -- rather than by solid product, as the gap between a tripod's legs, inside
    a strap or beside a shoelace is."""
    outline = _outline(subject, seen)
    contours, _ = cv2.findContours(subject, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hulls = np.zeros_like(subject)
    for contour in contours:
        if cv2.contourArea(contour) >= min_area or cv2.arcLength(contour, True) >= 0.05 * max(subject.shape):
            cv2.fillConvexPoly(hulls, cv2.convexHull(contour), 1)
    gap = ((hulls > 0) & (subject == 0)).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(gap, connectivity=4)
    if n <= 1 or not outline.any():
        return 0.0
    near = cv2.dilate(labels.astype(np.float32), _CROSS).astype(np.int32)
    rim = (subject > 0) & (near > 0)
    owner = near[rim]
    rim_len = np.bincount(owner, minlength=n)
    rim_outline = np.bincount(owner[outline[rim]], minlength=n)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    area[0] = 0
    # A gap with a good stretch of outline along its rim is the inside of a white part (its other
    # sides may be solid: a coloured ring, a dark mount); one rimmed by solid product alone is a gap.
    weight = np.clip((rim_outline / np.maximum(rim_len, 1) - 0.1) / 0.3, 0.0, 1.0)
    missing = float((area * weight).sum())
    return missing / (np.count_nonzero(subject) + missing)


def _outline(subject: np.ndarray, seen: Judgement) -> np.ndarray:
    """bool: the thin parts of the product that are mostly neither its own
    colour nor dark (under a third solid) and light (lightness mostly at least
    65% of the sweep's): what is left of a white product found by its edges
    alone. A shoelace or a tripod leg is thin but solid; a kept shadow is dark."""
    thin = ((subject > 0) & (_thick(subject) == 0)).view(np.uint8)
    n, labels = cv2.connectedComponents(thin, connectivity=8)
    if n <= 1:
        return thin > 0
    at = np.nonzero(thin)
    owner = labels[at]
    size = np.bincount(owner, minlength=n)
    solid = np.bincount(owner[seen.solid[at] > 0], minlength=n)
    light = np.bincount(owner[seen.ratio[at] >= 0.65], minlength=n)
    keep = (solid < size / 3) & (light >= size / 2)
    keep[0] = False
    return keep[labels]


def _thick(mask: np.ndarray) -> np.ndarray:
    """uint8: the parts of ``mask`` wider than an outline (``_THIN``)."""
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, _THIN)


def drop_kept_shadows(mask: np.ndarray, lab: np.ndarray, seen: Judgement, sweep: SweepFit,
                      min_area: float) -> tuple[np.ndarray, float]:
    """``hard_shadows`` auto (and true): takes out of the cut-out ``mask`` the
    flat patches that the ``shadow-kept`` evidence calls a cast shadow
    (``_shadow_patches``: flat, on the sweep's colour line, at the product's
    base with the backdrop right above it, carrying a tinted sweep's tint),
    with their penumbra and hard edge: the shade round them, grown through
    neutral pixels darker than the sweep, so no grey outline of it stays. A
    grey barrel has the product above it and its own tint or place, and stays.
    Also returns the share of the mask taken out as floor lines (see
    ``_shadow_lines``) where no shadow was dropped."""
    clear = np.zeros_like(mask)
    for whole, likeness, _ in _shadow_patches(mask, lab, sweep, seen, min_area):
        if likeness >= 0.5:
            clear |= whole.view(np.uint8)
    kept = mask
    if clear.any():
        shade = ((mask > 0) & (seen.colour == 0) & (seen.ratio < _PENUMBRA_LEVEL)).view(np.uint8)
        for _ in range(_PENUMBRA_STEPS):
            clear = cv2.dilate(clear, _CROSS) & shade
        kept = mask & (1 - clear)
        # What is left of the shadow's rim: a thin line of edge evidence round it,
        # neither solid product nor thicker than an outline.
        rim = (cv2.dilate(clear, _PENUMBRA) > 0) & (seen.solid == 0)
        thin = _thick(kept) == 0
        kept = kept & (~(rim & thin)).view(np.uint8)
    if not kept.any():
        return kept, 0.0
    box = _around(kept | clear, _CROSSING.shape[0])  # the lines lie round the product
    lines, floor = _shadow_lines(kept[box], clear[box], seen.crop(box), max(mask.shape))
    # A dropped shadow says the light is hard: then lines at the foot are its
    # shadows too; alone, a line on the floor may as well be a strap.
    alone = 0 if clear.any() else np.count_nonzero(floor)
    kept = kept.copy()
    kept[box] &= (~lines).view(np.uint8)
    return kept, alone / max(np.count_nonzero(mask), 1)


def _shadow_lines(kept: np.ndarray, clear: np.ndarray, seen: Judgement,
                  long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """bool: thin shadows, lines of shade narrower than an outline, neither
    solid product nor hugging it (a leg's own soft edge lies right along the
    leg): those that run on from a dropped shadow (a tripod leg's shadow from
    the shadow of its head) and on across the legs they pass under, and those
    that start on the floor at the product's foot (a monopod's,
    ``_floor_lines``; their length is read against the photo's ``long_side``),
    with their own soft edge and the dark core they enclose. Also the floor
    lines that do not fade (a strap looks the same)."""
    solid = seen.solid > 0
    thin = (kept > 0) & (cv2.morphologyEx(kept, cv2.MORPH_OPEN, _LINE) == 0) & ~solid
    core = thin & (cv2.dilate(solid.view(np.uint8), _HUG) == 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(core.view(np.uint8), connectivity=8)
    floor, fades = _floor_lines(labels, stats, kept, seen, long_side)
    dropped = floor.copy()
    reach = clear
    for _ in range(_LINE_CROSSINGS + 1 if clear.any() else 0):
        hit = np.zeros(n, bool)
        hit[labels[cv2.dilate(reach, _CROSSING) > 0]] = True
        hit[0] = False
        if not (hit & ~dropped).any():
            break
        dropped |= hit
        reach = dropped[labels].view(np.uint8)
    lines = dropped[labels].view(np.uint8)
    if lines.any():
        # Where lines meet (a leg's shadow crossing another's) the shade is wider
        # than one line: the part of it the dropped lines run into goes with them.
        broad = (kept > 0) & (cv2.morphologyEx(kept, cv2.MORPH_OPEN, _MEETING) == 0) & ~solid & ~thin
        broad &= cv2.dilate(solid.view(np.uint8), _HUG) == 0
        m, parts = cv2.connectedComponents(broad.view(np.uint8), connectivity=8)
        met = np.zeros(m, bool)
        met[parts[cv2.dilate(lines, _CROSS) > 0]] = True
        met[0] = False
        lines |= met[parts].view(np.uint8)
    # A dropped line takes its own soft edge and the core it encloses: a hard shadow's umbra,
    # darker than shadow_floor, is solid by its darkness and was left as a stroke on the floor.
    dropped_lines = (cv2.dilate(lines, _HUG) > 0) & (thin | (lines > 0))
    dropped_lines |= (cv2.morphologyEx(lines, cv2.MORPH_CLOSE, _LINE) > 0) & (kept > 0)
    return dropped_lines, (floor & ~fades)[labels]


def _floor_lines(labels: np.ndarray, stats: np.ndarray, kept: np.ndarray, seen: Judgement,
                 long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """bool per line of ``labels``: the shadow a thin product casts on the
    floor in hard light (a monopod's): a long, straight line of the sweep's
    own colour, darker than the sweep but lighter than a black product and
    nowhere brighter than the sweep (a white cable is as light as the sweep,
    a dark one solid), that starts right at the product's foot, stays on the
    floor and runs out beside the product (an outline or a lace runs round it
    or hangs from it). Also, per line, whether it fades away from the foot
    (``_FLOOR_FADE``), as a shadow does and a strap does not."""
    found = np.zeros(len(stats), bool)
    fades = np.zeros(len(stats), bool)
    solid = (seen.solid > 0) & (kept > 0)
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if len(rows) < 2:
        return found, fades
    top, bottom = rows[0], rows[-1]
    height = bottom - top + 1
    foot = np.ones_like(kept)
    foot[bottom - int(_FOOT * height):bottom + 1] = ~solid[bottom - int(_FOOT * height):bottom + 1]
    to_foot = None
    for k in np.flatnonzero(np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
                            >= _FLOOR_LINE * long_side):
        if k == 0 or stats[k, cv2.CC_STAT_TOP] < bottom - _FLOOR_RISE * height:
            continue
        x, y, w, h = stats[k, :4]
        line = labels[y:y + h, x:x + w] == k
        if to_foot is None:
            to_foot = cv2.distanceTransform(foot, cv2.DIST_L2, 3)
        if to_foot[y:y + h, x:x + w][line].min() > _CROSSING.shape[0] // 2:
            continue
        ys, xs = np.nonzero(line)
        beside = np.mean((xs + x < cols[0]) | (xs + x > cols[-1]))
        spread = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float32))), 0))
        ratio = seen.ratio[y:y + h, x:x + w][line]
        low, high = np.percentile(ratio, (20, 95))
        found[k] = (beside >= _FLOOR_BESIDE and spread[0] <= _FLOOR_STRAIGHT * spread[1]
                    and seen.colour[y:y + h, x:x + w][line].mean() < 0.05
                    and _SHADOW_LEVEL[0] <= low <= _FLOOR_SHADE and high <= 1.03)
        if found[k]:
            # A shadow softens with the height of what casts it, so its core fades along the floor
            # away from the foot; a strap lying there is as dark at its far end as at its near one.
            far = to_foot[y:y + h, x:x + w][line]
            near_end, far_end = far <= np.percentile(far, 33), far >= np.percentile(far, 67)
            fades[k] = np.percentile(ratio[far_end], 10) - np.percentile(ratio[near_end], 10) >= _FLOOR_FADE
    return found, fades


def _shadow_patches(subject: np.ndarray, lab: np.ndarray, sweep: SweepFit, seen: Judgement, min_area: float):
    """The flat dark patches of ``subject`` (see kept_shadow_share), each as
    (bool mask over the frame, its 0..1 likeness of a cast shadow, its area
    with its penumbra)."""
    ratio = seen.ratio
    spread = cv2.dilate(ratio, _CROSS) - cv2.erode(ratio, _CROSS)
    lo, hi = _SHADOW_LEVEL
    flat = ((subject > 0) & (seen.colour == 0) & (ratio > 0.18) & (ratio < 0.75)
            & (spread < _FLAT_RANGE)).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=8)
    total = np.count_nonzero(subject)
    for k in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= max(min_area / 4, 0.015 * total)):
        if k == 0:
            continue
        x, y, w, h = stats[k, :4]
        box = np.s_[max(y - _LOOK_UP, 0):y + h + 1, max(x - 1, 0):x + w + 1]
        patch = (labels[box] == k).view(np.uint8)
        area = stats[k, cv2.CC_STAT_AREA]
        # Speckle (a grey fabric's flat pixels) is no patch: a shadow is flat throughout.
        if area < 0.45 * np.count_nonzero(cv2.dilate(patch, _CROSS)):
            continue
        if not lo <= float(np.median(ratio[box][patch > 0])) <= hi:
            continue
        # What is kept is the flat patch and its penumbra: the shade round it up to the lit sweep.
        shade = (subject[box] > 0) & (seen.colour[box] == 0) & (ratio[box] < 0.95)
        kept_area = np.count_nonzero(shade & (cv2.dilate(patch, _PENUMBRA_GROW) > 0))
        whole = labels == k
        yield whole, _shadow_likeness(patch > 0, box, whole, lab, sweep, ratio, subject), kept_area


def kept_shadow_share(subject: np.ndarray, lab: np.ndarray, sweep: SweepFit, seen: Judgement,
                      min_area: float) -> float:
    """Share of the cut-out that looks like a hard cast shadow kept as product:
    a flat patch (no grain) on the sweep's colour line, darker than the sweep
    and lighter than a black product, lying on the floor at the product's base
    with the backdrop just above it. Where the sweep has a tint, a shadow
    carries it and a grey product part does not; on a neutral sweep only the
    place can tell (a grey part of the product sits anywhere, with more of the
    product above it)."""
    total = np.count_nonzero(subject)
    kept = sum(area * likeness for _, likeness, area in _shadow_patches(subject, lab, sweep, seen, min_area))
    return kept / total


def _shadow_likeness(patch: np.ndarray, box, whole: np.ndarray, lab: np.ndarray, sweep: SweepFit,
                     ratio: np.ndarray, subject: np.ndarray) -> float:
    """0..1: a flat dark patch's case for being a cast shadow (see kept_shadow_share).
    ``patch`` is the patch in ``box``, ``whole`` the same over the whole frame."""
    if _upright(patch, subject):
        return 0.0
    place = _place(whole, subject)
    r = ratio[box][patch]
    expected = (sweep.lab[box][patch][:, 1:] * r[:, None]).mean(axis=0)  # the sweep's tint, darkened
    own = float(np.linalg.norm(lab[box][patch][:, 1:].mean(axis=0) - expected))  # tint not the sweep's
    tint = float(np.linalg.norm(expected))
    if own > max(_OWN_TINT, 0.6 * tint):
        return 0.0  # a tint of its own: a product part (a brown bag), not the sweep darkened
    cue = ramp(place, 0.55, 0.75)
    if tint >= 1.0:  # a tinted sweep: a shadow carries its tint, which says more than the place
        cue = max(cue, ramp(1.0 - own / tint, 0.0, 0.4))
    return _exposed(patch, subject[box]) * cue


def _upright(patch: np.ndarray, subject: np.ndarray) -> bool:
    """Whether a patch stands up: much taller than wide and a good part of the
    product's height (a monopod's grey lower tube). A shadow lies on the floor,
    which recedes: it is flattened, or for a thin caster a line along the floor."""
    rows, cols = np.flatnonzero(patch.any(axis=1)), np.flatnonzero(patch.any(axis=0))
    tall = np.flatnonzero(subject.any(axis=1))
    height = rows[-1] - rows[0] + 1
    return bool(height > _UPRIGHT * (cols[-1] - cols[0] + 1) and height > 0.25 * (tall[-1] - tall[0] + 1))


def _place(patch: np.ndarray, subject: np.ndarray) -> float:
    """Where the patch lies against the rest of the product, from its top (0)
    to its lowest point (1) and beyond: a cast shadow lies on the floor at the
    base of what casts it; a product part lies among the others."""
    rest = (subject > 0) & (cv2.dilate(patch.view(np.uint8), _PENUMBRA_GROW) == 0)
    rows = np.flatnonzero(rest.any(axis=1))
    if len(rows) < 2:
        return 0.5
    return float((np.median(np.nonzero(patch)[0]) - rows[0]) / (rows[-1] - rows[0]))


def _exposed(patch: np.ndarray, subject: np.ndarray) -> float:
    """0..1 from the share of the patch's columns with the backdrop within
    ``_LOOK_UP`` pixels above its top: a shadow lies on the floor in front of
    the backdrop, a product part has more of the product above it."""
    cols = np.flatnonzero(patch.any(axis=0))
    first = patch[:, cols].argmax(axis=0)
    clear = np.zeros(len(cols), bool)
    for step in range(2, _LOOK_UP + 1):
        above = first - step
        inside = above >= 0
        clear[inside] |= subject[above[inside], cols[inside]] == 0
    return ramp(float(clear.mean()), 0.05, 0.25)


def doubts_from(evidence: Evidence) -> tuple[Doubt, ...]:
    """The doubts the evidence supports, in the store's words."""
    e = evidence
    found = [
        Doubt("white-on-white", max(ramp(e.weak_white, 0.03, 0.15), ramp(e.hollow, 0.01, 0.06)),
              "part of the product may be as white as the backdrop and missing from the cut-out"),
        Doubt("colour-spill", ramp(e.weak_colour, 0.03, 0.15),
              "coloured light reflected on the backdrop may be part of the cut-out"),
        Doubt("undecided-edge", ramp(e.weak_other + e.unseen, 0.05, 0.2),
              "the edge of the cut-out is unclear in places"),
        Doubt("shadow-kept", ramp(e.shadow, 0.01, 0.05), "a shadow on the backdrop may be part of the cut-out"),
        Doubt("sweep-fit", ramp(e.unlit, 0.25, 0.6), "the backdrop is uneven, so the cut-out is less certain"),
        Doubt("floor-line", _FLOOR_DOUBT * ramp(e.floor_lines, 0.002, 0.01),
              "a thin line on the floor was left out as a shadow; it may be a strap or cable of the product"),
        Doubt("floor-texture", ramp(e.loose_grain, 0.002, 0.012),
              "a patch of the floor's texture beside the product may be part of the cut-out"),
        Doubt("missed-part", ramp(e.unlit_beside, 1.0, 3.0),
              "shaded areas beside the cut-out run on out of the photo: much of the product may be missing"),
    ]
    return tuple(d for d in found if d.severity > 0)


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo`` and below, 1 at ``hi`` and above, linear between."""
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))
