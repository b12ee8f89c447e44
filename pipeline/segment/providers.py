"""Execution providers: which onnxruntime backend runs the model, and proof that it does.

``onnxruntime-gpu`` lists TensorRT and CUDA as available even on a machine
without their libraries; asked for them, it logs an error and quietly runs on
the CPU, 20-50x slower. So before a provider is tried its shared libraries are
probed (``ctypes``), providers that cannot load are skipped with a reason,
and after the session is created and warmed up ``session.get_providers()``
says what really runs. ``ProviderReport.diagnosis`` is one line: what is
missing and how to fix it.

``auto`` = TensorRT (fp16, engine and timing caches under the cache folder),
then CUDA, then CPU. An explicit list is tried in its order; when it leaves
out the CPU, ending up on the CPU is an error rather than a slow surprise.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import site
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from pipeline.errors import SegmenterError
from pipeline.profile import Params

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)
AUTO_ORDER = (TENSORRT, CUDA, CPU)
_SHORT_NAMES = {"tensorrt": TENSORRT, "trt": TENSORRT, "cuda": CUDA, "cpu": CPU}


def normalise_providers(value: Any) -> Literal["auto"] | tuple[str, ...]:
    """'auto', or a list of short ('tensorrt', 'cuda', 'cpu') or full onnxruntime names."""
    if value == "auto":
        return "auto"
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("providers must be 'auto' or a non-empty list such as [cuda, cpu]")
    names = []
    for item in value:
        name = _SHORT_NAMES.get(str(item).lower(), str(item))
        if not name.endswith("ExecutionProvider"):
            raise ValueError(f"unknown execution provider {item!r}: use tensorrt, cuda, cpu "
                             "or an onnxruntime name such as 'OpenVINOExecutionProvider'")
        if name not in names:
            names.append(name)
    return tuple(names)


class SessionParams(Params):
    """onnxruntime session settings; the defaults suit one photo at a time."""

    intra_op_threads: int = Field(0, ge=0, le=256, description="threads inside one operator; 0 = one per core")
    inter_op_threads: int = Field(0, ge=0, le=256, description="threads across operators; 0 = onnxruntime's default")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    fp16: bool = Field(False, description="load the model's fp16 variant, <name>.fp16.onnx beside it")
    io_binding: bool = Field(False, description="bind input/output buffers (saves a copy on the GPU)")
    spin: bool = Field(False, description="let idle onnxruntime threads spin; off, so the CPU they would "
                                          "burn goes to decoding and finishing other photos")
    trt_fp16: bool = Field(True, description="let TensorRT build fp16 kernels")
    cuda_device: int = Field(0, ge=0, le=64)

    @field_validator("graph_optimization", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- libraries


@dataclass(frozen=True)
class Library:
    soname: str
    what: str  # what a person installs to get it


def _cuda_major() -> str:
    try:
        from onnxruntime.capi import build_and_package_info as info

        return str(getattr(info, "cuda_version", "") or "13").split(".")[0]
    except ImportError:
        return "13"


def required_libraries(provider: str) -> tuple[Library, ...]:
    """The shared libraries ``provider`` loads at start (what ``ldd`` and the
    provider's lazy loads ask for), in the order they must be loaded."""
    major = _cuda_major()
    cuda = (
        Library("libcuda.so.1", "NVIDIA driver"),
        Library(f"libcudart.so.{major}", f"CUDA {major}"),
        Library(f"libcublasLt.so.{major}", f"CUDA {major}"),
        Library(f"libcublas.so.{major}", f"CUDA {major}"),
        Library("libcurand.so.10", f"CUDA {major}"),
        Library("libcudnn.so.9", "cuDNN 9"),
    )
    if provider == CUDA:
        return cuda
    if provider == TENSORRT:
        return cuda + (Library("libnvinfer.so.10", "TensorRT 10"), Library("libnvonnxparser.so.10", "TensorRT 10"))
    return ()


def _wheel_library_dirs() -> list[Path]:
    """lib folders of NVIDIA's pip wheels (``onnxruntime-gpu[cuda,cudnn]``, ``tensorrt``):
    the dynamic loader does not search them, so we load from them explicitly."""
    roots = [Path(p) for p in (*site.getsitepackages(), site.getusersitepackages()) if p]
    roots += [Path(p) for p in sys.path if p.endswith("site-packages")]
    dirs: list[Path] = []
    for root in dict.fromkeys(roots):
        for pattern in ("nvidia/*/lib", "tensorrt_libs", "tensorrt"):
            dirs += [d for d in root.glob(pattern) if d.is_dir()]
    return dirs


@functools.cache
def _loadable(soname: str) -> bool:
    """Load ``soname`` into the process (as the provider will) and say whether that worked.

    Loading from a wheel folder with RTLD_GLOBAL makes the provider's own
    dlopen by soname find it afterwards."""
    try:
        ctypes.CDLL(soname, mode=ctypes.RTLD_GLOBAL)
        return True
    except OSError:
        pass
    for folder in _wheel_library_dirs():
        candidate = folder / soname
        if candidate.is_file():
            try:
                ctypes.CDLL(str(candidate), mode=ctypes.RTLD_GLOBAL)
                return True
            except OSError:
                return False
    return False


def missing_libraries(provider: str, probe: Callable[[str], bool] = _loadable) -> list[Library]:
    return [lib for lib in required_libraries(provider) if not probe(lib.soname)]


def describe_missing(provider: str, missing: Sequence[Library]) -> str:
    """One line: what ``provider`` lacks and how to get it."""
    groups: dict[str, list[str]] = {}
    for lib in missing:
        groups.setdefault(lib.what, []).append(lib.soname)
    names = ", ".join(f"{what} ({' '.join(sonames)})" for what, sonames in groups.items())
    fixes = []
    whats = set(groups)
    major = _cuda_major()
    if "NVIDIA driver" in whats:
        fixes.append("install the NVIDIA driver (check with nvidia-smi)")
    if whats & {f"CUDA {major}", "cuDNN 9"}:
        fixes.append(f"pip install 'onnxruntime-gpu[cuda,cudnn]' (or install CUDA {major} + cuDNN 9 "
                     "and put their lib folders on LD_LIBRARY_PATH)")
    if "TensorRT 10" in whats:
        fixes.append(f"install TensorRT 10 for CUDA {major} (pip install tensorrt-cu{major}, or the tarball "
                     "on LD_LIBRARY_PATH)")
    return f"{_short(provider)} cannot load: missing {names}; fix: {'; '.join(fixes)}"


def _short(provider: str) -> str:
    return {TENSORRT: "TensorRT", CUDA: "CUDA", CPU: "CPU"}.get(provider, provider)


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class ProviderReport:
    """What was asked for, what runs, and why anything earlier in the list does not."""

    requested: tuple[str, ...]
    active: str
    skipped: dict[str, str] = field(default_factory=dict)  # provider -> one-line reason

    @property
    def on_gpu(self) -> bool:
        return self.active in GPU_PROVIDERS

    @property
    def diagnosis(self) -> str | None:
        """One line when a GPU provider was wanted but is not the one running."""
        if self.on_gpu or not any(p in GPU_PROVIDERS for p in self.requested):
            return None
        # The most useful single reason is the one for the most basic GPU provider (CUDA):
        # TensorRT needs everything CUDA needs and more.
        reasons = [self.skipped[p] for p in (CUDA, TENSORRT) if p in self.skipped]
        reason = reasons[0] if reasons else "the GPU provider did not start"
        return f"running on {_short(self.active)}, not the GPU: {reason}"


def plan_providers(
    requested: Literal["auto"] | Sequence[str],
    params: SessionParams = SessionParams(),
    cache_dir: Path | None = None,
    probe: Callable[[str], bool] = _loadable,
) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    """(providers to try in order with their options, skipped provider -> reason)."""
    import onnxruntime as ort

    wanted = list(AUTO_ORDER) if requested == "auto" else list(normalise_providers(list(requested)))
    available = set(ort.get_available_providers())
    plan: list[tuple[str, dict]] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        if name not in available:
            skipped[name] = (f"{_short(name)} is not in this onnxruntime build "
                             f"({ort.__version__}; has {', '.join(sorted(available))})")
            continue
        missing = missing_libraries(name, probe)
        if missing:
            skipped[name] = describe_missing(name, missing)
            continue
        plan.append((name, provider_options(name, params, cache_dir)))
    return plan, skipped


def provider_options(name: str, params: SessionParams, cache_dir: Path | None) -> dict:
    if name == TENSORRT:
        options: dict[str, Any] = {"device_id": params.cuda_device, "trt_fp16_enable": params.trt_fp16}
        if cache_dir is not None:
            # Building a TensorRT engine takes minutes; the caches make every later start fast.
            trt_dir = Path(cache_dir) / "tensorrt"
            trt_dir.mkdir(parents=True, exist_ok=True)
            options |= {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(trt_dir),
                        "trt_timing_cache_enable": True, "trt_timing_cache_path": str(trt_dir)}
        return options
    if name == CUDA:
        return {"device_id": params.cuda_device}
    return {}


def session_options(params: SessionParams):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = params.intra_op_threads
    so.inter_op_num_threads = params.inter_op_threads
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[params.graph_optimization]
    spin = "1" if params.spin else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    so.log_severity_level = 3  # warnings about unsupported nodes falling to CPU are routine
    return so


# --------------------------------------------------------------------------- opening


def open_session(
    model: Path | bytes,
    requested: Literal["auto"] | Sequence[str] = "auto",
    params: SessionParams = SessionParams(),
    cache_dir: Path | None = None,
    warm_up: Callable[[Any], None] | None = None,
    probe: Callable[[str], bool] = _loadable,
):
    """Create the one session for ``model`` on the first provider that really runs.

    Each planned provider is tried with the rest of the plan behind it: the
    session is created, ``warm_up(session)`` runs one inference (TensorRT
    builds its engine here), and ``get_providers()`` is read back. A provider
    that fails or is silently dropped is recorded and the next one tried.
    Returns ``(session, ProviderReport)``; raises ``SegmenterError`` when
    nothing acceptable runs or the model itself cannot load."""
    import onnxruntime as ort

    requested_names = tuple(AUTO_ORDER) if requested == "auto" else normalise_providers(list(requested))
    plan, skipped = plan_providers(requested, params, cache_dir, probe)
    source = model if isinstance(model, bytes) else str(model)
    where = "model" if isinstance(model, bytes) else str(model)
    options = session_options(params)
    for start in range(len(plan)):
        chain = plan[start:]
        head = chain[0][0]
        try:
            # enable_fallback=0: onnxruntime's own fallback prints banners to stdout
            # and hides which provider failed; we do the falling back ourselves.
            session = ort.InferenceSession(source, options, providers=chain, enable_fallback=0)
            if warm_up is not None:
                warm_up(session)
        except SegmenterError:
            raise  # the model does not fit its contract: no provider will change that
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
            if head == CPU:
                # The CPU provider always loads: what failed is the model itself.
                raise SegmenterError(f"{where}: cannot load the model: {first_line(exc)}") from exc
            skipped[head] = f"{_short(head)} failed to start: {first_line(exc)}"
            continue
        active = session.get_providers()[0]
        if active != head:
            skipped.setdefault(head, f"{_short(head)} was dropped by onnxruntime at start "
                                     "(libraries load but no usable device? check nvidia-smi)")
        if active == CPU and CPU not in requested_names:
            break
        return session, ProviderReport(requested_names, active, skipped)
    reasons = "; ".join(skipped.values()) or "nothing to try"
    raise SegmenterError(f"{where}: none of the requested providers "
                         f"({', '.join(_short(p) for p in requested_names)}) can run: {reasons}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# y = relu(x), x: float32 [1, 4]; 80 bytes, so checking a provider needs no model file.
_PROBE_MODEL = base64.b64decode(
    "CAkSBWJvb3RoOj8KDAoBeBIBeSIEUmVsdRIFcHJvYmVaEwoBeBIOCgwIARIICgIIAQoCCARiEwoBeRIOCgwIARIICgIIAQoCCARCBAoAEBE=")


@functools.cache
def provider_runs(provider: str = CUDA) -> bool:
    """Does ``provider`` really run here? (skips GPU tests; shown by ``booth models list``)."""
    import numpy as np

    if provider == CPU:
        return True
    try:
        _, report = open_session(_PROBE_MODEL, [provider],
                                 warm_up=lambda s: s.run(None, {"x": np.ones((1, 4), np.float32)}))
    except SegmenterError:
        return False
    return report.active == provider
