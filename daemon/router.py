"""Path -> category, product key, view and index.

Rules from ``routes:`` are tried in order against the path relative to the
watched root (always with ``/``) and the photo's IPTC/XMP tags; the first
match wins. A rule is a glob (``Lenses/**``, through wcmatch) or a regex whose
named groups (``product``, ``view``, ``index``, or any other) fill the rule's
templates, and/or ``meta``: globs the tags must match (``{preset: 'Lenses*'}``).
Tags fill fields too (``{preset}``, ``{keywords}``...), and give the product
and view when the rule does not. Whatever a rule leaves
empty is guessed leniently from the names the booth writes:

- StyleShoots default naming ``048459373763_FrontView_1.jpg`` (product_View_n),
- the used-gear naming ``Canon r5 #816-Front-JPEG-1.jpg`` (title #serial-View-…-n),
- otherwise the product is the photo's folder (or its own name at the root).

A path that matches no rule uses the ``default`` category.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from wcmatch import glob

from daemon.config import DEFAULT_CATEGORY, RouteRule
from pipeline.template import fill_template


@dataclass(frozen=True)
class Route:
    category: str
    product_key: str
    view: str | None = None
    index: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # title, sku, product, view, category, serial, ...


_STYLESHOOTS = re.compile(r"^(?P<product>.+?)_(?P<view>[A-Za-z][A-Za-z0-9 ]*?)_(?P<index>\d+)$")
_USED_GEAR = re.compile(
    r"^(?P<product>.+?#\s*\d+)\s*-\s*(?P<view>[A-Za-z][A-Za-z0-9 ]*?)(?:-[A-Za-z]+)?-(?P<index>\d+)$")
_TITLE_SERIAL = re.compile(r"^(?P<title>.*?)\s*#\s*(?P<serial>\w+)\s*$")
_BARCODE = re.compile(r"^\d{8,14}$")


class Router:
    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self._rules = [(rule, _matcher(rule)) for rule in rules]

    def route(self, relative: str | PurePosixPath, tags: Mapping[str, str] | None = None) -> Route:
        """The route of the photo at ``relative`` (below its watched folder) with
        the IPTC/XMP ``tags`` the booth wrote into it."""
        rel = str(relative).replace("\\", "/").lstrip("/")
        tags = dict(tags or {})
        for rule, match in self._rules:
            found = match(rel, tags)
            if found is not None:
                return _build(rule.category, rel, found, rule, tags)
        return _build(DEFAULT_CATEGORY, rel, {}, None, tags)


_GLOB = glob.GLOBSTAR | glob.IGNORECASE | glob.DOTGLOB


def _matcher(rule: RouteRule):
    """(rel, tags) -> the named groups when the rule matches, else None."""
    if rule.regex is not None:
        regex = re.compile(rule.regex)
        path = lambda rel: (lambda m: None if m is None else {  # noqa: E731
            k: v for k, v in m.groupdict().items() if v is not None})(regex.search(rel))
    elif rule.glob is not None:
        pattern = rule.glob
        path = lambda rel: {} if glob.globmatch(rel, pattern, flags=_GLOB) else None  # noqa: E731
    else:
        path = lambda rel: {}  # noqa: E731
    wanted = {k.casefold(): v for k, v in (rule.meta or {}).items()}

    def match(rel: str, tags: Mapping[str, str]) -> dict[str, str] | None:
        folded = {k.casefold(): v for k, v in tags.items()}
        if any(not fnmatch.fnmatch(folded.get(k, "").casefold(), v.casefold()) or k not in folded
               for k, v in wanted.items()):
            return None
        return path(rel)
    return match


def guess(rel: str) -> dict[str, str]:
    """product / view / index from the booth's own naming, leniently."""
    path = PurePosixPath(rel)
    stem = path.stem
    for pattern in (_USED_GEAR, _STYLESHOOTS):
        m = pattern.match(stem)
        if m:
            return {k: v.strip() for k, v in m.groupdict().items()}
    parent = path.parent.name
    return {"product": parent or stem}


def _build(category: str, rel: str, groups: Mapping[str, str], rule: RouteRule | None,
           tags: Mapping[str, str]) -> Route:
    guessed = guess(rel)
    product = ((fill_template(rule.product, groups) if rule else "") or tags.get("product", "")
               or guessed.get("product", ""))
    view = (fill_template(rule.view, groups) if rule else "") or tags.get("view", "") or guessed.get("view", "")
    index_text = (fill_template(rule.index, groups) if rule else "") or guessed.get("index", "")
    product = " ".join(product.split()) or PurePosixPath(rel).stem
    index = int(index_text) if index_text.isdigit() else None
    fields = {**{k: v for k, v in tags.items() if k not in ("product", "view")},
              **_fields(category, product, view, index_text, groups)}
    return Route(category, product, view or None, index, fields)


def _fields(category: str, product: str, view: str, index: str, groups: Mapping[str, str]) -> dict[str, str]:
    fields = {"product": product, "title": product, "sku": product, "view": view,
              "index": index, "category": category, "serial": ""}
    m = _TITLE_SERIAL.match(product)
    if m:
        fields.update(title=m["title"] or product, serial=m["serial"])
    if _BARCODE.match(product):
        fields["barcode"] = product
    fields.update({k: v for k, v in groups.items() if k not in ("product", "view", "index")})
    return fields
