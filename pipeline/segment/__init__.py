"""Segmenters: the ``Segmenter`` protocol, the embedded white-studio default,
and (in ``onnx``) learned models. ``build_segmenter`` turns the config section
into one instance, built once per process."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.profile import Params
from pipeline.segment.base import Segmentation, Segmenter
from pipeline.segment.white_studio import WhiteStudioParams

__all__ = ["Segmentation", "Segmenter", "SegmenterConfig", "build_segmenter"]


class SegmenterConfig(Params):
    name: str = Field("white-studio", description="'white-studio', a built-in model name, or 'custom'")
    on_load_failure: Literal["fail", "white-studio"] = "fail"
    white_studio: WhiteStudioParams = WhiteStudioParams()


def build_segmenter(config: SegmenterConfig, **kwargs) -> Segmenter:
    if config.name == "white-studio":
        from pipeline.segment.white_studio import WhiteStudioSegmenter

        return WhiteStudioSegmenter(config.white_studio)
    raise ValueError(f"unknown segmenter {config.name!r}")
