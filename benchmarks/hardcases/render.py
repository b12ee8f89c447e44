"""Drawing helpers for the hard cases: sweeps, products and shadows with exact masks.

Every product is a ``Layer``: its colour (float32 sRGB 0..255) and coverage
(float32 0..1) over a box of the frame. Shapes are drawn from signed
distances, so their edges are anti-aliased analytically and the coverage is
the exact mask. Shadows and colour spill change only the sweep, never the mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# A hard shadow's edge blur (Gaussian sigma) per pixel of the caster's height above the floor:
# the sun's disc (0.53 degrees) spreads an edge over 0.0093 of that, sigma about 0.004.
PENUMBRA = 0.004
CUTOUTS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "pixabay_cutouts_anau" / "images"
CUTOUT_FILES = {"clock": "clock-g204ee03ae_1920.png", "lamp": "kerosene-lamp-gde06bdaab_1920.png",
                "teddy": "teddy-bear-g08d67e00b_1920.png", "van": "vw-gebf7ea815_1920.png"}


@dataclass
class Layer:
    """A product patch: ``rgb`` HxWx3 and ``alpha`` HxW float32, top-left at (x0, y0) in the frame."""

    rgb: np.ndarray
    alpha: np.ndarray
    x0: int
    y0: int


class Scene:
    """A photo being built: the sweep (with its shadows and spill) and the true mask."""

    def __init__(self, size: int, rng: np.random.Generator, jitter: bool = False) -> None:
        self.size = size
        self.rng = rng
        self.jitter = jitter  # vary sweep, light, shadows, framing and noise at random (a fresh variant)
        self.image = np.zeros((size, size, 3), np.float32)
        self.mask = np.zeros((size, size), np.float32)
        self.grid = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)  # y, x in [0, 1]

    # --------------------------------------------------------------- sweep

    def sweep(self, colour=(243, 242, 238), vignette: float = 0.05, gradient: float = 0.0,
              gradient_angle: float = 90.0, curve: float = 0.0, curve_at: float = 0.55) -> None:
        """A light sweep: ``colour`` in the centre, ``vignette`` darker in the corners (fraction),
        a linear fall-off of ``gradient`` across the frame along ``gradient_angle`` (degrees,
        90 = top to bottom), and ``curve``: the shade where the floor bends into the wall at
        height ``curve_at``."""
        if self.jitter:
            u = self.rng.uniform
            colour = np.clip(np.asarray(colour, np.float32) + u(-4, 4, 3) + u(-8, 3), 200, 252)
            vignette *= u(0.6, 1.6)
            if gradient == 0:
                gradient, gradient_angle = u(0, 0.05), u(0, 360)
        y, x = self.grid
        r2 = ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2
        t = np.deg2rad(gradient_angle)
        along = (x - 0.5) * np.cos(t) + (y - 0.5) * np.sin(t)
        bend = np.exp(-((y - curve_at) / 0.12) ** 2)
        light = (1 - vignette * r2) * (1 - gradient * (along + 0.5)) * (1 - curve * bend)
        self.image[:] = np.asarray(colour, np.float32) * light[..., None]

    def darken(self, shade: np.ndarray, strength: float) -> None:
        """Multiply the sweep by ``1 - strength * shade``: a shadow keeps the sweep's chroma."""
        if self.jitter:
            strength = min(0.8, strength * self.rng.uniform(0.85, 1.12))
        self.image *= (1 - strength * shade)[..., None]

    def contact_shadow(self, cx: float, cy: float, rx: float, ry: float, strength: float = 0.35,
                       blur: float = 0.02) -> None:
        """A soft shadow where the product meets the sweep (an ellipse, blurred)."""
        s = self.size
        shade = np.zeros((s, s), np.float32)
        cv2.ellipse(shade, (round(cx * s), round(cy * s)), (max(1, round(rx * s)), max(1, round(ry * s))),
                    0, 0, 360, 1.0, -1, lineType=cv2.LINE_AA)
        self.darken(cv2.GaussianBlur(shade, (0, 0), blur * s), strength)

    def cast_shadow(self, caster: Layer | np.ndarray, base_y: float, lean: float, flatten: float,
                    strength: float = 0.6, blur_px: float = 1.5) -> np.ndarray:
        """A hard shadow cast on the floor by directional light: the caster's silhouette
        projected from its base line ``base_y`` (fraction of the frame): a point ``h`` above
        the base lands ``lean * h`` to the side and ``flatten * h`` above it. Returns the
        shadow's coverage (for the caster's own silhouette use ``caster`` itself)."""
        s = self.size
        silhouette = self.full(caster) if isinstance(caster, Layer) else caster
        yb = base_y * s
        # x' = x + lean * (yb - y);  y' = yb - flatten * (yb - y)
        m = np.float32([[1, -lean, lean * yb], [0, flatten, yb * (1 - flatten)]])
        shade = cv2.warpAffine(silhouette, m, (s, s), flags=cv2.INTER_LINEAR)
        shade = np.maximum(shade, silhouette * (self.grid[0] * s > yb - 0.02 * s))  # under its foot
        shade = self._penumbra(shade, yb, flatten, blur_px * s / 2000)
        self.darken(np.clip(shade, 0, 1), strength)
        return shade

    def _penumbra(self, shade: np.ndarray, yb: float, flatten: float, sharpest: float) -> np.ndarray:
        """A hard shadow softens with the height of what casts it (the sun is a disc, not a
        point): a shadow point ``d`` pixels beyond the base line was cast from ``d / flatten``
        above the floor, and its edge is blurred by ``sharpest`` plus ``PENUMBRA`` of that."""
        s = self.size
        height = np.clip((yb - self.grid[0] * s) / max(flatten, 1e-3), 0, None)
        sigma = sharpest + PENUMBRA * height
        levels = np.geomspace(max(sharpest, 0.3), max(sigma.max(), sharpest, 0.3) + 1e-3, 6)
        at = np.interp(sigma, levels, np.arange(len(levels)))
        lo = np.floor(at).astype(int).clip(0, len(levels) - 2)
        frac = (at - lo).astype(np.float32)
        # Between the two blur levels round each pixel's own, one pair at a time.
        out = np.zeros_like(shade)
        below = cv2.GaussianBlur(shade, (0, 0), levels[0])
        for i in range(len(levels) - 1):
            above = cv2.GaussianBlur(shade, (0, 0), levels[i + 1])
            here = lo == i
            out[here] = below[here] * (1 - frac[here]) + above[here] * frac[here]
            below = above
        return out

    def spill(self, cx: float, cy: float, rx: float, ry: float, colour, strength: float = 0.2) -> None:
        """Coloured light reflected onto the sweep by a glossy product."""
        s = self.size
        glow = np.zeros((s, s), np.float32)
        cv2.ellipse(glow, (round(cx * s), round(cy * s)), (round(rx * s), round(ry * s)), 0, 0, 360, 1.0, -1)
        if self.jitter:
            strength *= self.rng.uniform(0.8, 1.2)
        glow = cv2.GaussianBlur(glow, (0, 0), 0.35 * max(rx, ry) * s) * strength
        tint = np.asarray(colour, np.float32) / 255.0
        self.image *= (1 - glow[..., None]) + glow[..., None] * tint

    def _reframe(self) -> None:
        """Zoom in up to 12% and shift within that margin: the same set-up framed a little
        differently (never zooms out, so nothing has to be made up at the frame's edge)."""
        s = self.size
        zoom = self.rng.uniform(1.0, 1.12)
        slack = (zoom - 1) * s / 2
        dx, dy = self.rng.uniform(-slack, slack, 2)
        m = np.float32([[zoom, 0, (1 - zoom) * s / 2 + dx], [0, zoom, (1 - zoom) * s / 2 + dy]])
        self.image = cv2.warpAffine(self.image, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self.mask = cv2.warpAffine(self.mask, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    # --------------------------------------------------------------- products

    def full(self, layer: Layer) -> np.ndarray:
        """The layer's coverage over the whole frame (clipped at the frame's edge)."""
        out = np.zeros((self.size, self.size), np.float32)
        ys, xs, ly, lx = self._overlap(layer)
        out[ys, xs] = layer.alpha[ly, lx]
        return out

    def put(self, layer: Layer) -> None:
        """Composite a product over the scene; its coverage joins the true mask."""
        ys, xs, ly, lx = self._overlap(layer)
        a = layer.alpha[ly, lx]
        self.image[ys, xs] = self.image[ys, xs] * (1 - a[..., None]) + layer.rgb[ly, lx] * a[..., None]
        self.mask[ys, xs] = 1 - (1 - self.mask[ys, xs]) * (1 - a)

    def _overlap(self, layer: Layer):
        h, w = layer.alpha.shape
        x0, y0 = max(layer.x0, 0), max(layer.y0, 0)
        x1, y1 = min(layer.x0 + w, self.size), min(layer.y0 + h, self.size)
        if x1 <= x0 or y1 <= y0:
            raise ValueError("layer lies outside the frame")
        return (slice(y0, y1), slice(x0, x1), slice(y0 - layer.y0, y1 - layer.y0),
                slice(x0 - layer.x0, x1 - layer.x0))

    # --------------------------------------------------------------- finish

    def photo(self, noise: float = 1.5, quality: int = 90) -> tuple[bytes, np.ndarray]:
        """The JPEG (sensor noise, a little chroma noise, ``quality``) and the mask PNG array."""
        s = self.size
        if self.jitter:
            self._reframe()
            noise *= self.rng.uniform(0.7, 1.4)
            quality = int(self.rng.integers(85, 96))
        grain = self.rng.normal(0, noise, (s, s, 1)).astype(np.float32)
        grain = grain + self.rng.normal(0, noise * 0.4, (s, s, 3)).astype(np.float32)
        rgb = np.clip(self.image + grain + 0.5, 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return jpeg.tobytes(), np.clip(self.mask * 255 + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------- real cut-outs

def cutout(name: str, height: float, size: int, cx: float, base_y: float, look: str = "as-is",
           flip: bool = False) -> Layer:
    """A real RGBA cut-out ``height`` (fraction of the frame) tall, centred at ``cx``, its
    bottom at ``base_y``. ``look``: 'as-is', 'pale' (brightened and desaturated: a pale
    plush) or 'white' (its orange paint made white: a white van)."""
    bgra = cv2.imread(str(CUTOUTS / CUTOUT_FILES[name]), cv2.IMREAD_UNCHANGED)
    if bgra is None:
        raise FileNotFoundError(CUTOUTS / CUTOUT_FILES[name])
    rgb = cv2.cvtColor(bgra[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = bgra[..., 3].astype(np.float32) / 255.0
    if flip:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    scale = height * size / alpha.shape[0]
    dsize = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    # Resample premultiplied colour so the fringe keeps the product's colour.
    pre = cv2.resize(rgb * alpha[..., None], dsize, interpolation=interp)
    alpha = np.clip(cv2.resize(alpha, dsize, interpolation=interp), 0, 1)
    rgb = np.clip(pre / np.maximum(alpha, 1e-3)[..., None], 0, 255)
    if look == "pale":
        rgb = _pale(rgb)
    elif look == "white":
        rgb = _whiten_paint(rgb)
    x0 = round(cx * size - dsize[0] / 2)
    y0 = round(base_y * size - dsize[1])
    return Layer(rgb.astype(np.float32), alpha.astype(np.float32), x0, y0)


def _pale(rgb: np.ndarray) -> np.ndarray:
    """Desaturate and brighten, keeping the texture (fur) and the darkest details a little."""
    grey = rgb.mean(axis=2, keepdims=True)
    rgb = 0.2 * rgb + 0.8 * grey
    return 255 - (255 - rgb) * 0.3


def _whiten_paint(rgb: np.ndarray) -> np.ndarray:
    """Saturated orange paint -> white paint with the same shading."""
    hsv = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hue, sat, val = hsv[..., 0], hsv[..., 1] / 255, hsv[..., 2] / 255
    paint = np.clip((sat - 0.35) / 0.2, 0, 1) * ((hue > 5) & (hue < 30))
    paint = cv2.GaussianBlur(paint.astype(np.float32), (0, 0), 1.0)
    white = 255 * np.clip(0.18 + 0.84 * val, 0, 1)[..., None] * np.array([0.985, 0.985, 0.975], np.float32)
    return rgb * (1 - paint[..., None]) + white * paint[..., None]


# ------------------------------------------------------------------- synthetic products

def _frame(size: int, box: tuple[float, float, float, float]):
    """Pixel box (x0, y0, w, h) for a box in frame fractions, and its pixel-centre coordinates."""
    x0, y0 = int(np.floor(box[0] * size)), int(np.floor(box[1] * size))
    x1, y1 = int(np.ceil(box[2] * size)), int(np.ceil(box[3] * size))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    return x0, y0, xx, yy


def cylinder(size: int, p0, p1, radius: float, colour, *, rings=(), shine: float = 0.25,
             ambient: float = 0.58, light=(-0.45, 0.89), texture: float = 0.0,
             rng: np.random.Generator | None = None) -> Layer:
    """A shaded cylinder seen side-on (a lens, a barrel, a mug) from ``p0`` to ``p1``
    (frame fractions), ``radius`` (fraction). ``rings``: (start, end, colour, texture) along
    the axis in 0..1, e.g. a rubber focus ring. Lambert shading across the axis from a
    soft box (``light`` in the cross-section plane), a specular band, rounded ends."""
    p0, p1 = np.asarray(p0, np.float32) * size, np.asarray(p1, np.float32) * size
    r = radius * size
    pad = r + 3
    lo, hi = np.minimum(p0, p1) - pad, np.maximum(p0, p1) + pad
    x0, y0, xx, yy = _frame(size, (lo[0] / size, lo[1] / size, hi[0] / size, hi[1] / size))
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    d = axis / length
    u = (xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]          # along the axis
    v = -(xx - p0[0]) * d[1] + (yy - p0[1]) * d[0]         # across it
    cap = 0.08 * r  # slightly rounded ends
    across = np.clip(r - np.abs(v) + 0.5, 0, 1)
    along = np.clip(np.minimum(u + cap, length + cap - u) + 0.5, 0, 1)
    alpha = (across * along).astype(np.float32)
    t = np.clip(v / r, -1, 1)
    n = np.stack([t, np.sqrt(1 - t * t)], axis=-1)       # surface normal in the cross-section
    lam = np.clip(n @ np.asarray(light, np.float32), 0, 1)
    shade = ambient + (1 - ambient) * lam + shine * np.exp(-((t + 0.35) / 0.12) ** 2)
    base = np.broadcast_to(np.asarray(colour, np.float32), (*alpha.shape, 3)).copy()
    s = u / length
    for start, end, ring_colour, ring_texture in rings:
        inside = np.clip(np.minimum(s - start, end - s) * length + 0.5, 0, 1)[..., None]
        grain = 0.0
        if ring_texture and rng is not None:
            grain = (np.sin(u * 2 * np.pi / (0.004 * size)) * ring_texture)[..., None]
        base = base * (1 - inside) + (np.asarray(ring_colour, np.float32) + grain) * inside
    if texture and rng is not None:
        base = base + rng.normal(0, texture, alpha.shape)[..., None].astype(np.float32)
    rgb = np.clip(base * shade[..., None], 0, 255).astype(np.float32)
    return Layer(rgb, alpha, x0, y0)


def box(size: int, corner, w: float, h: float, depth: float, colour, *, faces=(1.0, 0.9, 0.8),
        port: bool = False, rng: np.random.Generator | None = None, texture: float = 0.0) -> Layer:
    """A box in a three-quarter view (a charger, a carton): front face at ``corner``
    (top-left, frame fractions) ``w`` x ``h``, top and right faces ``depth`` deep, receding up
    and right. ``faces``: brightness of top, front and side (a soft box from above). ``port``:
    a dark USB port on the front."""
    s = size
    X, Y = corner[0] * s, corner[1] * s
    W, H, D = w * s, h * s, depth * s
    dx, dy = D * 0.7, -D * 0.5
    front = np.float32([[X, Y], [X + W, Y], [X + W, Y + H], [X, Y + H]])
    top = np.float32([[X, Y], [X + dx, Y + dy], [X + W + dx, Y + dy], [X + W, Y]])
    side = np.float32([[X + W, Y], [X + W + dx, Y + dy], [X + W + dx, Y + H + dy], [X + W, Y + H]])
    lo = np.array([X - 2, Y + dy - 2]) / s
    hi = np.array([X + W + dx + 2, Y + H + 2]) / s
    x0, y0, xx, yy = _frame(s, (lo[0], lo[1], hi[0], hi[1]))
    cover = [_polygon_coverage(xx, yy, poly) for poly in (top, front, side)]
    alpha = np.clip(sum(cover), 0, 1).astype(np.float32)
    rgb = np.zeros((*alpha.shape, 3), np.float32)
    colour = np.asarray(colour, np.float32)
    for c, bright in zip(cover, faces):
        rgb += (c[..., None] * colour * bright)
    rgb /= np.maximum(alpha, 1e-3)[..., None]
    # Slightly darker, rounded edges where faces meet (a real moulding).
    for poly in (top, front, side):
        edge = _polygon_edge(xx, yy, poly, 0.0025 * s)
        rgb *= (1 - 0.12 * edge)[..., None]
    if port:
        pw, ph = 0.3 * W, 0.12 * H
        port_poly = np.float32([[X + W / 2 - pw / 2, Y + H * 0.6], [X + W / 2 + pw / 2, Y + H * 0.6],
                                [X + W / 2 + pw / 2, Y + H * 0.6 + ph], [X + W / 2 - pw / 2, Y + H * 0.6 + ph]])
        hole = _polygon_coverage(xx, yy, port_poly)[..., None]
        rgb = rgb * (1 - hole) + np.float32([55, 55, 58]) * hole
    if texture and rng is not None:
        rgb += rng.normal(0, texture, alpha.shape)[..., None].astype(np.float32)
    return Layer(np.clip(rgb, 0, 255), alpha, x0, y0)


def _polygon_coverage(xx: np.ndarray, yy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a convex polygon (clockwise in image coordinates)."""
    cover = np.ones_like(xx)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        ex, ey = bx - ax, by - ay
        norm = np.hypot(ex, ey)
        if norm == 0:
            continue
        # Signed distance to the edge's line, negative inside for a clockwise polygon.
        dist = ((xx - ax) * ey - (yy - ay) * ex) / norm
        cover = np.minimum(cover, np.clip(0.5 - dist, 0, 1))
    return cover


def _polygon_edge(xx, yy, poly, width: float) -> np.ndarray:
    near = np.zeros_like(xx)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        ex, ey = bx - ax, by - ay
        norm = np.hypot(ex, ey)
        if norm == 0:
            continue
        dist = np.abs((xx - ax) * ey - (yy - ay) * ex) / norm
        near = np.maximum(near, np.clip(1 - dist / width, 0, 1))
    return near


def tube(size: int, points, radius: float, colour, *, ambient: float = 0.62, shine: float = 0.2,
         texture: float = 0.0, rng: np.random.Generator | None = None) -> Layer:
    """A round tube along a polyline (a cable, a tripod leg, a strap): ``points`` in frame
    fractions, ``radius`` a fraction. Shaded darker towards its sides, a highlight along it."""
    pts = np.asarray(points, np.float32) * size
    r = radius * size
    pad = r + 3
    lo, hi = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    x0, y0, xx, yy = _frame(size, (lo[0] / size, lo[1] / size, hi[0] / size, hi[1] / size))
    dist = np.full(xx.shape, np.inf, np.float32)
    side = np.zeros(xx.shape, np.float32)
    for a, b in zip(pts[:-1], pts[1:]):
        ab = b - a
        t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6), 0, 1)
        px, py = a[0] + t * ab[0], a[1] + t * ab[1]
        d = np.hypot(xx - px, yy - py)
        sign = np.sign((xx - a[0]) * ab[1] - (yy - a[1]) * ab[0])
        closer = d < dist
        dist = np.where(closer, d, dist)
        side = np.where(closer, sign * d, side)
    alpha = np.clip(r - dist + 0.5, 0, 1).astype(np.float32)
    t = np.clip(side / r, -1, 1)
    shade = ambient + (1 - ambient) * np.sqrt(1 - t * t) + shine * np.exp(-((t + 0.3) / 0.2) ** 2)
    rgb = np.asarray(colour, np.float32) * shade[..., None]
    if texture and rng is not None:
        rgb = rgb + rng.normal(0, texture, alpha.shape)[..., None].astype(np.float32)
    return Layer(np.clip(rgb, 0, 255).astype(np.float32), alpha, x0, y0)


def bezier(p0, p1, p2, p3, n: int = 60) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, np.float32) for p in (p0, p1, p2, p3))
    return ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3).astype(np.float32)


def blob(size: int, centre, rx: float, ry: float, colour, *, rng: np.random.Generator, wobble: float = 0.06,
         texture: float = 6.0, shading: float = 0.25, flat_bottom: float | None = None) -> Layer:
    """A soft organic body (a bag, a pouch): an ellipse with a wobbly outline, fabric
    texture, shaded darker towards its lower right; ``flat_bottom`` cuts it at that
    height (frame fraction) so it stands on the sweep."""
    cx, cy = centre[0] * size, centre[1] * size
    RX, RY = rx * size, ry * size
    x0, y0, xx, yy = _frame(size, ((cx - RX * 1.2) / size, (cy - RY * 1.2) / size,
                                   (cx + RX * 1.2) / size, (cy + RY * 1.2) / size))
    ang = np.arctan2((yy - cy) / RY, (xx - cx) / RX)
    k = rng.integers(3, 6)
    phase = rng.uniform(0, 2 * np.pi, 3)
    bump = 1 + wobble * (np.sin(k * ang + phase[0]) * 0.6 + np.sin((k + 2) * ang + phase[1]) * 0.4)
    rho = np.hypot((xx - cx) / RX, (yy - cy) / RY)
    scale = min(RX, RY)
    alpha = np.clip((bump - rho) * scale + 0.5, 0, 1)
    if flat_bottom is not None:
        alpha = np.minimum(alpha, np.clip(flat_bottom * size - yy + 0.5, 0, 1))
    light = 1 - shading * np.clip(((xx - cx) / RX + (yy - cy) / RY) / 2 + 0.3, 0, 1)
    grain = rng.normal(0, texture, alpha.shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8) * 1.8
    rgb = np.asarray(colour, np.float32) * light[..., None] + grain[..., None]
    return Layer(np.clip(rgb, 0, 255).astype(np.float32), alpha.astype(np.float32), x0, y0)


def merge(size: int, *layers: Layer) -> Layer:
    """Several layers as one (later ones in front): the caster of one shadow."""
    x0 = min(l.x0 for l in layers)
    y0 = min(l.y0 for l in layers)
    x1 = max(l.x0 + l.alpha.shape[1] for l in layers)
    y1 = max(l.y0 + l.alpha.shape[0] for l in layers)
    rgb = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
    for l in layers:
        h, w = l.alpha.shape
        sl = np.s_[l.y0 - y0:l.y0 - y0 + h, l.x0 - x0:l.x0 - x0 + w]
        a = l.alpha[..., None]
        rgb[sl] = rgb[sl] * (1 - a) + l.rgb * a
        alpha[sl] = 1 - (1 - alpha[sl]) * (1 - l.alpha)
    # rgb is premultiplied-by-construction over black; undo it.
    rgb = rgb / np.maximum(alpha, 1e-3)[..., None] * (alpha > 0)[..., None]
    return Layer(rgb, alpha, x0, y0)


def disc(size: int, centre, radius: float, rings) -> Layer:
    """A round part seen face-on (a lens front, a cap, a clock face): ``rings`` are
    (outer radius as a fraction of ``radius``, colour), outermost first."""
    cx, cy = centre[0] * size, centre[1] * size
    R = radius * size
    x0, y0, xx, yy = _frame(size, ((cx - R - 2) / size, (cy - R - 2) / size, (cx + R + 2) / size, (cy + R + 2) / size))
    rho = np.hypot(xx - cx, yy - cy)
    alpha = np.clip(R - rho + 0.5, 0, 1).astype(np.float32)
    rgb = np.zeros((*alpha.shape, 3), np.float32)
    for frac, colour in rings:
        inside = np.clip(frac * R - rho + 0.5, 0, 1)[..., None]
        rgb = rgb * (1 - inside) + np.asarray(colour, np.float32) * inside
    # A soft highlight at the upper left, as on glass or metal.
    glint = np.exp(-(((xx - cx + 0.35 * R) ** 2 + (yy - cy + 0.35 * R) ** 2) / (0.18 * R) ** 2))
    rgb = np.clip(rgb + 90 * glint[..., None], 0, 255)
    return Layer(rgb.astype(np.float32), alpha, x0, y0)


def turned(size: int, axis_x: float, profile, colour, *, ambient: float = 0.7, shine: float = 0.1,
           light=(-0.45, 0.89)) -> Layer:
    """An upright solid of revolution (a bulb, a bottle): ``profile`` is (y, radius) pairs
    in frame fractions, top to bottom, linearly interpolated; shaded like a cylinder."""
    prof = np.asarray(profile, np.float32)
    rmax = float(prof[:, 1].max())
    x0, y0, xx, yy = _frame(size, (axis_x - rmax - 2 / size, prof[0, 0], axis_x + rmax + 2 / size, prof[-1, 0]))
    r = np.interp(yy / size, prof[:, 0], prof[:, 1]).astype(np.float32) * size
    v = xx - axis_x * size
    alpha = np.clip(r - np.abs(v) + 0.5, 0, 1).astype(np.float32)
    t = np.clip(v / np.maximum(r, 1e-3), -1, 1)
    n = np.stack([t, np.sqrt(1 - t * t)], axis=-1)
    lam = np.clip(n @ np.asarray(light, np.float32), 0, 1)
    shade = ambient + (1 - ambient) * lam + shine * np.exp(-((t + 0.35) / 0.12) ** 2)
    rgb = np.clip(np.asarray(colour, np.float32) * shade[..., None], 0, 255).astype(np.float32)
    return Layer(rgb, alpha, x0, y0)
