"""The publish flow: one finished image -> one media item on the right product.

Steps, each one's remote id committed to the job's ``RemoteIds`` before the
next step starts, so a restart after any step picks up where it stopped:

  product_id           lookup by SKU / barcode / title + serial (or set by ``booth link``)
  staged_resource_url  stagedUploadsCreate + multipart POST of the bytes
  file_id              fileCreate with the deterministic filename
  (READY)              poll until READY; a FAILED file is deleted and created
                       again, ``media_retries`` times (``failed_files`` counts them)
  attached             fileUpdate referencesToAdd: the product
  replaced             fileUpdate referencesToRemove: older images per the replace policy
  variant_media        productVariantAppendMedia (when ``assign_variant``)
  reordered            productReorderMedia by view index

Media mutations have no idempotency keys. Before a mutation that creates or
attaches something, a ``*_pending`` marker is committed; when it is found on a
later run, or when a mutation ended ambiguously (timeout, dropped connection,
5xx, an internal error), the flow first looks for the result (the file by its
deterministic name, the product's or the variant's media) and only sends the
mutation again if it is not there. ``fileCreate`` also asks Shopify to refuse a
duplicate filename, a second guard.

User errors are permanent, except the few that say Shopify is busy with the
object (``BUSY_CODES``): those are transient, and the job is tried again later.
"""

from __future__ import annotations

import json
import mimetypes
import re
import string
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol
from urllib.parse import urlsplit

import httpx
import structlog

from . import queries as Q
from .auth import token_source
from .client import AdminClient
from .config import PublishParams, ShopifyConfig
from .errors import AmbiguousError, GraphQLError, MediaFailed, PermanentError, PublishError, TransientError

log = structlog.get_logger("booth.shopify")

MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
DUPLICATE_CODES = {"DUPLICATE_FILENAME_ERROR", "FILENAME_ALREADY_EXISTS"}
# User errors that clear by themselves: another operation holds the file or
# media, or it is still processing. The mutation did nothing, so the job can
# simply be tried again later (FilesErrorCode / MediaUserErrorCode in the schema).
BUSY_CODES = {"FILE_LOCKED", "MEDIA_CANNOT_BE_MODIFIED", "NON_READY_MEDIA", "NON_READY_STATE"}


class RemoteIds(Protocol):
    """The journal's per-job store of Shopify ids."""

    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...  # durably committed before it returns


@dataclass(frozen=True)
class PublishRequest:
    job_id: str
    image_path: Path
    image_sha256: str
    category: str
    product_key: str
    view: str | None
    index: int | None
    fields: Mapping[str, str]
    params: PublishParams


@dataclass(frozen=True)
class Published:
    product_id: str
    media_id: str
    dry_run: bool = False  # nothing was sent; the ids may be empty


@dataclass(frozen=True)
class NeedsReview:
    """No single product matched; ``booth link JOB PRODUCT_ID`` settles it."""

    reason: str
    candidates: list[dict]


# --------------------------------------------------------------------------- names

def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:80] or "x"


def view_label(view: str | None, index: int | None) -> str:
    """'02-front': the index leads so the order can be rebuilt from Shopify's own data."""
    parts = ([f"{index:02d}"] if index is not None else []) + ([slug(view)] if view else [])
    return "-".join(parts) or "image"


def media_filename(request: PublishRequest) -> str:
    """``<product>-<view>-<hash8>.<ext>``: the same image always gets the same name."""
    ext = request.image_path.suffix.lower().lstrip(".") or "jpg"
    return f"{slug(request.product_key)}-{view_label(request.view, request.index)}-{request.image_sha256[:8]}.{ext}"


@dataclass(frozen=True)
class Media:
    id: str
    filename: str | None
    view: str | None = None   # the view label, for booth's own images
    index: int | None = None
    kind: str = "IMAGE"       # MediaContentType: IMAGE, VIDEO, EXTERNAL_VIDEO, MODEL_3D

    @property
    def ours(self) -> bool:
        return self.view is not None


def parse_media(node: dict, product_slug: str) -> Media:
    name = _basename(node)
    kind = node.get("mediaContentType") or "IMAGE"
    match = re.fullmatch(rf"{re.escape(product_slug)}-(.+)-[0-9a-f]{{8}}\.\w+", name or "")
    if not match or kind != "IMAGE":
        return Media(node["id"], name, kind=kind)
    index = re.match(r"(\d+)(?:-|$)", match.group(1))
    return Media(node["id"], name, match.group(1), int(index.group(1)) if index else None, kind)


def _basename(node: dict) -> str | None:
    url = (node.get("image") or {}).get("url") or (node.get("originalSource") or {}).get("url")
    return urlsplit(url).path.rsplit("/", 1)[-1] if url else None


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


def search_term(field_name: str, value: str) -> str:
    """``sku:"A \\"B\\""``: a quoted search term (it still travels as a variable)."""
    return f'{field_name}:"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def alt_text(template: str, values: Mapping[str, object]) -> str:
    text = string.Formatter().vformat(template, (), _Blank(values))
    return re.sub(r"\s+", " ", text).strip(" -") or str(values.get("title", ""))


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    media: list[Media]


# --------------------------------------------------------------------------- publisher

class Publisher:
    """Publishes finished images; one instance is shared by the publish workers."""

    def __init__(self, config: ShopifyConfig, *, on_secret: Callable[[str], None] = lambda s: None,
                 dry_run: bool = False, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, environ: Mapping[str, str] | None = None,
                 http: httpx.Client | None = None, on_retry: Callable[[str], None] = lambda operation: None) -> None:
        self.config = config
        self.dry_run = dry_run or not config.enabled
        self._sleep = sleep
        self._clock = clock
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self.client: AdminClient | None = None
        if not self.dry_run:
            http = http or httpx.Client(timeout=config.timeout)
            auth = token_source(config, http=http, on_secret=on_secret, environ=environ, clock=clock)
            self.client = AdminClient(config, auth, http=http, sleep=sleep, clock=clock, on_retry=on_retry)

    def close(self) -> None:
        if self.client:
            self.client.close()

    def throttle(self) -> tuple[float | None, float | None]:
        """(cost points available, bucket size) as Shopify last reported them."""
        return self.client.throttle() if self.client else (None, None)

    # ------------------------------------------------------------------ flow

    def publish(self, request: PublishRequest, ids: RemoteIds) -> Published | NeedsReview:
        filename = media_filename(request)
        if self.dry_run:
            log.info("shopify.dry_run", job=request.job_id, product_key=request.product_key,
                     filename=filename, category=request.category, view=request.view,
                     product_id=ids.get("product_id"), replace=request.params.replace)
            return Published(ids.get("product_id") or "", ids.get("file_id") or "", dry_run=True)
        product_id = ids.get("product_id")
        if not product_id:
            found = self.lookup(request.product_key, request.params)
            if isinstance(found, NeedsReview):
                log.info("shopify.needs_review", job=request.job_id, reason=found.reason,
                         candidates=len(found.candidates))
                ids.put("candidates", json.dumps(found.candidates))  # for whoever runs 'booth link'
                return found
            product_id, variant_id, title = found
            if variant_id:
                ids.put("variant_id", variant_id)
            ids.put("product_title", title)
            ids.put("product_id", product_id)
        with self._product_lock(product_id):
            file_id = self._ensure_ready_file(request, ids, product_id, filename)
            self._ensure_attached(ids, product_id, file_id)
            if request.params.replace != "append":
                self._ensure_replaced(request, ids, product_id, file_id)
            if request.params.assign_variant:
                self._ensure_variant(request, ids, product_id, file_id)
            self._ensure_order(request, ids, product_id)
        log.info("shopify.published", job=request.job_id, product_id=product_id, media_id=file_id, filename=filename)
        return Published(product_id, file_id)

    # ------------------------------------------------------------------ lookup

    def lookup(self, key: str, params: PublishParams) -> tuple[str, str | None, str] | NeedsReview:
        """(product id, variant id or None, title), or ``NeedsReview`` with the candidates."""
        key = key.strip()
        if not key:  # an empty key would "match" every variant without a SKU
            return NeedsReview("the photo's path gave no product key", [])
        if params.lookup == "title-serial":
            return self._lookup_title_serial(key, params)
        attr = params.lookup
        data = self._execute(Q.VARIANTS_BY_SEARCH, {"query": search_term(attr, key), "first": Q.SEARCH_FIRST})
        nodes = data["productVariants"]["nodes"]
        exact = [n for n in nodes if (n.get(attr) or "").strip() == key]
        products = {n["product"]["id"] for n in exact}
        if len(products) == 1:
            variant = exact[0] if len(exact) == 1 else None
            return exact[0]["product"]["id"], variant and variant["id"], exact[0]["product"]["title"]
        reason = (f"no product has a variant with {attr} {key!r}" if not products
                  else f"{len(products)} products have a variant with {attr} {key!r}")
        candidates = [{"id": n["product"]["id"], "title": n["product"]["title"], "variant_id": n["id"],
                       "sku": n.get("sku"), "barcode": n.get("barcode")} for n in (exact or nodes)]
        return NeedsReview(reason, candidates)

    def _lookup_title_serial(self, key: str, params: PublishParams):
        match = re.match(params.title_serial_pattern, key)
        if not match:
            return NeedsReview(f"product key {key!r} does not match title_serial_pattern", [])
        title, serial = _norm(match.group("title")), match.group("serial").casefold()
        data = self._execute(Q.PRODUCTS_BY_SEARCH, {"query": search_term("title", match.group("title")),
                                                    "first": Q.SEARCH_FIRST})
        nodes = data["products"]["nodes"]
        same_title = [n for n in nodes if _norm(n["title"]).startswith(title)]
        for node in same_title:  # the search brings a few variants each; a serial may be on a later one
            if node["variants"]["pageInfo"]["hasNextPage"]:
                _, every = self._paged(Q.PRODUCT_VARIANTS, {"id": node["id"]}, "product", "variants")
                node["variants"]["nodes"] = every
        exact = [n for n in same_title if _has_serial(n, serial)]
        if len(exact) == 1:
            variants = exact[0]["variants"]["nodes"]
            return exact[0]["id"], variants[0]["id"] if len(variants) == 1 else None, exact[0]["title"]
        reason = (f"no product titled {match.group('title')!r} with serial {serial!r}" if not exact
                  else f"{len(exact)} products titled {match.group('title')!r} with serial {serial!r}")
        candidates = [{"id": n["id"], "title": n["title"],
                       "sku": ", ".join(v.get("sku") or "" for v in n["variants"]["nodes"])}
                      for n in (exact or same_title or nodes)]
        return NeedsReview(reason, candidates)

    # ------------------------------------------------------------------ steps

    def _ensure_ready_file(self, request: PublishRequest, ids: RemoteIds, product_id: str, filename: str) -> str:
        """The id of a READY file holding the image, created if need be.

        Shopify takes no new bytes into a FAILED file (``fileUpdate`` answers
        INVALID_FAILED_MEDIA_STATE), so a FAILED file is deleted and the image
        uploaded and created afresh, at most ``media_retries`` times."""
        while True:
            file_id = self._ensure_file(request, ids, product_id, filename)
            if ids.get("attached"):
                return file_id  # only a READY file can be attached
            node = self._wait_processed(file_id, filename)
            if node is not None and node.get("fileStatus") == "READY":
                return file_id
            self._discard_failed(request, ids, file_id, filename, node)

    def _ensure_file(self, request: PublishRequest, ids: RemoteIds, product_id: str, filename: str) -> str:
        if file_id := ids.get("file_id"):
            return file_id
        if ids.get("file_pending") and (found := self._find_file(filename, ids)):
            ids.put("file_id", found)
            return found
        source = ids.get("staged_resource_url") or self._stage(request, filename, ids)
        alt = self._alt(request, ids, product_id)
        spec = {"originalSource": source, "contentType": "IMAGE", "alt": alt, "filename": filename,
                "duplicateResolutionMode": "RAISE_ERROR"}
        ids.put("file_pending", filename)
        for attempt in range(self.config.step_retries + 1):
            try:
                payload = self._execute(Q.FILE_CREATE, {"files": [spec]})["fileCreate"]
            except AmbiguousError:
                if found := self._find_file(filename, ids):
                    ids.put("file_id", found)
                    return found
                if attempt == self.config.step_retries:
                    raise
                continue
            errors = payload["userErrors"]
            if errors and {e.get("code") for e in errors} & DUPLICATE_CODES:
                if found := self._find_file(filename, ids):
                    ids.put("file_id", found)
                    return found
                raise TransientError(f"{filename} exists on Shopify but is not findable yet")
            if errors:
                raise _refused(errors, f"fileCreate {filename}")
            file_id = payload["files"][0]["id"]
            ids.put("file_id", file_id)
            return file_id
        raise AssertionError("unreachable")

    def _stage(self, request: PublishRequest, filename: str, ids: RemoteIds) -> str:
        """Upload the bytes to a staged target; returns (and stores) its resourceUrl."""
        ext = filename.rsplit(".", 1)[-1]
        mime = MIME.get(ext) or mimetypes.guess_type(filename)[0]
        if not mime or not mime.startswith("image/"):
            raise PermanentError(f"{filename}: Shopify takes JPG, PNG, GIF or WebP images")
        body = request.image_path.read_bytes()
        spec = {"resource": "IMAGE", "filename": filename, "mimeType": mime, "httpMethod": "POST",
                "fileSize": str(len(body))}
        payload = self._idempotent(Q.STAGED_UPLOADS_CREATE, {"input": [spec]}, "stagedUploadsCreate")
        target = payload["stagedTargets"][0]
        self.client.upload(target["url"], target["parameters"], filename, body, mime)
        ids.put("staged_resource_url", target["resourceUrl"])
        return target["resourceUrl"]

    def _wait_processed(self, file_id: str, filename: str) -> dict | None:
        """The file's status node once READY or FAILED; None when it is gone."""
        deadline = self._clock() + self.config.poll_timeout
        while True:
            node = self._execute(Q.FILE_STATUS, {"ids": [file_id]})["nodes"][0]
            if node is None or node.get("fileStatus") in ("READY", "FAILED"):
                return node
            if self._clock() > deadline:
                raise TransientError(f"{filename} still {node.get('fileStatus')} after {self.config.poll_timeout:g} s")
            self._sleep(self.config.poll_interval)

    def _discard_failed(self, request: PublishRequest, ids: RemoteIds, file_id: str, filename: str,
                        node: dict | None) -> None:
        """Spend one retry on a FAILED file: delete it and forget its ids, so the
        next pass stages and creates the image again.

        ``failed_files`` lists the deleted files' ids: it is the retry counter
        and its own crash marker in one commit, so a restart at any point here
        neither loses the retry nor spends it twice (a file already listed is
        not counted again; one listed and gone was deleted by us)."""
        failed = [f for f in (ids.get("failed_files") or "").split(",") if f]
        if node is None and file_id not in failed:
            raise PermanentError(f"{filename} ({file_id}) no longer exists on Shopify")
        if node is not None:
            message = _problems(node)
            ids.put("media_error", message)
            if file_id not in failed:
                if len(failed) >= self.config.media_retries:
                    raise MediaFailed(f"Shopify could not process {filename}: {message}")
                failed.append(file_id)
                ids.put("failed_files", ",".join(failed))
                log.warning("shopify.media_failed", job=request.job_id, filename=filename, error=message,
                            retry=len(failed), file_id=file_id)
            self._idempotent(Q.FILE_DELETE, {"ids": [file_id]}, "fileDelete", done={"FILE_DOES_NOT_EXIST"})
        for key in ("staged_resource_url", "file_pending", "file_id"):  # file_id last: it says what to delete
            ids.put(key, "")

    def _ensure_attached(self, ids: RemoteIds, product_id: str, file_id: str) -> None:
        if ids.get("attached"):
            return
        check = bool(ids.get("attach_pending"))
        ids.put("attach_pending", file_id)
        for attempt in range(self.config.step_retries + 1):
            if check and file_id in {m.id for m in self._product(product_id).media}:
                break
            try:
                payload = self._execute(Q.FILE_UPDATE, {"files": [{"id": file_id, "referencesToAdd": [product_id]}]})
            except AmbiguousError:
                if attempt == self.config.step_retries:
                    raise
                check = True
                continue
            if errors := payload["fileUpdate"]["userErrors"]:
                raise _refused(errors, f"attaching {file_id} to {product_id}")
            break
        ids.put("attached", file_id)

    def _ensure_replaced(self, request: PublishRequest, ids: RemoteIds, product_id: str, file_id: str) -> None:
        """Detach older images per the policy; videos and 3D models are never booth's to replace."""
        if ids.get("replaced"):
            return
        product = self._product(product_id, slug(request.product_key))
        mine = view_label(request.view, request.index)
        old = [m.id for m in product.media if m.id != file_id and m.kind == "IMAGE" and (
            m.view == mine or (request.params.replace == "replace-all" and not m.ours))]
        if old:
            self._idempotent(Q.FILE_UPDATE, {"files": [{"id": m, "referencesToRemove": [product_id]} for m in old]},
                             "fileUpdate")
            log.info("shopify.replaced", job=request.job_id, product_id=product_id, detached=old)
        ids.put("replaced", ",".join(old) or "-")

    def _ensure_variant(self, request: PublishRequest, ids: RemoteIds, product_id: str, file_id: str) -> None:
        """Give the matched variant this image. A variant holds one media item:
        one that already has another keeps it (logged, not an error)."""
        if ids.get("variant_media"):
            return
        variant_id = ids.get("variant_id")
        if not variant_id:
            log.info("shopify.no_variant", product_id=product_id, reason="no single variant matched")
            ids.put("variant_media", "-")
            return
        pending = f"{variant_id} {file_id}"
        check = ids.get("variant_pending") == pending  # an earlier run may have sent it
        ids.put("variant_pending", pending)
        variables = {"productId": product_id, "variantMedia": [{"variantId": variant_id, "mediaIds": [file_id]}]}
        for attempt in range(self.config.step_retries + 1):
            if check and file_id in self._variant_media(variant_id):
                break
            try:
                payload = self._execute(Q.VARIANT_APPEND_MEDIA, variables)["productVariantAppendMedia"]
            except AmbiguousError:
                if attempt == self.config.step_retries:
                    raise
                check = True
                continue
            errors = payload["userErrors"]
            if any(e.get("code") == "PRODUCT_VARIANT_ALREADY_HAS_MEDIA" for e in errors):
                held = self._variant_media(variant_id)
                if file_id in held:
                    break
                log.warning("shopify.variant_has_media", job=request.job_id, variant_id=variant_id,
                            media_id=file_id, held=sorted(held))
                ids.put("variant_media", "-")
                return
            if errors:
                raise _refused(errors, f"variant media for {variant_id}")
            break
        ids.put("variant_media", variant_id)

    def _ensure_order(self, request: PublishRequest, ids: RemoteIds, product_id: str) -> None:
        if ids.get("reordered"):
            return
        for attempt in range(self.config.step_retries + 1):
            moves = plan_moves(self._product(product_id, slug(request.product_key)).media)
            if not moves:
                break
            try:
                payload = self._execute(Q.PRODUCT_REORDER_MEDIA, {"id": product_id, "moves": moves})
            except AmbiguousError:
                if attempt == self.config.step_retries:
                    raise
                continue  # the next listing shows whether it landed
            payload = payload["productReorderMedia"]
            if payload["mediaUserErrors"]:
                raise _refused(payload["mediaUserErrors"], f"reordering {product_id}")
            if payload.get("job") and not payload["job"]["done"]:
                self._wait_job(payload["job"]["id"])
            break
        ids.put("reordered", "1")

    # ------------------------------------------------------------------ helpers

    def _execute(self, document: str, variables: dict) -> dict:
        return self.client.execute(document, variables)

    def _idempotent(self, document: str, variables: dict, root: str, done: set[str] = frozenset()) -> dict:
        """A mutation that is safe to send twice: an ambiguous failure just sends
        it again. User errors with a code in ``done`` mean an earlier send took."""
        for attempt in range(self.config.step_retries + 1):
            try:
                payload = self._execute(document, variables)[root]
                break
            except AmbiguousError:
                if attempt == self.config.step_retries:
                    raise
        errors = payload.get("userErrors") or []
        if errors and not {e.get("code") for e in errors} <= done:
            raise _refused(errors, root)
        return payload

    def _find_file(self, filename: str, ids: RemoteIds) -> str | None:
        """The file already created under this exact name (the search is fuzzy:
        match here), never one we deleted as FAILED (search may lag a delete)."""
        gone = set((ids.get("failed_files") or "").split(","))
        nodes = self._execute(Q.FILES_BY_FILENAME, {"query": search_term("filename", filename)})["files"]["nodes"]
        return next((n["id"] for n in nodes if _basename(n) == filename and n["id"] not in gone), None)

    def _paged(self, document: str, variables: dict, root: str, connection: str) -> tuple[dict | None, list[dict]]:
        """``data[root]`` and every node of its ``connection``, page by page
        (``$after``); (None, []) when the root object does not exist."""
        nodes: list[dict] = []
        after = None
        while True:
            owner = self._execute(document, {**variables, "after": after})[root]
            if owner is None:
                return None, []
            page = owner[connection]
            nodes.extend(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return owner, nodes
            after = page["pageInfo"]["endCursor"]

    def _product(self, product_id: str, product_slug: str = "") -> Product:
        node, media = self._paged(Q.PRODUCT_MEDIA, {"id": product_id}, "product", "media")
        if node is None:
            raise PermanentError(f"product {product_id} does not exist on Shopify")
        parsed = [parse_media(n, product_slug) if product_slug
                  else Media(n["id"], _basename(n), kind=n.get("mediaContentType") or "IMAGE") for n in media]
        return Product(node["id"], node["title"], parsed)

    def _variant_media(self, variant_id: str) -> set[str]:
        node = self._execute(Q.VARIANT_MEDIA, {"id": variant_id})["productVariant"]
        if node is None:
            raise PermanentError(f"variant {variant_id} does not exist on Shopify")
        return {m["id"] for m in node["media"]["nodes"]}

    def _wait_job(self, job_id: str) -> None:
        """Until Shopify's reorder job is done; one that never says so is tried again later."""
        deadline = self._clock() + self.config.poll_timeout
        while True:
            job = self._execute(Q.JOB, {"id": job_id})["job"]
            if job is None or job["done"]:
                return
            if self._clock() >= deadline:
                raise TransientError(f"reorder job {job_id} not done after {self.config.poll_timeout:g} s")
            self._sleep(self.config.poll_interval)

    def _alt(self, request: PublishRequest, ids: RemoteIds, product_id: str) -> str:
        title = request.fields.get("title") or ids.get("product_title")
        if not title:
            title = self._product(product_id).title
        values = {"product_key": request.product_key, "category": request.category, "view": request.view or "",
                  "index": "" if request.index is None else request.index + 1, **request.fields, "title": title}
        return alt_text(request.params.alt, values)

    def _product_lock(self, product_id: str) -> threading.Lock:
        """Images of one product are attached and ordered one at a time, so each
        reorder sees every image attached before it."""
        with self._locks_guard:
            return self._locks[product_id]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _has_serial(product: dict, serial: str) -> bool:
    tokens = {t.lstrip("#") for t in _norm(product["title"]).split()}
    codes = [(v.get(k) or "").casefold() for v in product["variants"]["nodes"] for k in ("sku", "barcode")]
    return serial in tokens or any(c == serial or c.endswith(f"-{serial}") for c in codes)


def _problems(node: dict) -> str:
    """Shopify's reasons a file FAILED (fileErrors and mediaErrors often say the same)."""
    problems = [*(node.get("fileErrors") or []), *(node.get("mediaErrors") or [])]
    return "; ".join(dict.fromkeys(
        f"{p.get('code')}: {p.get('message')}" + (f" ({p['details']})" if p.get("details") else "")
        for p in problems)) or "processing failed"


def _refused(errors: list[dict], what: str) -> PublishError:
    """The error for a mutation's user errors: transient when every one says
    Shopify is busy with the object (``BUSY_CODES``), permanent otherwise."""
    codes = {e.get("code") for e in errors}
    named = ", ".join(sorted(str(c) for c in codes if c))
    message = f"{what}: {_messages(errors)}" + (f" [{named}]" if named else "")
    if codes <= BUSY_CODES:
        return TransientError(f"{message} (Shopify is busy with it; trying again later)")
    return GraphQLError(message)


def _messages(errors: list[dict]) -> str:
    return "; ".join(f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ") for e in errors)
