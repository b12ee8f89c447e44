"""Execution providers: planning, the "really runs" check, and the one-line
diagnosis of missing GPU libraries, with real onnxruntime sessions."""

from __future__ import annotations

import numpy as np
import pytest
from structlog.testing import capture_logs

from pipeline.errors import SegmenterError
from pipeline.segment.contracts import builtin_contract
from pipeline.segment.onnx import OnnxSegmenter
from pipeline.segment.providers import (
    _PROBE_MODEL, CPU, CUDA, TENSORRT, SessionParams, missing_libraries, normalise_providers, open_session,
    plan_providers, provider_options, provider_runs, session_options,
)
from tests.onnx_builders import mask_model, ramp_image

CUDA_RUNS = provider_runs(CUDA)
no_gpu_here = pytest.mark.skipif(CUDA_RUNS, reason="CUDA really runs on this machine")


def warm(session):
    session.run(None, {"x": np.ones((1, 4), np.float32)})


def everything_present(soname: str) -> bool:
    return True


@no_gpu_here
def test_auto_ends_on_cpu_and_says_in_one_line_what_is_missing():
    session, report = open_session(_PROBE_MODEL, "auto", warm_up=warm)
    assert session.get_providers()[0] == CPU
    assert report.active == CPU and not report.on_gpu
    line = report.diagnosis
    assert line is not None and "\n" not in line
    assert line.startswith("running on CPU, not the GPU: CUDA cannot load: missing")
    assert "libcudnn.so.9" in line or "libcuda.so.1" in line or "libcublas" in line
    assert "pip install 'onnxruntime-gpu[cuda,cudnn]'" in line


@no_gpu_here
def test_an_explicit_gpu_only_list_is_an_error_not_a_slow_surprise():
    with pytest.raises(SegmenterError, match=r"none of the requested providers \(CUDA\) can run: CUDA cannot load"):
        open_session(_PROBE_MODEL, ["cuda"], warm_up=warm)


def test_an_explicit_cpu_list_runs_on_cpu_with_nothing_to_diagnose():
    _, report = open_session(_PROBE_MODEL, ["cpu"], warm_up=warm)
    assert report.active == CPU and report.diagnosis is None and report.skipped == {}


def test_a_missing_library_is_named_with_its_fix():
    def no_cudnn(soname):
        return soname != "libcudnn.so.9"

    missing = missing_libraries(CUDA, no_cudnn)
    assert [lib.soname for lib in missing] == ["libcudnn.so.9"]
    plan, skipped = plan_providers(["cuda", "cpu"], probe=no_cudnn)
    assert [name for name, _ in plan] == [CPU]
    assert skipped[CUDA].startswith("CUDA cannot load: missing cuDNN 9 (libcudnn.so.9); fix: pip install")


def test_tensorrt_needs_its_own_libraries_too():
    def no_tensorrt(soname):
        return not soname.startswith("libnv")

    plan, skipped = plan_providers("auto", probe=no_tensorrt)
    assert "libnvinfer.so.10" in skipped[TENSORRT] and "TensorRT 10" in skipped[TENSORRT]
    assert CUDA not in skipped  # CUDA's libraries are all "there"


@no_gpu_here
def test_a_provider_onnxruntime_silently_drops_is_detected():
    """Libraries that seem present but do not work: onnxruntime falls back to the
    CPU with only a log line; the report must say so."""
    _, report = open_session(_PROBE_MODEL, "auto", warm_up=warm, probe=everything_present)
    assert report.active == CPU
    assert CUDA in report.skipped and TENSORRT in report.skipped
    assert report.diagnosis is not None and "\n" not in report.diagnosis


def test_a_provider_missing_from_this_build_is_skipped_with_the_reason():
    plan, skipped = plan_providers(["CoreMLExecutionProvider", "cpu"])
    assert [name for name, _ in plan] == [CPU]
    assert "not in this onnxruntime build" in skipped["CoreMLExecutionProvider"]


def test_tensorrt_options_keep_fp16_and_both_caches_in_the_cache_folder(tmp_path):
    options = provider_options(TENSORRT, SessionParams(), tmp_path)
    assert options["trt_fp16_enable"] is True
    assert options["trt_engine_cache_enable"] and options["trt_timing_cache_enable"]
    assert options["trt_engine_cache_path"] == options["trt_timing_cache_path"] == str(tmp_path / "tensorrt")
    assert (tmp_path / "tensorrt").is_dir()
    assert provider_options(TENSORRT, SessionParams(trt_fp16=False), None) == {"device_id": 0, "trt_fp16_enable": False}


def test_session_options_carry_threads_and_optimisation_level():
    import onnxruntime as ort

    so = session_options(SessionParams(intra_op_threads=2, inter_op_threads=1, graph_optimization="basic"))
    assert so.intra_op_num_threads == 2 and so.inter_op_num_threads == 1
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


def test_provider_names_are_normalised():
    assert normalise_providers("auto") == "auto"
    assert normalise_providers(["TRT", "cuda", "cpu", "cuda"]) == (TENSORRT, CUDA, CPU)
    with pytest.raises(ValueError, match="unknown execution provider 'gpu'"):
        normalise_providers(["gpu"])


def test_the_segmenter_logs_the_provider_in_use_at_start(tmp_path):
    contract = builtin_contract("u2netp")
    path = mask_model(contract, tmp_path / "u2netp.onnx", emit="probabilities")
    with capture_logs() as logs:
        seg = OnnxSegmenter(path, contract, providers=["cpu"])
    assert seg.provider == CPU
    ready = [e for e in logs if e["event"] == "segmenter ready"]
    assert ready and ready[0]["provider"] == CPU and ready[0]["model"] == str(path)


@no_gpu_here
def test_the_segmenter_warns_when_auto_lands_on_cpu(tmp_path):
    contract = builtin_contract("u2netp")
    path = mask_model(contract, tmp_path / "u2netp.onnx", emit="probabilities")
    with capture_logs() as logs:
        OnnxSegmenter(path, contract)
    warning = [e for e in logs if e["event"] == "segmenter not on the GPU"]
    assert warning and warning[0]["provider"] == CPU and "missing" in warning[0]["diagnosis"]


@pytest.mark.parametrize("provider", [CUDA, TENSORRT])
@pytest.mark.gpu
def test_gpu_segmenter_matches_cpu(tmp_path, provider):
    if not provider_runs(provider):
        pytest.skip(f"{provider} is not usable here (no GPU or libraries)")
    contract = builtin_contract("birefnet-general")
    path = mask_model(contract, tmp_path / "m.onnx")
    rgb = ramp_image(1024)
    on_gpu = OnnxSegmenter(path, contract, providers=[provider], cache_dir=tmp_path / "cache")
    assert on_gpu.provider == provider and on_gpu.report.diagnosis is None
    on_cpu = OnnxSegmenter(path, contract, providers=["cpu"])
    assert np.abs(on_gpu.predict(rgb) - on_cpu.predict(rgb)).max() < 0.02  # TensorRT runs fp16
