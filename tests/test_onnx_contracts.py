"""Every built-in contract against a real ONNX Runtime session on a model whose
correct mask is known (tests/onnx_builders.py). A wrong scaling, mean/std,
channel order, output index or activation must fail these tests; the
``mutated`` tests prove that it does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.onnx_builders import expected_alpha, mask_model, ramp_image, square_only_model
from pipeline.errors import SegmenterError
from pipeline.segment import SegmenterConfig, build_segmenter
from pipeline.segment.base import Segmentation
from pipeline.segment.contracts import BUILTIN_CONTRACTS, ModelContract, builtin_contract
from pipeline.segment.onnx import ContractMismatch, OnnxSegmenter, SecondPassParams
from pipeline.segment.providers import SessionParams

CPU = ["cpu"]
TOLERANCE = 2e-3  # float32 through the graph and the folded normalisation


def emits(name: str) -> str:
    """What the real model family emits: BiRefNet logits, IS-Net/U2-Net probabilities."""
    return "logits" if BUILTIN_CONTRACTS[name].activation in ("sigmoid", "auto") else "probabilities"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """One model per (contract, what it emits), built once for the module."""
    folder = tmp_path_factory.mktemp("models")
    cache: dict[tuple[str, str], Path] = {}

    def get(name: str, emit: str | None = None) -> Path:
        emit = emit or emits(name)
        if (name, emit) not in cache:
            cache[(name, emit)] = mask_model(BUILTIN_CONTRACTS[name], folder / f"{name}-{emit}.onnx", emit=emit)
        return cache[(name, emit)]

    return get  # type: ignore[return-value]


def size_of(contract: ModelContract) -> int:
    return contract.input_size or contract.dynamic_long_side


@pytest.mark.parametrize("name", list(BUILTIN_CONTRACTS))
def test_builtin_contract_gives_the_known_mask(models, name):
    contract = builtin_contract(name)
    rgb = ramp_image(size_of(contract))
    seg = OnnxSegmenter(models(name), contract, providers=CPU).segment(rgb)
    expected = expected_alpha(rgb, contract, emits(name))
    assert seg.alpha.shape == expected.shape
    assert np.abs(seg.alpha - expected).max() < TOLERANCE
    assert 0.1 < (seg.alpha > 0.5).mean() < 0.9  # the mask is neither empty nor everything


def _mutations(contract: ModelContract) -> dict[str, dict]:
    swapped_norm = ({"mean": (0.5, 0.5, 0.5), "std": (1.0, 1.0, 1.0)} if contract.std != (1.0, 1.0, 1.0)
                    else {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)})
    wrong_activation = {"sigmoid": "minmax", "minmax": "sigmoid", "auto": "none", "none": "sigmoid"}
    return {
        "channel order": {"colour_order": "bgr" if contract.colour_order == "rgb" else "rgb"},
        "mean/std": swapped_norm,
        "scaling": {"divide_by": "max" if contract.divide_by == "255" else "255"},
        "output index": {"output": 0 if contract.output == -1 else -1},
        "activation": {"activation": wrong_activation[contract.activation]},
    }


# One contract per family: the others differ from these only in input size.
FAMILIES = ["birefnet-general", "isnet-general-use", "u2net", "rmbg-2.0"]


def test_the_families_cover_every_contract():
    def family(c):
        return c.model_copy(update={"input_size": None})

    assert {family(c) for c in BUILTIN_CONTRACTS.values()} == {family(BUILTIN_CONTRACTS[n]) for n in FAMILIES}


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("mistake", ["channel order", "mean/std", "scaling", "output index", "activation"])
def test_a_wrong_contract_gives_a_wrong_mask(models, name, mistake):
    """The right model read with one thing wrong is caught by the check above."""
    contract = builtin_contract(name)
    wrong = contract.model_copy(update=_mutations(contract)[mistake])
    rgb = ramp_image(size_of(contract))
    alpha = OnnxSegmenter(models(name), wrong, providers=CPU).predict(rgb)
    expected = expected_alpha(rgb, contract, emits(name))
    assert alpha.shape != expected.shape or np.abs(alpha - expected).max() > 50 * TOLERANCE


def test_double_sigmoid_is_caught(models):
    """Applying a sigmoid to a model that already outputs probabilities squashes
    alpha into [0.5, 0.73]: the activation test must see that."""
    contract = builtin_contract("isnet-general-use").model_copy(update={"activation": "sigmoid"})
    alpha = OnnxSegmenter(models("isnet-general-use"), contract, providers=CPU).predict(ramp_image(1024))
    assert alpha.min() >= 0.5 and alpha.max() < 0.74


@pytest.mark.parametrize("emit", ["logits", "probabilities"])
def test_auto_activation_applies_sigmoid_only_to_logits(models, emit):
    contract = builtin_contract("rmbg-2.0")
    rgb = ramp_image(1024)
    alpha = OnnxSegmenter(models("rmbg-2.0", emit), contract, providers=CPU).predict(rgb)
    assert np.abs(alpha - expected_alpha(rgb, contract, emit)).max() < TOLERANCE


def test_a_non_square_photo_keeps_its_aspect_ratio(models):
    contract = builtin_contract("u2net")
    rgb = ramp_image((600, 900))
    alpha = OnnxSegmenter(models("u2net"), contract, providers=CPU).predict(rgb)
    assert alpha.shape == (213, 320)


def test_dynamic_input_rounds_to_a_multiple_of_32(tmp_path):
    contract = ModelContract(input_size=None, dynamic_long_side=256, activation="sigmoid", output=0)
    path = mask_model(contract, tmp_path / "dynamic.onnx", outputs=1)
    seg = OnnxSegmenter(path, contract, providers=CPU)
    assert contract.input_hw((300, 200)) == (256, 160)
    rgb = ramp_image((300, 200))
    alpha = seg.predict(rgb)
    assert alpha.shape == (256, 171)  # the photo's aspect at the model's long side
    import cv2

    expected = expected_alpha(cv2.resize(rgb, (171, 256), interpolation=cv2.INTER_AREA), contract)
    assert ((alpha > 0.5) == (expected > 0.5)).mean() > 0.97


def test_segment_returns_a_segmentation_with_the_sweep_colour(models):
    rgb = np.full((512, 512, 3), (40, 40, 220), np.uint8)  # blue: "sweep" for this model
    rgb[200:300, 200:300] = (230, 40, 40)  # red: "product"
    seg = OnnxSegmenter(models("birefnet-general"), builtin_contract("birefnet-general"), providers=CPU).segment(rgb)
    assert isinstance(seg, Segmentation)
    assert seg.alpha.dtype == np.float32 and seg.alpha.shape == (512, 512)
    assert seg.alpha[250, 250] > 0.99 and seg.alpha[10, 10] < 0.01
    assert np.allclose(seg.background[0, 0], (40, 40, 220))


def test_the_input_photo_is_not_modified(models):
    rgb = ramp_image(700)
    before = rgb.copy()
    OnnxSegmenter(models("u2net"), builtin_contract("u2net"), providers=CPU).segment(rgb)
    assert np.array_equal(rgb, before)


def test_one_session_serves_every_photo(models, monkeypatch):
    import onnxruntime as ort

    seg = OnnxSegmenter(models("u2net"), builtin_contract("u2net"), providers=CPU)
    created = []
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: created.append(a))
    for _ in range(5):
        seg.segment(ramp_image(400))
    assert created == []


def test_io_binding_gives_the_same_mask(models):
    contract = builtin_contract("birefnet-general")
    rgb = ramp_image(1024)
    plain = OnnxSegmenter(models("birefnet-general"), contract, providers=CPU).predict(rgb)
    bound = OnnxSegmenter(models("birefnet-general"), contract, providers=CPU,
                          session=SessionParams(io_binding=True, intra_op_threads=1,
                                                graph_optimization="basic")).predict(rgb)
    assert np.array_equal(plain, bound)


# --------------------------------------------------------------------------- load-time checks


def test_a_model_of_the_wrong_size_is_refused_naming_both_sizes(models):
    with pytest.raises(ContractMismatch, match=r"320x320.*1024x1024"):
        OnnxSegmenter(models("u2net"), builtin_contract("birefnet-general"), providers=CPU)


def test_an_output_index_the_model_lacks_is_refused(tmp_path):
    contract = builtin_contract("birefnet-general")
    path = mask_model(contract, tmp_path / "one.onnx", outputs=1)
    with pytest.raises(ContractMismatch, match="output 3"):
        OnnxSegmenter(path, contract.model_copy(update={"output": 3}), providers=CPU)


def test_a_missing_fp16_variant_names_the_file_it_wanted(models):
    with pytest.raises(SegmenterError, match=r"u2net-probabilities\.fp16\.onnx"):
        OnnxSegmenter(models("u2net"), builtin_contract("u2net"), providers=CPU, session=SessionParams(fp16=True))


def test_the_fp16_variant_is_loaded_and_fed_float16(tmp_path):
    contract = builtin_contract("birefnet-lite")
    mask_model(contract, tmp_path / "lite.onnx")
    mask_model(contract, tmp_path / "lite.fp16.onnx", fp16_input=True)
    seg = OnnxSegmenter(tmp_path / "lite.onnx", contract, providers=CPU, session=SessionParams(fp16=True))
    assert seg.model_path.name == "lite.fp16.onnx"
    rgb = ramp_image(1024)
    assert np.abs(seg.predict(rgb) - expected_alpha(rgb, contract)).max() < 0.02  # fp16 input rounding


def test_memory_stays_flat_over_many_photos(tmp_path):
    def rss_kb() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    contract = ModelContract(input_size=128, output=0, activation="sigmoid")
    seg = OnnxSegmenter(mask_model(contract, tmp_path / "m.onnx", outputs=1), contract, providers=CPU)
    rgb = ramp_image(400)
    for _ in range(30):
        seg.segment(rgb)
    before = rss_kb()
    for _ in range(500):
        seg.segment(rgb)
    assert rss_kb() - before < 4096


def test_a_corrupt_model_file_is_a_segmenter_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(SegmenterError, match="bad.onnx"):
        OnnxSegmenter(bad, builtin_contract("u2net"), providers=CPU)


# --------------------------------------------------------------------------- second pass


def test_a_model_that_fails_to_run_is_a_segmenter_error_naming_it(tmp_path):
    """onnxruntime's run-time errors are not the photo's fault: they reach the
    daemon as a SegmenterError (it waits and retries; it does not quarantine)."""
    contract = ModelContract(input_size=None, dynamic_long_side=256, activation="none", output=0)
    seg = OnnxSegmenter(square_only_model(tmp_path / "square.onnx", 256), contract, name="square", providers=CPU)
    assert seg.predict(ramp_image(300)).shape == (256, 256)  # the size it was warmed up on runs
    with pytest.raises(SegmenterError, match=r"^square on CPUExecutionProvider: the model failed to run: "):
        seg.segment(ramp_image((300, 200)))


def test_second_pass_sharpens_a_small_subject(tmp_path):
    contract = ModelContract(input_size=64, output=0, activation="sigmoid")
    path = mask_model(contract, tmp_path / "small.onnx", outputs=1)
    rgb = np.full((512, 512, 3), (40, 40, 220), np.uint8)
    rgb[300:316, 100:124] = (230, 40, 40)  # a 24x16 product in a 512 photo: 3x2 model pixels
    one = OnnxSegmenter(path, contract, providers=CPU).segment(rgb)
    two = OnnxSegmenter(path, contract, providers=CPU,
                        second_pass=SecondPassParams(enabled=True, padding=0.5)).segment(rgb)
    assert one.alpha.shape == (64, 64)
    assert two.alpha.shape == (512, 512)
    truth = np.zeros((512, 512), bool)
    truth[300:316, 100:124] = True
    assert ((two.alpha > 0.5) == truth).mean() > 0.9995
    assert two.alpha[305:311, 105:119].min() > 0.99 and two.alpha[:250].max() < 0.01


def test_second_pass_leaves_a_large_subject_alone(tmp_path):
    contract = ModelContract(input_size=64, output=0, activation="sigmoid")
    path = mask_model(contract, tmp_path / "large.onnx", outputs=1)
    rgb = np.full((512, 512, 3), (40, 40, 220), np.uint8)
    rgb[50:450, 60:470] = (230, 40, 40)
    seg = OnnxSegmenter(path, contract, providers=CPU, second_pass=SecondPassParams(enabled=True)).segment(rgb)
    assert seg.alpha.shape == (64, 64)


# --------------------------------------------------------------------------- build_segmenter


def test_build_segmenter_resolves_a_builtin_name(models):
    calls = []

    def resolve(name):
        calls.append(name)
        return models("u2netp")

    seg = build_segmenter(SegmenterConfig(name="u2netp", providers=["cpu"]), resolve_model=resolve)
    assert calls == ["u2netp"] and seg.name == "u2netp"
    assert seg.predict(ramp_image(320)).shape == (320, 320)


def test_build_segmenter_loads_a_custom_model_with_its_contract(models):
    config = SegmenterConfig(name="custom", path=models("isnet-general-use"), contract="isnet-general-use",
                             providers=["cpu"])
    rgb = ramp_image(1024)
    alpha = build_segmenter(config).predict(rgb)
    assert np.abs(alpha - expected_alpha(rgb, builtin_contract("isnet-general-use"), "probabilities")).max() < TOLERANCE


def test_a_custom_contract_from_config(tmp_path):
    config = SegmenterConfig.model_validate({
        "name": "custom", "path": str(tmp_path / "m.onnx"), "providers": "auto",
        "contract": {"input_size": 64, "colour_order": "bgr", "divide_by": 255, "mean": [0.5, 0.5, 0.5],
                     "std": [1, 1, 1], "output": 0, "activation": "minmax"}})
    contract = config.resolved_contract()
    mask_model(contract, tmp_path / "m.onnx", emit="probabilities", outputs=2)
    rgb = ramp_image(64)
    alpha = build_segmenter(config).predict(rgb)
    assert np.abs(alpha - expected_alpha(rgb, contract, "probabilities")).max() < TOLERANCE


def test_load_failure_fails_at_start_with_the_reason(tmp_path):
    config = SegmenterConfig(name="custom", path=tmp_path / "absent.onnx", contract="u2net")
    with pytest.raises(SegmenterError, match=r"absent\.onnx: no such model file"):
        build_segmenter(config)


def test_a_resolver_refusal_is_the_reason_given(tmp_path):
    def refuse(name):
        raise RuntimeError(f"{name}: hash mismatch, refused")

    with pytest.raises(SegmenterError, match="hash mismatch, refused"):
        build_segmenter(SegmenterConfig(name="u2net"), resolve_model=refuse)


def test_load_failure_falls_back_to_white_studio_loudly(tmp_path):
    from structlog.testing import capture_logs

    import pipeline.segment.white_studio as ws

    if not hasattr(ws, "WhiteStudioSegmenter"):
        pytest.skip("white-studio segmenter not available")
    config = SegmenterConfig(name="custom", path=tmp_path / "absent.onnx", contract="u2net",
                             on_load_failure="white-studio")
    with capture_logs() as logs:
        seg = build_segmenter(config)
    assert seg.name == "white-studio"
    warning = [e for e in logs if e["log_level"] == "warning"]
    assert warning and "FALLBACK" in warning[0]["event"] and "absent.onnx" in warning[0]["reason"]


def test_config_names_unknown_models_and_providers():
    with pytest.raises(ValueError, match="did you mean 'birefnet-general'"):
        SegmenterConfig(name="birefnet-generl")
    with pytest.raises(ValueError, match="unknown execution provider 'gpu'"):
        SegmenterConfig(name="u2net", providers=["gpu"])
    with pytest.raises(ValueError, match="custom needs both"):
        SegmenterConfig(name="custom")
    assert SegmenterConfig(name="u2net", providers=["cuda", "CPU"]).providers == (
        "CUDAExecutionProvider", "CPUExecutionProvider")
