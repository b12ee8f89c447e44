"""Pure image work: a photo's bytes in, a finished listing image out.

Three steps, which the daemon runs as separate, overlapping stages and
``booth process`` runs one after the other (both through ``daemon.runner``):
``load_photo`` (decode), ``segment_photo`` (the photo's own transparency, or
the segmenter), ``finish`` (refine, compose, shadow, brand, encode); and
``confidence.assess`` says how sure the cut-out is. Nothing here reads or
writes files, watches folders, talks SQL or HTTP.
"""

from pipeline.core import Result, finish, segment_photo
from pipeline.errors import BadPhoto, PipelineError
from pipeline.load import Photo, load_photo
from pipeline.profile import Profile
from pipeline.segment import Segmentation, Segmenter, build_segmenter

__all__ = [
    "BadPhoto", "PipelineError", "Photo", "Profile", "Result", "Segmentation", "Segmenter",
    "build_segmenter", "finish", "load_photo", "segment_photo",
]
