"""Learned segmentation: any ONNX matting/saliency model, driven by its contract.

One ``OnnxSegmenter`` per process: the session is created, checked against
the contract and warmed up in ``__init__`` (on the first provider that really
runs, see ``providers``), then reused for every photo. Per photo the work is
resize -> normalise into a buffer allocated once -> run -> activate -> resize
back, plus an optional second pass for small subjects.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Literal, Sequence

import cv2
import numpy as np
import structlog
from pydantic import Field

from pipeline.compose import subject_box
from pipeline.errors import SegmenterError
from pipeline.profile import Params
from pipeline.segment import white_studio as ws
from pipeline.segment.base import Doubt, Segmentation, downsample, estimate_background, working_size
from pipeline.segment.contracts import ModelContract
from pipeline.segment.providers import GPU_PROVIDERS, SessionParams, first_line, open_session

log = structlog.get_logger("segment")


class SecondPassParams(Params):
    """A product that fills little of the frame gets few model pixels: run the
    model again on the padded subject crop, cut from the full-resolution photo,
    and merge the sharper matte in."""

    enabled: bool = False
    max_subject: float = Field(0.4, gt=0, le=1, description="run it when the subject's box is below this "
                                                            "fraction of the photo's long side")
    padding: float = Field(0.15, ge=0, le=1, description="margin around the subject, fraction of its box")
    threshold: float = Field(0.5, gt=0, lt=1, description="alpha that counts as subject when boxing it")
    max_long_side: int = Field(4096, ge=256, le=16384, description="cap on the merged matte's long side")


class ContractMismatch(SegmenterError):
    """The model file's inputs/outputs do not fit the contract it was configured with."""


def fp16_variant(path: Path) -> Path:
    """``birefnet-general.onnx`` -> ``birefnet-general.fp16.onnx`` beside it."""
    return path.with_name(f"{path.stem}.fp16{path.suffix}")


class OnnxSegmenter:
    """``segment(rgb)`` for one ONNX model. Thread-safe; meant to be built once."""

    def __init__(
        self,
        model_path: Path,
        contract: ModelContract,
        *,
        name: str | None = None,
        providers: Literal["auto"] | Sequence[str] = "auto",
        session: SessionParams = SessionParams(),
        second_pass: SecondPassParams = SecondPassParams(),
        cache_dir: Path | None = None,
    ) -> None:
        path = Path(model_path)
        if session.fp16:
            path = fp16_variant(path)
            if not path.is_file():
                raise SegmenterError(
                    f"{path}: no fp16 variant of the model (session.fp16 is on). Make one with "
                    "onnxconverter_common.float16.convert_float_to_float16(model, keep_io_types=True), "
                    "compare its mattes with the fp32 model, and save it under this name")
        if not path.is_file():
            raise SegmenterError(f"{path}: no such model file")
        self.name = name or path.stem
        self.model_path = path
        self.contract = contract
        self.second_pass = second_pass
        self._params = session
        self._lock = threading.Lock()
        self._buffer: np.ndarray | None = None
        t0 = time.perf_counter()
        self._session, self.report = open_session(path, providers, session, cache_dir, warm_up=self._warm_up)
        self.warmup_ms = (time.perf_counter() - t0) * 1000
        self._log_start()

    @property
    def provider(self) -> str:
        return self.report.active

    # ------------------------------------------------------------------ start

    def _warm_up(self, session: Any) -> None:
        """Bind to ``session`` (checking it against the contract) and run it once."""
        self._bind(session)
        h, w = self.contract.input_hw((self.contract.dynamic_long_side,) * 2)
        self._run(session, np.zeros((1, 3, h, w), np.float32))

    def _bind(self, session: Any) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        where = str(self.model_path)
        if len(inputs) != 1:
            raise ContractMismatch(f"{where}: expected one image input, the model has "
                                   f"{[i.name for i in inputs]}")
        shape = list(inputs[0].shape)
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ContractMismatch(f"{where}: input {inputs[0].name!r} is {shape}, expected [1, 3, H, W]")
        static = [d for d in shape[2:] if isinstance(d, int)]
        size = self.contract.input_size
        if size is None and static:
            raise ContractMismatch(f"{where}: the model's input is fixed at {shape[2:]}, but the contract "
                                   "says dynamic (input_size: null); set input_size")
        if size is not None and static and static != [size, size]:
            raise ContractMismatch(f"{where}: the model's input is {shape[2]}x{shape[3]}, "
                                   f"the contract says {size}x{size}")
        index = self.contract.output
        if not -len(outputs) <= index < len(outputs):
            raise ContractMismatch(f"{where}: the contract reads output {index}, the model has "
                                   f"{len(outputs)}: {[o.name for o in outputs]}")
        self._input_name = inputs[0].name
        self._input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        self._output_name = outputs[index].name
        self._device = "cuda" if session.get_providers()[0] in GPU_PROVIDERS else "cpu"

    def _log_start(self) -> None:
        fields = dict(segmenter=self.name, model=str(self.model_path), provider=self.report.active,
                      warmup_ms=round(self.warmup_ms))
        if self.report.diagnosis:
            log.warning("segmenter not on the GPU", diagnosis=self.report.diagnosis, **fields)
        else:
            # e.g. on CUDA because TensorRT's libraries are missing: say why, once
            log.info("segmenter ready", **fields, **({"skipped": self.report.skipped} if self.report.skipped else {}))

    # ------------------------------------------------------------------ per photo

    def segment(self, rgb: np.ndarray) -> Segmentation:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 image, got {rgb.dtype} {rgb.shape}")
        alpha, seen = self._predict(rgb)
        if self.second_pass.enabled:
            alpha = self._second_pass(rgb, alpha)
        # The doubts look at the photo on a small copy made from the model's own input (cheap).
        view = cv2.resize(seen, working_size(rgb.shape, _SWEEP_CHECK.working_size), interpolation=cv2.INTER_AREA)
        return Segmentation(alpha=alpha, background=estimate_background(rgb, alpha), doubts=model_doubts(view, alpha))

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """The model's alpha for ``rgb`` (HxWx3 uint8), float32 in [0, 1], at the
        photo's aspect ratio with the long side of the model's input (never
        larger than the photo)."""
        return self._predict(rgb)[0]

    def _predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The alpha and the resized photo the model saw."""
        h, w = self.contract.input_hw(rgb.shape)
        interpolation = cv2.INTER_AREA if rgb.shape[0] >= h and rgb.shape[1] >= w else cv2.INTER_LINEAR
        small = rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=interpolation)
        with self._lock:
            try:
                raw = self._run(self._session, self.contract.to_tensor(small, out=self._input_buffer(h, w)))
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - onnxruntime's errors derive from Exception only
                # A run that fails (the GPU out of memory, a driver reset) is the
                # segmenter's failure, not the photo's: the daemon waits and retries.
                raise SegmenterError(f"{self.name} on {self.provider}: the model failed to run: "
                                     f"{type(exc).__name__}: {first_line(exc)}") from exc
        while raw.ndim > 2:
            raw = raw[0]
        alpha = self.contract.activate(raw)
        out_w, out_h = working_size(rgb.shape, max(h, w))
        if alpha.shape != (out_h, out_w):
            alpha = cv2.resize(alpha, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        return np.clip(alpha, 0.0, 1.0, out=alpha), small

    def _input_buffer(self, h: int, w: int) -> np.ndarray:
        # One buffer for a static model's input, refilled per photo: no 12-48 MB
        # allocation per image, and nothing for the allocator to fragment.
        if self._buffer is None or self._buffer.shape[2:] != (h, w):
            self._buffer = np.empty((1, 3, h, w), np.float32)
        return self._buffer

    def _run(self, session: Any, tensor: np.ndarray) -> np.ndarray:
        tensor = tensor.astype(self._input_dtype, copy=False)
        if not self._params.io_binding:
            out = session.run([self._output_name], {self._input_name: tensor})[0]
        else:
            binding = session.io_binding()
            binding.bind_cpu_input(self._input_name, tensor)
            binding.bind_output(self._output_name, self._device, self._params.cuda_device)
            session.run_with_iobinding(binding)
            out = binding.copy_outputs_to_cpu()[0]
        return np.asarray(out, dtype=np.float32)

    # ------------------------------------------------------------------ second pass

    def _second_pass(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        params = self.second_pass
        found = subject_box(alpha, params.threshold)
        if found is None:
            return alpha  # nothing found: no crop to refine
        ah, aw = alpha.shape
        box = found.pixels()
        x0, y0, x1, y1 = box
        if max((x1 - x0) / aw, (y1 - y0) / ah) >= params.max_subject:
            return alpha
        H, W = rgb.shape[:2]
        crop = _padded_square(box, aw / W, params.padding, (H, W))
        cx0, cy0, cx1, cy1 = crop
        crop_alpha = self.predict(rgb[cy0:cy1, cx0:cx1])
        # The merged matte keeps the crop's resolution (at most the photo's, and capped).
        scale = min(crop_alpha.shape[1] / (cx1 - cx0), 1.0, params.max_long_side / max(H, W))
        mw, mh = max(1, round(W * scale)), max(1, round(H * scale))
        merged = cv2.resize(alpha, (mw, mh), interpolation=cv2.INTER_LINEAR)
        mx0, my0 = round(cx0 * scale), round(cy0 * scale)
        mx1, my1 = max(mx0 + 1, round(cx1 * scale)), max(my0 + 1, round(cy1 * scale))
        # Outside the padded crop the first pass said "sweep" (the padding is sweep
        # by construction), so pasting the crop's matte leaves no visible seam.
        merged[my0:my1, mx0:mx1] = cv2.resize(crop_alpha, (mx1 - mx0, my1 - my0),
                                              interpolation=cv2.INTER_LINEAR)
        return merged


def _padded_square(box: tuple[int, int, int, int], scale: float, padding: float,
                   shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box (in alpha pixels, ``scale`` alpha px per photo px) as a padded square
    in photo pixels, shifted and clipped to stay inside the photo. Square, because
    static models stretch their input to a square."""
    H, W = shape
    x0, y0, x1, y1 = (v / scale for v in box)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * padding) + 2 / scale  # +1 alpha px each side for blur
    side = min(side, W, H)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(round(min(max(cx - side / 2, 0), W - side)))
    top = int(round(min(max(cy - side / 2, 0), H - side)))
    right, bottom = min(W, left + int(round(side))), min(H, top + int(round(side)))
    return left, top, right, bottom


# --- doubts: where the model itself, or the sweep, says the cut-out may be wrong ---

_SWEEP_CHECK = ws.WhiteStudioParams(working_size=512)  # the sweep is judged on a small copy: cheap, smooth
_NEAR = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))


def model_doubts(rgb: np.ndarray, alpha: np.ndarray) -> tuple[Doubt, ...]:
    """The doubts about a model's ``alpha`` for ``rgb`` (the photo, or a smaller
    copy of it with its aspect ratio: it is judged at 512 px): how undecided
    the model is round the product, and, where the photo has a clean light
    sweep, whether white-studio's reading of the sweep agrees with it."""
    found = [undecided(alpha), *against_sweep(rgb, alpha)]
    return tuple(d for d in found if d.severity > 0)


def undecided(alpha: np.ndarray) -> Doubt:
    """Share of the subject's box (what the model gives at least 0.1) where it
    says neither product nor backdrop (0.1 .. 0.9). A sure model is undecided
    only along the product's edge, a pixel or two wide."""
    box = subject_box(alpha, 0.1)
    share = 0.0
    if box is not None:
        x0, y0, x1, y1 = box.pixels()
        inside = alpha[y0:y1, x0:x1]
        share = np.count_nonzero((inside > 0.1) & (inside < 0.9)) / inside.size
    return Doubt("undecided", ws.ramp(share, 0.1, 0.35), "the cut-out model was unsure which parts are the product")


def against_sweep(rgb: np.ndarray, alpha: np.ndarray) -> list[Doubt]:
    """Where the backdrop is a clean light sweep (white-studio's fit explains
    nearly all of it): textured product colour the model left out, and a cast
    shadow it kept (white-studio's own test)."""
    p = _SWEEP_CHECK
    small = np.ascontiguousarray(downsample(rgb, p.working_size))
    lab = ws.to_lab(small)
    sweep = ws.fit_sweep(lab, p)
    if sweep is None:
        return []
    a = cv2.resize(alpha, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    seen = ws.judge(lab, sweep, p)
    backdrop = a < 0.05
    if np.count_nonzero(backdrop & (seen.lit == 0)) > 0.25 * max(np.count_nonzero(backdrop), 1):
        return []  # not a clean sweep: it cannot vouch for or against the model
    subject = (a >= 0.5).view(np.uint8)
    min_area = p.min_object * a.size
    doubts = [Doubt("sweep-disagrees", ws.ramp(_missed_share(seen, subject, min_area, p), 0.01, 0.05),
                    "something that stands out from the backdrop was left out of the cut-out")]
    if subject.any():
        doubts.append(Doubt("shadow-kept", ws.ramp(ws.kept_shadow_share(subject, lab, sweep, seen, min_area),
                                                    0.01, 0.05),
                            "a shadow on the backdrop may be part of the cut-out"))
    return doubts


def _missed_share(seen: "ws.Judgement", subject: np.ndarray, min_area: float, p: ws.WhiteStudioParams) -> float:
    """Area of product evidence away from the cut-out -- its own colour or too
    dark for a shadow, and textured (a shadow and spilled light are smooth) --
    as a share of the cut-out."""
    solid = (seen.solid > 0) & (seen.dark_smooth == 0) & (cv2.dilate(subject, _NEAR) == 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid.view(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    texture = np.bincount(labels.ravel(), weights=seen.texture.ravel(), minlength=n)
    area = stats[:, cv2.CC_STAT_AREA]
    missed = (area >= min_area) & (texture >= p.texture_threshold * area)
    missed[0] = False
    return float(area[missed].sum() / max(np.count_nonzero(subject), area[missed].sum(), 1))
