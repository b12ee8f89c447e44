"""process = load -> segment -> finish. (Stages being written.)"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pipeline.load import Photo
from pipeline.profile import Profile
from pipeline.segment.base import Segmentation, Segmenter


@dataclass(frozen=True)
class Result:
    """A finished image. ``image`` is the canvas (HxWx3, or HxWx4 when the
    background is transparent), ``encoded`` the file's bytes, ``extension``
    its file extension; ``timings`` is milliseconds per stage."""

    image: np.ndarray
    encoded: bytes
    extension: str
    segmentation: Segmentation
    timings: dict[str, float] = field(default_factory=dict)


def finish(photo: Photo, segmentation: Segmentation, profile: Profile,
           fields: Mapping[str, str] | None = None) -> Result:
    raise NotImplementedError("being written")


def process(photo: Photo, profile: Profile, segmenter: Segmenter,
            fields: Mapping[str, str] | None = None) -> Result:
    t0 = time.perf_counter()
    segmentation = segmenter.segment(photo.rgb)
    segment_ms = (time.perf_counter() - t0) * 1000
    result = finish(photo, segmentation, profile, fields)
    result.timings["segment"] = segment_ms
    return result
