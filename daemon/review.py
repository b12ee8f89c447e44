"""The review desk: what a person can decide about a finished cut-out, for the
review page and the command line alike (``booth review | approve | reject | redo``).

A cut-out the gate held waits in ``needs_review`` (kind ``cutout``) with its
output written and its reasons. Every decision is one atomic journal step,
recorded in the job's history with who made it and why, and idempotent:

- approve: queued at the publish step, so it is published exactly once through
  the usual flow (approving twice, or a job no longer waiting, does nothing and
  says so);
- reject: set aside (``rejected``) with the reviewer's reason; its output moves
  out of the output folder into ``state_dir/rejected``;
- redo: run again from the original with changed settings (``daemon.runner``
  overrides); the new result always comes back for review.

Thumbnails (original | mask over the photo | result) are made once, when the
photo is finished, and kept in ``state_dir/thumbs/<job id>``.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon import events as ev
from daemon import files
from daemon.config import Config
from daemon.journal import Checkpoint, Job, Journal, JournalError, ReviewKind, State

THUMB_SIZE = 480
LARGE_SIZE = 1600
KINDS = ("original", "mask", "result")


# ----------------------------------------------------------------------- thumbnails

class Thumbnails:
    """Small pictures of each finished job, made once and kept on local disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def make(self, job_id: int, finished) -> None:
        """original, mask overlay and result at ``THUMB_SIZE``, and the working alpha."""
        import cv2
        import numpy as np

        from pipeline import preview

        where = self.folder / str(job_id)
        photo = preview.fit(finished.photo.rgb, THUMB_SIZE)
        alpha = finished.result.segmentation.alpha
        result = preview.on_checkerboard(preview.fit(finished.result.image, THUMB_SIZE))
        files.write_atomic(where / "original.jpg", preview.jpeg(photo))
        files.write_atomic(where / "mask.jpg", preview.jpeg(preview.mask_overlay(photo, alpha)))
        files.write_atomic(where / "result.jpg", preview.jpeg(result))
        ok, png = cv2.imencode(".png", (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8))
        if ok:
            files.write_atomic(where / "alpha.png", png.tobytes())

    def path(self, job_id: int, kind: str) -> Path | None:
        if kind not in KINDS:
            return None
        path = self.folder / str(int(job_id)) / f"{kind}.jpg"
        return path if path.is_file() else None

    def large(self, job: Job, kind: str) -> bytes | None:
        """The picture at ``LARGE_SIZE`` for the full-size page: the finished
        image itself, or the original (and the mask over it) made from the
        original file when it is still there, else the thumbnail."""
        if kind == "result" and job.output and Path(job.output).is_file():
            return Path(job.output).read_bytes()
        if kind in ("original", "mask"):
            made = self._large_from_original(job, kind)
            if made is not None:
                return made
        small = self.path(job.id, kind)
        return small.read_bytes() if small else None

    def _large_from_original(self, job: Job, kind: str) -> bytes | None:
        cached = self.folder / str(job.id) / f"large-{kind}.jpg"
        if cached.is_file():
            return cached.read_bytes()
        import cv2

        from pipeline import preview
        from pipeline.load import load_photo
        try:
            photo = preview.fit(load_photo(job.file.read_bytes()).rgb, LARGE_SIZE)
        except Exception:  # noqa: BLE001 - the original moved, or cannot be read: the thumbnail will do
            return None
        image = photo
        if kind == "mask":
            alpha = cv2.imread(str(self.folder / str(job.id) / "alpha.png"), cv2.IMREAD_GRAYSCALE)
            if alpha is None:
                return None
            image = preview.mask_overlay(photo, alpha.astype("float32") / 255)
        data = preview.jpeg(image, 88)
        try:
            files.write_atomic(cached, data)
        except OSError:
            pass
        return data


# ----------------------------------------------------------------------- view sets

SET_WINDOW = 7 * 24 * 3600  # products seen in the last week are checked for missing or doubled views


def view_problems(config: Config, journal: Journal, now: float | None = None) -> list[dict[str, Any]]:
    """Products of a category that lists its views, with a view missing or
    shot twice (two different files for one view)."""
    now = time.time() if now is None else now
    problems = []
    for category_name, product_key in journal.recent_products(now - SET_WINDOW):
        category = config.category(category_name)
        if not category.views or category.name != (category_name or "default"):
            continue
        counts: dict[str, int] = {}
        for job in journal.set_members(category_name, product_key):
            key = (job.view or "").casefold()
            counts[key] = counts.get(key, 0) + 1
        missing = [v for v in category.views if v.casefold() not in counts]
        doubled = [v for v in category.views if counts.get(v.casefold(), 0) > 1]
        if missing or doubled:
            problems.append({"category": category.name, "product": product_key, "missing": missing,
                             "doubled": doubled})
    return problems


# ----------------------------------------------------------------------- decisions

@dataclass(frozen=True)
class Decision:
    job_id: int
    action: str   # approve | reject | redo
    ok: bool      # False: nothing changed (the message says why)
    message: str


def actor_here() -> str:
    """Who runs this command: the login name (sudo's caller when run with sudo)."""
    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no name for this uid
        name = str(os.getuid())
    return f"{name} (command line)"


class ReviewDesk:
    def __init__(self, config: Config, journal: Journal, *, events: ev.Events | None = None,
                 wake: Callable[[], None] = lambda: None, thumbnails: Thumbnails | None = None,
                 plan: Callable[..., Any] | None = None, segmenter_labels: Callable[[], list[str]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.journal = journal
        self._events = events
        self._wake = wake
        self.thumbnails = thumbnails or Thumbnails(Path(config.state_dir) / "thumbs")
        self._plan = plan
        self._labels = segmenter_labels
        self._clock = clock

    # ------------------------------------------------------------------ reading

    def waiting(self, limit: int = 200) -> list[Job]:
        """Jobs waiting for a person, newest first."""
        return self.journal.jobs(State.NEEDS_REVIEW, limit=limit, newest_first=True)

    def published(self, limit: int = 48) -> list[Job]:
        """The most recently finished images, newest first (duplicates left out)."""
        return [j for j in self.journal.finished(State.DONE, limit=limit * 2) if j.duplicate_of is None][:limit]

    def job(self, job_id: int | str) -> Job | None:
        return self.journal.get(job_id)

    def redo_choices(self) -> dict[str, Any]:
        """What a redo can change, for the page's form."""
        labels = self._labels() if self._labels else list(_segmenter_labels(self.config))
        return {"segmenters": labels, "keys": ["white_studio.hard_shadows", "refine.choke_px", "refine.feather_px",
                                               "shadow.mode", "compose.padding"]}

    def dashboard(self, health: Mapping[str, Any] | None = None) -> dict[str, Any]:
        now = self._clock()
        counts = self.journal.counts()
        return {
            "counts": counts,
            "review": self.journal.review_counts(),
            "done_last_hour": self.journal.done_since(now - 3600),
            "failures": [{"job_id": j.id, "name": Path(j.path).name, "state": str(j.state), "error": j.error,
                          "at": j.updated_at} for j in self.journal.last_failures(16)
                         if not (j.state == State.NEEDS_REVIEW and j.review_kind == ReviewKind.CUTOUT)][:8],
            "notices": [{"name": Path(n.path).name, "reason": n.reason, "fix": n.fix}
                        for n in self.journal.notices()[:20]],
            "view_sets": view_problems(self.config, self.journal, now)[:20],
            "health": dict(health or {}),
        }

    # ------------------------------------------------------------------ deciding

    def approve(self, job_ids: Iterable[int | str], actor: str) -> list[Decision]:
        return [self._approve(job_id, actor) for job_id in job_ids]

    def _approve(self, job_id: int | str, actor: str) -> Decision:
        job, problem = self._waiting_cutout(job_id, "approve")
        if problem:
            return problem
        done = self.journal.requeue(job.id, Checkpoint.PUBLISH, only_from=[State.NEEDS_REVIEW], actor=actor,
                                    note="approved", approved=1)
        if not done:
            return self._decided(job.id, "approve", False, self._no_longer(job.id))
        self._wake()
        return self._decided(job.id, "approve", True, f"job {job.id} approved: publishing "
                             f"{Path(job.path).name}" if self.config.shopify.enabled else
                             f"job {job.id} approved: {Path(job.path).name} is done (Shopify is off)")

    def reject(self, job_ids: Iterable[int | str], reason: str, actor: str) -> list[Decision]:
        reason = " ".join((reason or "").split())
        if not reason:
            return [Decision(_as_id(j), "reject", False, "say why: a reason is needed to reject") for j in job_ids]
        return [self._reject(job_id, reason, actor) for job_id in job_ids]

    def _reject(self, job_id: int | str, reason: str, actor: str) -> Decision:
        job, problem = self._waiting_cutout(job_id, "reject", allow_product=True)
        if problem:
            return problem
        moved = self._set_aside(job)
        if not self.journal.transition(job.id, State.REJECTED, only_from=[State.NEEDS_REVIEW],
                                       error=f"rejected: {reason}", actor=actor, note=reason,
                                       **({"output": str(moved)} if moved else {})):
            return self._decided(job.id, "reject", False, self._no_longer(job.id))
        return self._decided(job.id, "reject", True, f"job {job.id} rejected: {Path(job.path).name} is set aside")

    def _set_aside(self, job: Job) -> Path | None:
        if not job.output or not Path(job.output).is_file():
            return None
        try:
            return files.move(Path(job.output), Path(self.config.state_dir) / "rejected" / str(job.id)
                              / Path(job.output).name)
        except OSError:
            return None

    def redo(self, job_id: int | str, settings: Mapping[str, str], actor: str) -> Decision:
        from daemon.runner import REDO_MARKER, BadOverride, parse_settings, plan

        job = self.journal.get(job_id)
        if job is None:
            return Decision(_as_id(job_id), "redo", False, f"no job {job_id}")
        if job.state not in (State.NEEDS_REVIEW, State.DONE, State.REJECTED):
            return self._decided(job.id, "redo", False, f"job {job.id} is {job.state}: only a finished job, or "
                                 "one waiting for review, can be run again")
        if job.duplicate_of is not None:
            return self._decided(job.id, "redo", False, f"job {job.id} is a duplicate of job {job.duplicate_of}: "
                                 "redo that one")
        if not job.file.is_file():
            return self._decided(job.id, "redo", False, f"the original {Path(job.path).name} is no longer where it "
                                 "was taken from: there is nothing to run again")
        try:
            overrides = parse_settings(settings)
            (self._plan or (lambda cat, o: plan(self.config, self.config.category(cat), o)))(job.category, overrides)
        except BadOverride as exc:
            return self._decided(job.id, "redo", False, f"cannot redo job {job.id}: {exc}")
        overrides = overrides or {REDO_MARKER: "as configured"}
        if not self.journal.requeue(job.id, Checkpoint.LOAD, only_from=[State.NEEDS_REVIEW, State.DONE,
                                                                         State.REJECTED],
                                    actor=actor, note="redo " + ", ".join(f"{k}={v}" for k, v in overrides.items()),
                                    overrides=overrides, approved=0, review_kind=None):
            return self._decided(job.id, "redo", False, self._no_longer(job.id))
        self._wake()
        return self._decided(job.id, "redo", True, f"job {job.id} runs again with "
                             + ", ".join(f"{k}={v}" for k, v in overrides.items())
                             + "; the new result comes back for review")

    # ------------------------------------------------------------------ helpers

    def _waiting_cutout(self, job_id: int | str, action: str, allow_product: bool = False):
        job = self.journal.get(job_id)
        if job is None:
            return None, Decision(_as_id(job_id), action, False, f"no job {job_id}")
        if job.state != State.NEEDS_REVIEW:
            return None, self._decided(job.id, action, False, self._no_longer(job.id, job))
        if job.review_kind == ReviewKind.PRODUCT and not allow_product:
            return None, self._decided(job.id, action, False, f"job {job.id} waits for a product, not for a look at "
                                       f"its cut-out ({job.error}): settle it with booth link {job.id} PRODUCT_ID")
        return job, None

    def _no_longer(self, job_id: int, job: Job | None = None) -> str:
        job = job or self.journal.get(job_id)
        state = job.state if job else "gone"
        return f"job {job_id} is no longer waiting for review (it is {state}): nothing changed"

    def _decided(self, job_id: int, action: str, ok: bool, message: str) -> Decision:
        if self._events is not None:
            self._events.emit(ev.DECISION, job_id=job_id, action=action, ok=ok, message=message)
        return Decision(job_id, action, ok, message)


def _as_id(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _segmenter_labels(config: Config) -> list[str]:
    from daemon.runner import segmenter_sections
    return list(segmenter_sections(config))


__all__ = ["Decision", "JournalError", "ReviewDesk", "Thumbnails", "actor_here"]
