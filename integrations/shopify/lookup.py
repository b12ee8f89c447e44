"""Which product a photo's product key names: a variant's SKU or barcode, or a
title plus serial number. Shopify's search is tokenised and fuzzy (``CAM-1``
also finds ``CAM-10``), so every hit is read, page by page, and matched
exactly here; no match or more than one product is a ``NeedsReview``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from . import queries as Q
from .config import PublishParams

MAX_HITS = 500  # search hits read at most: a key this unspecific needs a person anyway


class Client(Protocol):
    def execute(self, document: str, variables: dict | None = None) -> dict: ...

    def paged(self, document: str, variables: dict, root: str, connection: str | None = None,
              limit: int | None = None) -> tuple[dict | None, list[dict]]: ...


@dataclass(frozen=True)
class Match:
    product_id: str
    variant_id: str | None  # the one variant the key names, if it names one
    title: str


@dataclass(frozen=True)
class NeedsReview:
    """No single product matched; ``booth link JOB PRODUCT_ID`` settles it."""

    reason: str
    candidates: list[dict]


def find_product(client: Client, key: str, params: PublishParams) -> Match | NeedsReview:
    key = key.strip()
    if not key:  # an empty key would "match" every variant without a SKU
        return NeedsReview("the photo's path gave no product key", [])
    if params.lookup == "title-serial":
        return _by_title_serial(client, key, params)
    return _by_code(client, key, params.lookup)


def _by_code(client: Client, key: str, attr: str) -> Match | NeedsReview:
    _, nodes = client.paged(Q.VARIANTS_BY_SEARCH, {"query": Q.search_term(attr, key), "first": Q.VARIANT_SEARCH_FIRST},
                            "productVariants", limit=MAX_HITS)
    exact = [n for n in nodes if (n.get(attr) or "").strip() == key]
    products = {n["product"]["id"] for n in exact}
    if len(products) == 1:
        variant = exact[0] if len(exact) == 1 else None
        return Match(exact[0]["product"]["id"], variant and variant["id"], exact[0]["product"]["title"])
    reason = (f"no product has a variant with {attr} {key!r}" if not products
              else f"{len(products)} products have a variant with {attr} {key!r}")
    if not products and len(nodes) >= MAX_HITS:
        reason += f" among the first {MAX_HITS} search hits"
    candidates = [{"id": n["product"]["id"], "title": n["product"]["title"], "variant_id": n["id"],
                   "sku": n.get("sku"), "barcode": n.get("barcode")} for n in (exact or nodes[:20])]
    return NeedsReview(reason, candidates)


def _by_title_serial(client: Client, key: str, params: PublishParams) -> Match | NeedsReview:
    match = re.match(params.title_serial_pattern, key)
    if not match:
        return NeedsReview(f"product key {key!r} does not match title_serial_pattern", [])
    title, serial = _norm(match.group("title")), match.group("serial").casefold()
    _, nodes = client.paged(Q.PRODUCTS_BY_SEARCH, {"query": Q.search_term("title", match.group("title")),
                                                   "first": Q.SEARCH_FIRST}, "products", limit=MAX_HITS)
    same_title = [n for n in nodes if _norm(n["title"]).startswith(title)]
    for node in same_title:  # the search brings a few variants each; a serial may be on a later one
        if node["variants"]["pageInfo"]["hasNextPage"]:
            _, every = client.paged(Q.PRODUCT_VARIANTS, {"id": node["id"]}, "product", "variants")
            node["variants"]["nodes"] = every
    exact = [n for n in same_title if _has_serial(n, serial)]
    if len(exact) == 1:
        variants = exact[0]["variants"]["nodes"]
        return Match(exact[0]["id"], variants[0]["id"] if len(variants) == 1 else None, exact[0]["title"])
    reason = (f"no product titled {match.group('title')!r} with serial {serial!r}" if not exact
              else f"{len(exact)} products titled {match.group('title')!r} with serial {serial!r}")
    candidates = [{"id": n["id"], "title": n["title"],
                   "sku": ", ".join(v.get("sku") or "" for v in n["variants"]["nodes"])}
                  for n in (exact or same_title or nodes)[:20]]
    return NeedsReview(reason, candidates)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _has_serial(product: dict, serial: str) -> bool:
    tokens = {t.lstrip("#") for t in _norm(product["title"]).split()}
    codes = [(v.get(k) or "").casefold() for v in product["variants"]["nodes"] for k in ("sku", "barcode")]
    return serial in tokens or any(c == serial or c.endswith(f"-{serial}") for c in codes)
