"""What the booth wrote into a photo: its IPTC and XMP tags, read from the
file's first bytes (never the pixels).

StyleShoots writes keywords/subject, the preset, the product (name or
barcode), the framing and the view on export. Tag names differ between
writers and versions, so every simple XMP property and the IPTC datasets
below are read under a lower-case local name (``Preset``, ``ss:Preset`` and
``photoshop:Preset`` all become ``preset``); keywords are joined with ", ".
Absent tags are simply absent. Pure: bytes in, a dict of strings out.
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, IptcImagePlugin

# IPTC IIM (record 2) datasets worth reading, by number.
_IPTC = {5: "title", 25: "keywords", 40: "instructions", 80: "byline", 105: "headline", 116: "copyright",
         120: "caption", 12: "subject"}
# XMP names that mean the same thing, folded to one field.
_SAME = {"subject": "keywords", "title": "title", "description": "caption", "creator": "byline",
         "rights": "copyright", "headline": "headline", "productname": "product", "presetname": "preset",
         "viewname": "view"}
_SAFE = re.compile(r"[^a-z0-9_]+")
MAX_VALUE = 500  # characters kept per field: a bar or alt text, not a document


def read_tags(head: bytes) -> dict[str, str]:
    """The photo's tags from its first bytes (a few hundred kB hold them); {} when none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(head))
            tags = _xmp(image)
            for key, value in _iptc(image).items():
                tags.setdefault(key, value)
    except Exception:  # noqa: BLE001 - a hostile header: no tags, the decoder will say what is wrong
        return {}
    return {k: v[:MAX_VALUE] for k, v in tags.items() if v}


def _xmp(image: Image.Image) -> dict[str, str]:
    try:
        tree = image.getxmp()
    except Exception:  # noqa: BLE001 - malformed XMP
        return {}
    found: dict[str, str] = {}
    _walk(tree, found)
    return found


def _walk(node, found: dict[str, str], name: str | None = None) -> None:
    """Simple properties (attributes and leaf elements) and rdf lists, by local name."""
    if isinstance(node, dict):
        items = [v for k, v in node.items() if k in ("li", "Bag", "Seq", "Alt")]
        if name is not None and items:
            values = []
            for item in items:
                values += _strings(item)
            _put(found, name, ", ".join(values))
            return
        for key, value in node.items():
            if isinstance(value, (str, int, float)):
                _put(found, key, str(value))
            else:
                _walk(value, found, key)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found, name)
    elif isinstance(node, str) and name is not None:
        _put(found, name, node)


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node.strip()] if node.strip() else []
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [s for key, item in node.items() if key in ("li", "Bag", "Seq", "Alt", "text")
                for s in _strings(item)]
    return []


def _put(found: dict[str, str], key: str, value: str) -> None:
    local = _SAFE.sub("_", key.rsplit(":", 1)[-1].rsplit("}", 1)[-1].lower()).strip("_")
    if not local or local in ("about", "xmlns", "li", "lang") or not value.strip():
        return
    found.setdefault(_SAME.get(local, local), " ".join(value.split()))


def _iptc(image: Image.Image) -> dict[str, str]:
    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception:  # noqa: BLE001 - malformed IPTC
        return {}
    out = {}
    for (record, dataset), value in info.items():
        if record != 2 or dataset not in _IPTC:
            continue
        values = value if isinstance(value, list) else [value]
        text = ", ".join(v.decode("utf-8", "replace").strip() for v in values if isinstance(v, bytes))
        if text:
            out[_IPTC[dataset]] = " ".join(text.split())
    return out
