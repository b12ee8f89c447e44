"""The one way a photo becomes a finished image.

The daemon's stages and ``booth process`` call the same four steps, so a photo
under the same config gives the same image either way (same category, same
bar text, same alpha, same verdict)::

    read (capped, header checked first) -> load -> cut -> finish (+ confidence, + the review gate)

A reviewer's redo runs the same steps with ``overrides``: dotted settings such
as ``refine.choke_px=1.5``, ``shadow.mode=none``, ``white_studio.hard_shadows=true``
or ``segmenter=<label>`` (another configured segmenter).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import pipeline
from daemon.config import Category, Config, deep_merge
from daemon.errors import CannotCut
from pipeline.confidence import Assessment, assess
from pipeline.core import cut_out, own_scale
from pipeline.errors import EmptyFile, FileTooLarge
from pipeline.load import PROBE_BYTES, probe

PROFILE_SECTIONS = ("load", "refine", "compose", "shadow", "brand", "encode")
SEGMENTER_KEY = "segmenter"
WHITE_STUDIO = "white_studio"


REDO_MARKER = "redo"  # an override key that only says "a person asked for this run"


class BadOverride(ValueError):
    """A redo setting that does not exist or does not validate. Stored on a job
    that a config change has since made invalid, it waits for a person."""

    permanent = True


# ----------------------------------------------------------------------- segmenters

def build_segmenter(config: Config, section) -> pipeline.Segmenter:
    """A segmenter from a config section; a learned model resolves to its installed, verified file."""
    try:
        from integrations.models import resolver
    except ImportError:  # a build without the model registry: white-studio only
        return pipeline.build_segmenter(section)
    return pipeline.build_segmenter(section, resolve_model=resolver(Path(config.models_dir)),
                                    cache_dir=Path(config.state_dir) / "cache")


def warm_up(segmenter):
    """One small cut-out: the first call pays the session setup (and, on a GPU,
    proves the provider runs) before any photo waits on it."""
    segmenter.segment(np.full((64, 64, 3), 250, np.uint8))
    return segmenter


def segmenter_sections(config: Config) -> dict[str, Any]:
    """label -> segmenter section: the default one and any extra ones configured."""
    sections = getattr(config, "segmenter_configs", None)
    return dict(sections()) if callable(sections) else {"default": config.segmenter}


class Segmenters:
    """Every configured segmenter, built and warmed up once (a model session is
    expensive). A white-studio variant a redo asks for (other parameters) is
    built when first needed: it is cheap."""

    def __init__(self, config: Config, build: Callable[[Config, Any], Any] = build_segmenter,
                 built: Mapping[str, Any] | None = None, *, lazy: bool = False) -> None:
        """``lazy``: build each one when first asked for (a command that cuts
        out a few photos should not load a model no photo of it uses)."""
        self.sections = segmenter_sections(config)
        self._build = build
        self._config = config
        self._lazy = lazy
        self._built = dict(built) if built is not None else {} if lazy else {
            label: warm_up(build(config, section)) for label, section in self.sections.items()}
        self._variants: dict[Any, Any] = {}
        self._lock = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return list(self.sections)

    def default(self):
        return self.get("default")

    def get(self, label: str, white_studio: Mapping[str, Any] | None = None):
        if label not in self.sections:
            raise BadOverride(f"no segmenter labelled {label!r} (configured: {', '.join(self.sections)})")
        if label not in self._built:
            with self._lock:
                if label not in self._built:
                    self._built[label] = self._build(self._config, self.sections[label])
        if not white_studio:
            return self._built[label]
        section = self.sections[label]
        if section.name != "white-studio":
            raise BadOverride(f"white_studio.* settings need the white-studio segmenter, not {section.name!r}")
        key = (label, tuple(sorted((k, str(v)) for k, v in white_studio.items())))
        with self._lock:
            if key not in self._variants:
                merged = deep_merge(section.white_studio.model_dump(), dict(white_studio))
                try:
                    variant = section.model_copy(update={
                        "white_studio": type(section.white_studio).model_validate(merged)})
                except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, said plainly
                    raise BadOverride(f"white_studio: {_first_error(exc)}") from None
                self._variants[key] = self._build(self._config, variant)
            return self._variants[key]

    def describe(self) -> dict[str, str]:
        seg = self.default()
        return {"segmenter": str(getattr(seg, "name", type(seg).__name__)),
                "provider": str(getattr(seg, "provider", "cpu"))}


# ----------------------------------------------------------------------- overrides

def parse_settings(pairs: list[str] | Mapping[str, str]) -> dict[str, str]:
    """``["refine.choke_px=1.5", ...]`` -> ``{"refine.choke_px": "1.5"}``; ValueError naming a malformed one."""
    if isinstance(pairs, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in pairs.items()}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadOverride(f"{pair!r}: write KEY=VALUE, e.g. refine.choke_px=1.5 or white_studio.hard_shadows=true")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Plan:
    """What one run of one photo uses: the category's profile with a redo's
    changes, and which segmenter (with which white-studio parameters)."""

    category: Category
    profile: pipeline.Profile
    segmenter: str = "default"
    white_studio: Mapping[str, Any] = field(default_factory=dict)


def plan(config: Config, category: Category, overrides: Mapping[str, str] | None = None) -> Plan:
    """The plan for a photo of ``category``; BadOverride names a setting that cannot apply."""
    label = _category_segmenter(config, category)
    if not overrides:
        return Plan(category, category.profile, label)
    tree: dict[str, Any] = {}
    white_studio: dict[str, Any] = {}
    for key, text in overrides.items():
        value = _scalar(text)
        if key == REDO_MARKER:
            continue
        if key == SEGMENTER_KEY:
            label = str(value)
            continue
        section, _, rest = key.partition(".")
        if section == WHITE_STUDIO and rest:
            white_studio[rest] = value
        elif section in PROFILE_SECTIONS and rest:
            node = tree.setdefault(section, {})
            *parents, leaf = rest.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        else:
            raise BadOverride(f"{key}: not a setting a redo can change (use segmenter=LABEL, "
                              f"white_studio.KEY=..., or {', '.join(PROFILE_SECTIONS)}.KEY=...)")
    profile = category.profile
    if tree:
        try:
            profile = type(profile).model_validate(deep_merge(profile.model_dump(), tree))
        except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, said plainly
            raise BadOverride(_first_error(exc)) from None
    return Plan(category, profile, label, white_studio)


def _category_segmenter(config: Config, category: Category) -> str:
    choose = getattr(config, "segmenter_for", None)
    if callable(choose):
        return choose(category.name)[0]
    return "default"


def _scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"
    return str(exc)


# ----------------------------------------------------------------------- the gate

def review_reasons(category: Category, assessment: Assessment, *, asked: bool = False) -> list[str]:
    """Why a person must see this cut-out before it is published (empty: publish it).
    ``asked``: a reviewer ran it again and wants to see the result."""
    params = category.review
    if asked:
        return ["run again with changed settings: look at the new cut-out", *assessment.reasons]
    if params.mode == "never":
        return []
    if params.mode == "always":
        return [f"every {category.name} photo is reviewed (review.mode: always)", *assessment.reasons]
    if assessment.confidence < params.min_confidence:
        return list(assessment.reasons) or [f"the cut-out's confidence {assessment.confidence:.2f} is under "
                                            f"{params.min_confidence:.2f}"]
    return []


@dataclass(frozen=True)
class Finished:
    """A finished photo: the image, how sure the cut-out is, and whether it may be published."""

    result: pipeline.Result
    photo: pipeline.Photo
    assessment: Assessment
    reasons: tuple[str, ...]  # why it is held for a person; empty when it may be published

    @property
    def verdict(self) -> str:
        return "review" if self.reasons else "publish"


# ----------------------------------------------------------------------- the steps

def _over_cap(size: int, cap: int) -> str:
    return (f"{size:,} bytes is over the cap of {cap:,} bytes (categories.*.load.max_bytes); "
            "a booth photo is a few MB: is this really a photo?")


class Runner:
    """The steps of one photo, configured once. ``finish`` is injectable for
    tests of the daemon's bookkeeping; everything else is the real pipeline."""

    def __init__(self, config: Config, segmenters: Segmenters, *,
                 finish: Callable[..., pipeline.Result] = pipeline.finish) -> None:
        self.config = config  # replaced on reload
        self.segmenters = segmenters  # replaced on reload
        self._finish = finish

    def category(self, name: str | None) -> Category:
        return self.config.category(name)

    def plan(self, category: str | None, overrides: Mapping[str, str] | None = None) -> Plan:
        return plan(self.config, self.category(category), overrides)

    def read(self, path: str | os.PathLike, plan: Plan) -> bytes:
        """The photo's bytes. A file over ``load.max_bytes``, or one whose first
        bytes already say it is no image or has too many pixels, is refused
        before it is read whole: two decode threads never hold two 2 GB files."""
        cap = plan.profile.load.max_bytes
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > cap:
                raise FileTooLarge(_over_cap(size, cap))
            head = f.read(PROBE_BYTES)
            probe(head, plan.profile.load, complete=len(head) >= size)
            rest = f.read(cap + 1 - len(head)) if len(head) < cap + 1 else b""
        data = head + rest
        if len(data) > cap:  # it grew while being read
            raise FileTooLarge(_over_cap(len(data), cap))
        if not data:
            raise EmptyFile("the file is empty (0 bytes)")
        return data

    def load(self, data: bytes, plan: Plan) -> pipeline.Photo:
        return pipeline.load_photo(data, plan.profile.load)

    def cut(self, photo: pipeline.Photo, plan: Plan) -> pipeline.Segmentation:
        """The cut-out; a photo that cannot be cut out raises ``CannotCut`` (the job's end: quarantine)."""
        cut = cut_out(photo, self.segmenters.get(plan.segmenter, plan.white_studio), plan.profile)
        if isinstance(cut, pipeline.NoCutout):
            raise CannotCut(cut)
        return cut

    def own_scale(self, photo: pipeline.Photo, segmentation: pipeline.Segmentation, plan: Plan) -> float:
        """The scale this view would get on its own; a product's views share the smallest."""
        return own_scale(photo.rgb.shape, segmentation, plan.profile)

    def finish(self, photo: pipeline.Photo, segmentation: pipeline.Segmentation, plan: Plan,
               fields: Mapping[str, str] | None = None, *, asked: bool = False,
               scale: float | None = None) -> Finished:
        """``scale``: the product's shared scale (compose.scale: product), None for the photo's own."""
        assessment = assess(photo.rgb, segmentation)
        extra = {} if scale is None else {"scale": scale}
        result = self._finish(photo, segmentation, plan.profile, {**(fields or {}), "category": plan.category.name},
                              **extra)
        return Finished(result, photo, assessment, tuple(review_reasons(plan.category, assessment, asked=asked)))

    def process(self, path: str | os.PathLike, plan: Plan, fields: Mapping[str, str] | None = None,
                *, asked: bool = False, scale: float | None = None) -> Finished:
        """All the steps for one file (``booth process``)."""
        photo = self.load(self.read(path, plan), plan)
        return self.finish(photo, self.cut(photo, plan), plan, fields, asked=asked, scale=scale)

    def measure(self, path: str | os.PathLike, plan: Plan) -> float:
        """The scale one view of a product would get on its own (the first pass of a set)."""
        photo = self.load(self.read(path, plan), plan)
        return self.own_scale(photo, self.cut(photo, plan), plan)
