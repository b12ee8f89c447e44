"""Path -> category, product key, view and index.

Rules from ``routes:`` are tried in order against the path relative to the
watched root (always with ``/``); the first match wins. A rule is a glob
(``Lenses/**``) or a regex whose named groups (``product``, ``view``,
``index``, or any other) fill the rule's templates. Whatever a rule leaves
empty is guessed leniently from the names the booth writes:

- StyleShoots default naming ``048459373763_FrontView_1.jpg`` (product_View_n),
- the used-gear naming ``Canon r5 #816-Front-JPEG-1.jpg`` (title #serial-View-…-n),
- otherwise the product is the photo's folder (or its own name at the root).

A path that matches no rule uses the ``default`` category.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

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

    def route(self, relative: str | PurePosixPath) -> Route:
        rel = str(relative).replace("\\", "/").lstrip("/")
        for rule, match in self._rules:
            found = match(rel)
            if found is not None:
                return _build(rule.category, rel, found, rule)
        return _build(DEFAULT_CATEGORY, rel, {}, None)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A path glob: ``**`` crosses folders, ``*`` and ``?`` stay within one, ``[...]`` as usual."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def _matcher(rule: RouteRule):
    if rule.regex is not None:
        regex = re.compile(rule.regex)
        return lambda rel: (lambda m: None if m is None else {
            k: v for k, v in m.groupdict().items() if v is not None})(regex.search(rel))
    regex = glob_to_regex(rule.glob or "")
    return lambda rel: {} if regex.match(rel) else None


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


def _build(category: str, rel: str, groups: Mapping[str, str], rule: RouteRule | None) -> Route:
    guessed = guess(rel)
    product = (fill_template(rule.product, groups) if rule else "") or guessed.get("product", "")
    view = (fill_template(rule.view, groups) if rule else "") or guessed.get("view", "")
    index_text = (fill_template(rule.index, groups) if rule else "") or guessed.get("index", "")
    product = " ".join(product.split()) or PurePosixPath(rel).stem
    index = int(index_text) if index_text.isdigit() else None
    return Route(category, product, view or None, index, _fields(category, product, view, index_text, groups))


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
