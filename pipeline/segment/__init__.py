"""Segmenters: the ``Segmenter`` protocol, the embedded white-studio default,
and (in ``onnx``) learned models. ``build_segmenter`` turns the config section
into one instance, built once per process."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import structlog
from pydantic import Field, field_validator, model_validator

from pipeline.errors import SegmenterError
from pipeline.profile import ConfigPath, Params
from pipeline.segment.base import NoCutout, Segmentation, Segmenter
from pipeline.segment.contracts import BUILTIN_CONTRACTS, ModelContract, builtin_contract
from pipeline.segment.onnx import SecondPassParams
from pipeline.segment.providers import SessionParams, normalise_providers
from pipeline.segment.white_studio import WhiteStudioParams

__all__ = ["NoCutout", "Segmentation", "Segmenter", "SegmenterConfig", "build_segmenter"]


class SegmenterConfig(Params):
    name: str = Field("white-studio", description="'white-studio', a built-in model name, or 'custom'")
    on_load_failure: Literal["fail", "white-studio"] = "fail"
    white_studio: WhiteStudioParams = WhiteStudioParams()
    # --- ONNX models (any name but white-studio)
    path: ConfigPath | None = Field(None, description="the .onnx file: required for 'custom'; for a built-in "
                                                "name it replaces the file `booth models fetch` installs")
    contract: ModelContract | None = Field(
        None, description="a built-in contract's name or a full contract; default: the built-in model's")
    providers: Literal["auto"] | tuple[str, ...] = Field(
        "auto", description="'auto' (TensorRT, CUDA, CPU) or a list such as [cuda, cpu]")
    session: SessionParams = SessionParams()
    second_pass: SecondPassParams = SecondPassParams()

    @field_validator("providers", mode="before")
    @classmethod
    def _providers(cls, value):
        return normalise_providers(value)

    @field_validator("contract", mode="before")
    @classmethod
    def _named_contract(cls, value):
        # A name stands for that built-in contract (unknown names fail with a did-you-mean).
        return builtin_contract(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_name(self):
        known = ["white-studio", "custom", *BUILTIN_CONTRACTS]
        if self.name not in known:
            close = difflib.get_close_matches(self.name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise ValueError(f"name: no segmenter called {self.name!r} ({hint})")
        if self.name == "custom" and (self.path is None or self.contract is None):
            raise ValueError("name: custom needs both 'path' (the .onnx file) and 'contract'")
        return self

    @property
    def is_onnx(self) -> bool:
        return self.name != "white-studio"

    def resolved_contract(self) -> ModelContract:
        return self.contract or builtin_contract(self.name)


def build_segmenter(
    config: SegmenterConfig,
    *,
    resolve_model: Callable[[str], Path] | None = None,
    cache_dir: Path | None = None,
) -> Segmenter:
    """The process's one segmenter.

    ``resolve_model(name) -> Path`` turns a built-in model name into its
    installed, verified file (the daemon passes ``integrations.models.resolver``;
    it raises when the file is missing or fails its hash check). Not needed
    when ``config.path`` is set. TensorRT keeps its engine and timing caches
    in ``<cache_dir>/tensorrt`` (the daemon passes ``<state_dir>/cache``).

    When the model cannot load, ``config.on_load_failure`` decides: ``fail``
    raises ``SegmenterError`` with the reason, ``white-studio`` logs a loud
    warning and returns the embedded segmenter instead."""
    if not config.is_onnx:
        return _white_studio(config)
    try:
        return _onnx(config, resolve_model, cache_dir)
    except Exception as exc:  # noqa: BLE001 - any load failure goes through the configured policy
        reason = str(exc) if isinstance(exc, SegmenterError) else f"{type(exc).__name__}: {exc}"
        if config.on_load_failure == "white-studio":
            structlog.get_logger("segment").warning(
                "SEGMENTER FALLBACK: the configured model could not load; cutting out with white-studio "
                "instead (fix the model or set segmenter.on_load_failure: fail)",
                wanted=config.name, reason=reason, segmenter="white-studio")
            return _white_studio(config)
        raise SegmenterError(f"segmenter {config.name!r} could not load: {reason}") from exc


def _white_studio(config: SegmenterConfig) -> Segmenter:
    from pipeline.segment.white_studio import WhiteStudioSegmenter

    return WhiteStudioSegmenter(config.white_studio)


def _onnx(config: SegmenterConfig, resolve_model: Callable[[str], Path] | None,
          cache_dir: Path | None) -> Segmenter:
    from pipeline.segment.onnx import OnnxSegmenter

    path = config.path
    if path is None:
        if resolve_model is None:
            raise SegmenterError(f"no file for model {config.name!r}: set segmenter.path "
                                 f"or run `booth models fetch {config.name}`")
        path = resolve_model(config.name)
    return OnnxSegmenter(path, config.resolved_contract(), name=config.name, providers=config.providers,
                         session=config.session, second_pass=config.second_pass, cache_dir=cache_dir)
