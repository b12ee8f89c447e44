"""Pure image work: a photo in, a finished listing image out.

``process(photo, profile, segmenter)`` is the one entry point; the daemon runs
its three parts as separate, overlapping stages: ``load_photo`` (decode),
``segmenter.segment`` (the model), ``finish`` (refine, compose, shadow, brand,
encode). Nothing here watches files, talks SQL or HTTP.
"""

from pipeline.core import Result, finish, process
from pipeline.errors import BadPhoto, PipelineError
from pipeline.load import Photo, load_photo
from pipeline.profile import Profile
from pipeline.segment import Segmentation, Segmenter, build_segmenter

__all__ = [
    "BadPhoto", "PipelineError", "Photo", "Profile", "Result", "Segmentation", "Segmenter",
    "build_segmenter", "finish", "load_photo", "process",
]
