"""Model I/O contracts: how to feed a segmentation model and how to read its answer.

Two exports of the same architecture can differ in every one of these, and a
wrong one does not crash: it quietly produces a worse (or inverted) matte. So
each built-in model names its contract here, a custom model states one in
``config.yaml``, and the tests check every contract against an ONNX model whose
correct mask is known.

A contract is pure arithmetic on arrays (no onnxruntime here):
``to_tensor`` turns a resized uint8 RGB image into the model's input tensor,
``activate`` turns the model's raw output map into alpha in [0, 1].
"""

from __future__ import annotations

import difflib
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from pipeline.profile import Params

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CENTRED_MEAN = (0.5, 0.5, 0.5)
UNIT_STD = (1.0, 1.0, 1.0)

Activation = Literal["sigmoid", "minmax", "none", "auto"]


class ModelContract(Params):
    """What a model expects and returns. Tensors are NCHW float, batch 1."""

    input_size: int | None = Field(
        1024, ge=16, le=8192,
        description="square input side the model was exported with; null = dynamic input")
    dynamic_long_side: int = Field(
        1024, ge=32, le=8192, description="long side fed to a dynamic-input model (input_size: null)")
    multiple_of: int = Field(32, ge=1, le=256, description="a dynamic input's sides are rounded to this")
    colour_order: Literal["rgb", "bgr"] = "rgb"
    divide_by: Literal["255", "max"] = Field(
        "255", description="scale pixels to [0, 1] by 255, or by the image's own maximum (U2-Net)")
    mean: tuple[float, float, float] = Field(IMAGENET_MEAN, description="subtracted after scaling, in RGB order")
    std: tuple[float, float, float] = Field(IMAGENET_STD, description="divided by after the mean, in RGB order")
    output: int = Field(-1, description="which output holds the matte: 0 = first, -1 = last")
    activation: Activation = Field(
        "sigmoid", description="sigmoid (logits), minmax (stretch to [0, 1]), none, "
                               "or auto (sigmoid only when the output leaves [0, 1])")

    @field_validator("divide_by", mode="before")
    @classmethod
    def _number_to_text(cls, value):
        # YAML reads `divide_by: 255` as an int.
        return str(value) if isinstance(value, int) else value

    @field_validator("std")
    @classmethod
    def _positive_std(cls, value):
        if any(s <= 0 for s in value):
            raise ValueError(f"std must be positive in every channel (got {value})")
        return value

    @model_validator(mode="after")
    def _static_or_dynamic(self):
        if self.input_size is None and self.dynamic_long_side % self.multiple_of:
            raise ValueError(f"dynamic_long_side {self.dynamic_long_side} is not a multiple of {self.multiple_of}")
        return self

    # ------------------------------------------------------------------ input

    def input_hw(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) of the tensor fed for an image of ``shape``.

        Static models take their square size (the image is stretched, as the
        models were trained); dynamic ones keep the aspect ratio with the long
        side at ``dynamic_long_side`` and both sides rounded to ``multiple_of``."""
        if self.input_size is not None:
            return self.input_size, self.input_size
        h, w = shape[:2]
        scale = self.dynamic_long_side / max(h, w)
        m = self.multiple_of
        return max(m, round(h * scale / m) * m), max(m, round(w * scale / m) * m)

    def to_tensor(self, rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """HxWx3 uint8 RGB (already at ``input_hw``) -> 1x3xHxW float32, normalised.

        ``out`` may be a preallocated 1x3xHxW float32 buffer to fill (the
        segmenter reuses one so the per-image path allocates little)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 image, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        if out is None:
            out = np.empty((1, 3, h, w), np.float32)
        divisor = 255.0 if self.divide_by == "255" else max(float(rgb.max()), 1e-6)
        order = (0, 1, 2) if self.colour_order == "rgb" else (2, 1, 0)
        for plane, c in enumerate(order):
            # (x / divisor - mean) / std, folded into one multiply-add per pixel
            gain = 1.0 / (divisor * self.std[c])
            np.multiply(rgb[:, :, c], np.float32(gain), out=out[0, plane], casting="unsafe")
            out[0, plane] -= np.float32(self.mean[c] / self.std[c])
        return out

    # ------------------------------------------------------------------ output

    def activate(self, raw: np.ndarray) -> np.ndarray:
        """The model's HxW output map -> float32 alpha in [0, 1]."""
        raw = raw.astype(np.float32, copy=False)
        kind = self.activation
        if kind == "auto":
            kind = "sigmoid" if float(raw.min()) < 0.0 or float(raw.max()) > 1.0 else "none"
        if kind == "sigmoid":
            # exp of a large negative logit overflows to inf, which 1/(1+inf) maps to 0 correctly
            with np.errstate(over="ignore"):
                alpha = 1.0 / (1.0 + np.exp(-raw))
        elif kind == "minmax":
            lo, hi = float(raw.min()), float(raw.max())
            # A constant map (empty frame) has no range to stretch: keep it as it is.
            alpha = (raw - lo) / (hi - lo) if hi - lo > 1e-6 else raw
        else:
            alpha = raw
        return np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)


def _birefnet(size: int = 1024) -> ModelContract:
    # logits; a multi-output export lists coarse maps first (output[0] is 1/32 scale).
    # Never min-max these: it stretches frames the product fills.
    return ModelContract(input_size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, output=-1, activation="sigmoid")


def _isnet() -> ModelContract:
    # IS-Net's output is already a sigmoid; the reference inference min-max stretches it.
    return ModelContract(input_size=1024, mean=CENTRED_MEAN, std=UNIT_STD, output=0, activation="minmax")


def _u2net() -> ModelContract:
    return ModelContract(input_size=320, divide_by="max", mean=IMAGENET_MEAN, std=IMAGENET_STD,
                         output=0, activation="minmax")


BUILTIN_CONTRACTS: dict[str, ModelContract] = {
    "birefnet-general": _birefnet(),
    "birefnet-lite": _birefnet(),
    "birefnet-massive": _birefnet(),
    "birefnet-hr": _birefnet(2048),
    "isnet-general-use": _isnet(),
    "rmbg-1.4": _isnet(),
    "u2net": _u2net(),
    "u2netp": _u2net(),
    # BiRefNet architecture; exports differ on whether the sigmoid is inside the graph.
    "rmbg-2.0": ModelContract(input_size=1024, output=-1, activation="auto"),
}


def builtin_contract(name: str) -> ModelContract:
    """The contract of a built-in model; a ``ValueError`` naming the close matches otherwise."""
    try:
        return BUILTIN_CONTRACTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(BUILTIN_CONTRACTS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(BUILTIN_CONTRACTS)}"
        raise ValueError(f"no built-in model contract named {name!r} ({hint})") from None
