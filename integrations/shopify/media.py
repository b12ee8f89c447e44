"""booth's own images on a product, told apart by name: pure functions only.

A file booth makes is named ``<product>-<view>-<hash8>[-<sequence>].<ext>``:
the product key and the view label (``02-front``: the view's index first, so
the order can be rebuilt from Shopify's own data), the first 8 hex digits of
the image's sha256 (the same image always gets the same name, which is how a
file is found again after an ambiguous ``fileCreate``), and the job's
sequence number in the journal (a later photo has a higher one, so an older
photo of a view never takes the place of a newer one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from pipeline.template import fill_template


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:80] or "x"


def view_label(view: str | None, index: int | None) -> str:
    """'02-front': the index leads so the order can be rebuilt from Shopify's own data."""
    parts = ([f"{index:02d}"] if index is not None else []) + ([slug(view)] if view else [])
    return "-".join(parts) or "image"


def sequence_of(job_id: str) -> int | None:
    """The journal's job id as a number (later photos have higher ones), if it is one."""
    return int(job_id) if job_id.isdigit() else None


def media_filename(product_key: str, view: str | None, index: int | None, sha256: str, extension: str,
                   sequence: int | None = None) -> str:
    """``<product>-<view>-<hash8>[-<sequence>].<ext>``: the same image of the same job always gets the same name."""
    ext = extension.lower().lstrip(".") or "jpg"
    tail = f"-{sequence}" if sequence is not None else ""
    return f"{slug(product_key)}-{view_label(view, index)}-{sha256[:8]}{tail}.{ext}"


def name_hash(filename: str | None) -> str | None:
    """The 8 hex digits of the image's sha256 in one of booth's names."""
    match = re.search(r"-([0-9a-f]{8})(?:-\d+)?\.\w+$", filename or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class Media:
    id: str
    filename: str | None
    view: str | None = None   # the view label, for booth's own images
    index: int | None = None
    kind: str = "IMAGE"       # MediaContentType: IMAGE, VIDEO, EXTERNAL_VIDEO, MODEL_3D
    sequence: int = 0         # the job that made it (0: unknown, an image named before sequences)

    @property
    def ours(self) -> bool:
        return self.view is not None


def basename(node: dict) -> str | None:
    """The file's name, from the end of its CDN URL (the Media type has no filename)."""
    url = (node.get("image") or {}).get("url") or (node.get("originalSource") or {}).get("url")
    return urlsplit(url).path.rsplit("/", 1)[-1] if url else None


def parse_media(node: dict, product_slug: str = "") -> Media:
    """A product's media node as a ``Media``; booth's own images (named for
    ``product_slug``) carry their view, index and sequence."""
    name = basename(node)
    kind = node.get("mediaContentType") or "IMAGE"
    match = product_slug and re.fullmatch(
        rf"{re.escape(product_slug)}-(.+)-[0-9a-f]{{8}}(?:-(\d+))?\.\w+", name or "")
    if not match or kind != "IMAGE":
        return Media(node["id"], name, kind=kind)
    index = re.match(r"(\d+)(?:-|$)", match.group(1))
    return Media(node["id"], name, match.group(1), int(index.group(1)) if index else None, kind,
                 int(match.group(2) or 0))


def plan_moves(media: list[Media]) -> list[dict]:
    """Moves putting booth's images first, by view index, the rest after in
    their current order; only the moves that change something."""
    ours = sorted((m for m in media if m.ours), key=lambda m: (m.index is None, m.index or 0, m.view, m.filename))
    order = [m.id for m in media]
    moves = []
    for position, item in enumerate(ours):
        if order[position] != item.id:
            order.remove(item.id)
            order.insert(position, item.id)
            moves.append({"id": item.id, "newPosition": str(position)})
    return moves


def to_detach(media: list[Media], mine: Media, policy: str) -> list[str]:
    """The images the replace policy takes off the product for ``mine``.

    Of booth's images of one view only the newest stays: the ones from earlier
    jobs go, and ``mine`` itself goes when a later job's image of the view is
    already there (an older photo, published late after a retry, never takes
    a newer one's place). ``replace-all`` also takes every image booth did not
    make. Videos and 3D models are never booth's to take off."""
    if policy == "append":
        return []
    images = [m for m in media if m.kind == "IMAGE" and m.id != mine.id]
    same_view = [m for m in images if m.ours and m.view == mine.view]
    if any(m.sequence > mine.sequence for m in same_view):
        newest = max(m.sequence for m in same_view)
        out = [m.id for m in same_view if m.sequence < newest] + [mine.id]
    else:
        out = [m.id for m in same_view]
    if policy == "replace-all":
        out += [m.id for m in images if not m.ours]
    return out


def alt_text(template: str, values: Mapping[str, object]) -> str:
    """The alt text: the (checked) template filled in, blanks and dangling dashes
    tidied away; the title alone when nothing else is left."""
    text = fill_template(template, {k: "" if v is None else str(v) for k, v in values.items()})
    return re.sub(r"\s+", " ", text).strip(" -") or str(values.get("title") or "")
