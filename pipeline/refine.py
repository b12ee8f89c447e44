"""Edge refinement: the working-resolution alpha becomes an output-resolution
matte that follows the photo's own edges, and edge colours lose the sweep.

All functions are pure: they never modify their inputs.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.profile import RefineParams


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(alpha: np.ndarray, guide: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Fast colour guided filter (He et al. 2013; He & Sun 2015).

    ``alpha``: float32 hxw in [0,1], the coarse matte. ``guide``: uint8 HxWx3,
    the photo at the output size (H, W >= h, w). The linear coefficients are
    solved at alpha's resolution, where a 3x3 system per pixel is cheap, then
    upsampled bilinearly and applied to the full-resolution guide, so the
    result's edges come from the photo, not from the coarse matte.
    Returns float32 HxW in [0, 1].
    """
    h, w = alpha.shape
    big_h, big_w = guide.shape[:2]
    small = cv2.resize(guide, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)
    r = max(1, int(radius))
    mean_i = _box(small, r)                                   # h x w x 3
    mean_p = _box(alpha, r)
    cov = _box(small * alpha[..., None], r) - mean_i * mean_p[..., None]

    def var(i: int, j: int) -> np.ndarray:
        return _box(small[..., i] * small[..., j], r) - mean_i[..., i] * mean_i[..., j]

    # Solve (Sigma + eps I) a = cov per pixel with the closed-form inverse of a
    # symmetric 3x3 matrix: several times faster than a batched linalg.solve.
    s00, s01, s02 = var(0, 0) + eps, var(0, 1), var(0, 2)
    s11, s12, s22 = var(1, 1) + eps, var(1, 2), var(2, 2) + eps
    i00, i01, i02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    i11, i12, i22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    det = s00 * i00 + s01 * i01 + s02 * i02
    c0, c1, c2 = cov[..., 0], cov[..., 1], cov[..., 2]
    a = np.stack([i00 * c0 + i01 * c1 + i02 * c2,
                  i01 * c0 + i11 * c1 + i12 * c2,
                  i02 * c0 + i12 * c1 + i22 * c2], axis=-1) / det[..., None]
    b = mean_p - (a * mean_i).sum(axis=-1)
    a = _box(a, r)
    b = _box(b, r)
    a_big = cv2.resize(a, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    q = cv2.resize(b, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    for c in range(3):
        q += cv2.multiply(a_big[..., c], guide[..., c], dtype=cv2.CV_32F, scale=1 / 255)
    return np.clip(q, 0.0, 1.0, out=q)


def choke_and_feather(alpha: np.ndarray, choke_px: float, feather_px: float) -> np.ndarray:
    """Pull the matte edge in by ``choke_px`` and soften it by ``feather_px`` (output pixels)."""
    out = alpha
    if choke_px > 0:
        whole = int(choke_px)
        if whole:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * whole + 1, 2 * whole + 1))
            out = cv2.erode(out, kernel)
        frac = choke_px - whole
        if frac > 0:  # a sub-pixel choke: lower the edge ramp by the fraction
            out = np.clip((out - frac * 0.5) / (1 - frac * 0.5), 0, 1)
    if feather_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), feather_px)
    return out if out is not alpha else alpha.copy()


def decontaminate(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray,
                  floor: float = 0.12, sweep_tolerance: float = 10.0,
                  contrast: float = 40.0, band_px: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Known-background matting on the edge band, then colour decontamination.

    Each edge pixel is a mix I = a*F + (1-a)*B of product colour F and the
    known sweep colour B, within ``band_px`` of the matte's edge (lens blur
    spreads the mix over a few pixels). F is estimated from the nearby solid product pixels,
    so a = (I-B).(F-B) / |F-B|^2 where product and sweep differ by at least
    ``contrast`` (RGB units); elsewhere (white on white) the filtered alpha
    stays, capped where the pixel is indistinguishable from the sweep. Then
    F = B + (I - B) / a removes the sweep's colour. ``background`` is float32
    hxwx3, the sweep model at any size covering the same region (smooth, so
    it is sampled rather than resized). Returns (uint8 RGB, float32 alpha).
    """
    hard = (alpha > 0.5).astype(np.uint8)
    kernel = np.ones((2 * band_px + 1, 2 * band_px + 1), np.uint8)
    band = (cv2.dilate(hard, kernel) > cv2.erode(hard, kernel)) | ((alpha > 0.01) & (alpha < 0.99))
    if not band.any():
        return rgb.copy(), alpha.copy()
    ys, xs = np.nonzero(band)
    i = rgb[ys, xs].astype(np.float32)
    bh, bw = background.shape[:2]
    reach = band_px * bw / rgb.shape[1]
    at = (ys * bh // rgb.shape[0], xs * bw // rgb.shape[1])
    small = cv2.resize(rgb, (bw, bh), interpolation=cv2.INTER_AREA).astype(np.float32)
    coarse = cv2.resize(alpha, (bw, bh), interpolation=cv2.INTER_AREA)
    b = _backdrop_colour(small, coarse, background, reach)[at]
    f = _product_colour(small, coarse, reach)[at]
    d = f - b
    norm2 = (d * d).sum(axis=1)
    a_known = np.clip(((i - b) * d).sum(axis=1) / np.maximum(norm2, 1e-6), 0, 1)
    a_old = alpha[ys, xs]
    a_capped = np.minimum(a_old, np.abs(i - b).max(axis=1) / sweep_tolerance)
    a_new = np.where(norm2 >= contrast * contrast, a_known, a_capped).astype(np.float32)
    colour = b + (i - b) / np.maximum(a_new, floor)[:, None]
    out_rgb = rgb.copy()
    out_rgb[ys, xs] = np.clip(colour + 0.5, 0, 255).astype(np.uint8)
    out_alpha = alpha.copy()
    out_alpha[ys, xs] = a_new
    return out_rgb, out_alpha


def _backdrop_colour(small: np.ndarray, alpha: np.ndarray, background: np.ndarray, reach: float) -> np.ndarray:
    """The backdrop's colour near each point of ``small`` (float32 RGB at the
    background's size, ``alpha`` there too): the mean of the clear pixels
    around it, so a product standing in its own shadow mixes with the shadow,
    not with the lit sweep (which made the shadow's first pixels read as
    product: a dark seam under the base); the fitted sweep where no clear
    pixel is near."""
    colour, found = _mean_near(small, alpha < 0.01, reach, 1)
    return np.where(found[..., None], colour, background)


def _product_colour(small: np.ndarray, alpha: np.ndarray, reach: float) -> np.ndarray:
    """The product's own colour near each point: the mean of the solid product
    pixels around it, or, where none is near, in a wider neighbourhood."""
    colour, found = _mean_near(small, alpha > 0.99, reach, 1)
    colour_wide, _ = _mean_near(small, alpha > 0.99, reach, 4)
    return np.where(found[..., None], colour, colour_wide)


def _mean_near(small: np.ndarray, which: np.ndarray, reach: float, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean colour of the ``which`` pixels (bool), taken clear of the edge
    band (``reach`` pixels) where colours are still mixed, over a box ``scale``
    times the band's width round each point, and whether there were any."""
    clear = int(np.ceil(reach)) + 1
    kept = cv2.erode(which.view(np.uint8), np.ones((2 * clear + 1, 2 * clear + 1), np.uint8)).astype(np.float32)
    r = scale * (clear * 2 + 1)
    weight = _box(kept, r)
    return _box(small * kept[..., None], r) / np.maximum(weight, 1e-6)[..., None], weight > 1e-3


def refine(rgb: np.ndarray, coarse_alpha: np.ndarray, background: np.ndarray | None,
           params: RefineParams, subject_px: float) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` uint8 HxWx3 at output size, ``coarse_alpha`` float32 at working
    size covering the same region, ``background`` float32 hxwx3 at working size
    (or None). ``subject_px`` is the subject's long side at output size, which
    sets the guided filter's radius. Returns (uint8 RGB, float32 alpha) at
    output size."""
    h, w = coarse_alpha.shape
    radius = max(1, round(params.radius * subject_px * w / rgb.shape[1]))
    alpha = guided_upsample(coarse_alpha, rgb, radius, params.eps)
    low, high = params.levels
    if (low, high) != (0.0, 1.0):
        alpha = np.clip((alpha - low) * (1 / (high - low)), 0, 1, out=alpha)
    alpha = choke_and_feather(alpha, params.choke_px, params.feather_px)
    if params.decontaminate and background is not None:
        return decontaminate(rgb, alpha, background)
    return rgb, alpha
