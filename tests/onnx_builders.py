"""Tiny ONNX models whose correct mask is known, built with ``onnx.helper``.

``mask_model(contract)`` undoes the contract's normalisation inside the graph
and computes a per-pixel logit from the recovered pixel values:

    logit = GAIN * (w_r * r + w_g * g + w_b * b - THRESHOLD)    with r, g, b in [0, 1]

(r = R/255, or R/max for ``divide_by: max``). Only the right scaling, mean,
std and channel order feed the graph values it turns back into r, g, b; any
mistake moves or flips the mask. Multi-output models carry decoys (a 1/32
scale map, an inverted map) so only the right output index gives the mask,
and the model emits logits or probabilities so a wrong activation shows.
``expected_alpha`` computes the right answer in numpy, independently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.segment.contracts import ModelContract

IR_VERSION = 9  # onnx 1.23 writes a newer IR than onnxruntime loads
OPSET = 17
WEIGHTS = (1.0, 0.5, -1.0)  # r, g, b
THRESHOLD = 0.1
GAIN = 12.0
PROB_RANGE = (0.1, 0.8)  # where a "probabilities" model's sigmoid lands, as IS-Net's rarely hits 0 or 1

Emit = Literal["logits", "probabilities"]


def _const(name: str, values, shape) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.float32).reshape(shape), name)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="booth-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def input_dims(contract: ModelContract) -> list:
    if contract.input_size is None:
        return [1, 3, "height", "width"]
    return [1, 3, contract.input_size, contract.input_size]


def mask_model(
    contract: ModelContract,
    path: Path,
    *,
    emit: Emit = "logits",
    outputs: int = 3,
    input_dims_override: list | None = None,
    fp16_input: bool = False,
) -> Path:
    """A model that honours ``contract``; see the module docstring.

    With ``outputs`` > 1 the real map sits where ``contract.output`` says and
    the others are decoys: a 1/32-scale map first (as BiRefNet exports have)
    when the real one is last, inverted maps elsewhere."""
    order = [0, 1, 2] if contract.colour_order == "rgb" else [2, 1, 0]
    std = [contract.std[c] for c in order]
    mean = [contract.mean[c] for c in order]
    weights = [GAIN * WEIGHTS[c] for c in order]
    lo, hi = PROB_RANGE
    inits = [
        _const("std", std, [1, 3, 1, 1]), _const("mean", mean, [1, 3, 1, 1]),
        _const("w", weights, [1, 3, 1, 1]), _const("b", [-GAIN * THRESHOLD], [1]),
        _const("span", [hi - lo], []), _const("lo", [lo], []), _const("one", [1.0], []),
    ]
    nodes = [helper.make_node("Cast", ["input"], ["input32"], to=TensorProto.FLOAT)] if fp16_input else []
    nodes += [
        helper.make_node("Mul", ["input32" if fp16_input else "input", "std"], ["scaled"]),
        helper.make_node("Add", ["scaled", "mean"], ["unit"]),  # back to pixel / divisor
        helper.make_node("Conv", ["unit", "w", "b"], ["logit"]),
    ]
    if emit == "probabilities":
        nodes += [helper.make_node("Sigmoid", ["logit"], ["p"]),
                  helper.make_node("Mul", ["p", "span"], ["p_span"]),
                  helper.make_node("Add", ["p_span", "lo"], ["real"])]
        nodes.append(helper.make_node("Sub", ["one", "real"], ["inverse"]))
    else:
        nodes.append(helper.make_node("Identity", ["logit"], ["real"]))
        nodes.append(helper.make_node("Neg", ["real"], ["inverse"]))
    nodes.append(helper.make_node("AveragePool", ["inverse"], ["coarse"], kernel_shape=[32, 32], strides=[32, 32]))

    real_at = contract.output % outputs
    names = ["inverse"] * outputs
    names[real_at] = "real"
    if outputs > 1 and real_at != 0:
        names[0] = "coarse"
    # The same tensor cannot be two graph outputs: give each decoy its own name.
    out_infos = []
    for i, name in enumerate(names):
        out_name = f"out{i}"
        nodes.append(helper.make_node("Identity", [name], [out_name]))
        out_infos.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, 1, f"h{i}", f"w{i}"]))
    dims = input_dims_override or input_dims(contract)
    input_type = TensorProto.FLOAT16 if fp16_input else TensorProto.FLOAT
    graph = helper.make_graph(nodes, "mask", [helper.make_tensor_value_info("input", input_type, dims)],
                              out_infos, initializer=inits)
    return _save(graph, path)


def ramp_image(size: int | tuple[int, int], max_value: int = 200) -> np.ndarray:
    """HxWx3 uint8: red ramps left to right, blue top to bottom, green a diagonal
    sawtooth; the brightest value is ``max_value`` (below 255, so dividing by
    255 and by the image's max differ)."""
    h, w = (size, size) if isinstance(size, int) else size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = x / max(w - 1, 1)
    b = y / max(h - 1, 1)
    g = ((3 * x + 7 * y) % w) / w
    img = np.stack([r, g, b], axis=-1) * max_value
    img[0, 0] = max_value  # the maximum is present whatever the size
    return np.round(img).astype(np.uint8)


def expected_alpha(rgb: np.ndarray, contract: ModelContract, emit: Emit = "logits") -> np.ndarray:
    """The matte a correct implementation of ``contract`` gets from ``mask_model``."""
    divisor = 255.0 if contract.divide_by == "255" else float(rgb.max())
    unit = rgb.astype(np.float64) / divisor
    logit = GAIN * (unit @ np.asarray(WEIGHTS) - THRESHOLD)
    prob = 1.0 / (1.0 + np.exp(-logit))
    lo, hi = PROB_RANGE
    raw = logit if emit == "logits" else lo + (hi - lo) * prob
    activation = contract.activation
    if activation == "auto":
        activation = "sigmoid" if emit == "logits" else "none"
    if activation == "sigmoid":
        alpha = 1.0 / (1.0 + np.exp(-raw))
    elif activation == "minmax":
        alpha = (raw - raw.min()) / (raw.max() - raw.min())
    else:
        alpha = raw
    return np.clip(alpha, 0, 1).astype(np.float32)


def conv_stack_model(path: Path, size: int = 1024, channels: int = 16, layers: int = 4, seed: int = 0,
                     stride: int = 2) -> Path:
    """A model of realistic cost for benchmarks: a strided 3x3 conv stem, ``layers``
    3x3 convs with ReLU at ``channels`` wide, a 1x1 head, and an upsample back to
    ``size``. Random weights: the mask means nothing, the time is what counts."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    prev, prev_c = "input", 3
    for i in range(layers + 1):
        w = rng.normal(0, (2 / (9 * prev_c)) ** 0.5, (channels, prev_c, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(channels, np.float32), f"b{i}")]
        s = stride if i == 0 else 1
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], strides=[s, s]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev, prev_c = f"r{i}", channels
    head = rng.normal(0, 0.1, (1, channels, 1, 1)).astype(np.float32)
    inits += [numpy_helper.from_array(head, "head"), _const("scales", [1, 1, stride, stride], [4]),
              _const("roi", [], [0])]
    nodes += [helper.make_node("Conv", [prev, "head"], ["logit_small"]),
              helper.make_node("Resize", ["logit_small", "roi", "scales"], ["logit"], mode="linear")]
    graph = helper.make_graph(
        nodes, "conv_stack",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, [1, 1, size, size])], initializer=inits)
    return _save(graph, path)


def square_only_model(path: Path, side: int) -> Path:
    """A dynamic-input model that runs only on a ``side`` x ``side`` input: its
    output is reshaped to that fixed size, so any other input makes
    onnxruntime fail at run time (as a GPU out of memory would), not at load."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["grey"], axes=[1], keepdims=1),
         helper.make_node("Reshape", ["grey", "shape"], ["output"])],
        "square-only",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, side, side])],
        [numpy_helper.from_array(np.array([1, 1, side, side], np.int64), "shape")])
    return _save(graph, path)
