"""Placeholder: the model-free white-sweep segmenter (being written)."""

from __future__ import annotations

from pydantic import Field

from pipeline.profile import Params


class WhiteStudioParams(Params):
    working_size: int = Field(1024, ge=256, le=4096)
