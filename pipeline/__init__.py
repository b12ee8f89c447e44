"""Pure image work: a photo's bytes in, a finished listing image out.

Three steps, which the daemon runs as separate, overlapping stages and
``booth process`` runs one after the other (both through ``daemon.runner``):
``load_photo`` (decode), ``cut_out`` (the photo's own transparency, or the
segmenter; a ``NoCutout`` answer when it cannot be cut out), ``finish`` (refine, compose, shadow, brand, encode); and
``confidence.assess`` says how sure the cut-out is. Nothing here reads or
writes files, watches folders, talks SQL or HTTP.
"""

from pipeline.core import Result, cut_out, finish, segment_photo
from pipeline.errors import BadPhoto, PipelineError
from pipeline.load import Photo, load_photo
from pipeline.profile import Profile
from pipeline.segment import NoCutout, Segmentation, Segmenter, build_segmenter

__all__ = [
    "BadPhoto", "NoCutout", "PipelineError", "Photo", "Profile", "Result", "Segmentation", "Segmenter",
    "build_segmenter", "cut_out", "finish", "load_photo", "segment_photo",
]
