"""The publish flow: one finished image -> one media item on the right product.

Steps, each saved to the job's ``Progress`` (``progress.py``) before the next
one starts, so a restart after any step picks up where it stopped:

  product      lookup by SKU / barcode / title + serial (``lookup.py``), or set by ``booth link``
  upload       stagedUploadsCreate + multipart POST of the bytes
  file         fileCreate with the deterministic filename (``media.py``)
  (READY)      poll until READY; a FAILED file is deleted and created again,
               ``media_retries`` times (``failed_files`` counts them)
  attached     fileUpdate referencesToAdd: the product
  detached     fileUpdate referencesToRemove: older images per the replace policy
  variant      productVariantAppendMedia (when ``assign_variant``)
  reordered    productReorderMedia by view index
  bytes        once published, new bytes for the job (a reprocess, a redo, a
               product re-rendered at a new scale) go into the same file:
               stagedUploadsCreate + fileUpdate originalSource, which keeps the
               media id and its place on the product; ``published_sha256`` says
               which bytes are live, so the same bytes again do nothing

Media mutations have no idempotency keys. Before a mutation that creates,
attaches or replaces something, a pending marker is saved; when it is found on
a later run, or when a mutation ended ambiguously (timeout, dropped
connection, 5xx, an internal error), ``mutate`` first looks for the result
(the file by its deterministic name, the product's or the variant's media, the
file's new bytes) and sends the mutation again only if it is not there.
``fileCreate`` also asks Shopify to refuse a duplicate filename, a second guard.

User errors are permanent, except the few that say Shopify is busy with the
object (``BUSY_CODES``): those are transient, and the job is tried again later.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx
import structlog

from . import queries as Q
from .auth import token_source
from .client import AdminClient, remote_text, request_timeout
from .config import PublishParams, ShopifyConfig
from .errors import AmbiguousError, GraphQLError, MediaFailed, PermanentError, PublishError, TransientError
from .lookup import NeedsReview, find_product
from .media import Media, alt_text, basename, media_filename, parse_media, plan_moves, sequence_of, slug, \
    to_detach, view_label
from .progress import Progress, ProgressStore, Replacement, Upload

__all__ = ["NeedsReview", "Published", "PublishRequest", "Publisher"]

log = structlog.get_logger("booth.shopify")

MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
DUPLICATE_CODES = {"DUPLICATE_FILENAME_ERROR", "FILENAME_ALREADY_EXISTS"}
# User errors that clear by themselves: another operation holds the file or
# media, or it is still processing. The mutation did nothing, so the job can
# simply be tried again later (FilesErrorCode / MediaUserErrorCode in the schema).
BUSY_CODES = {"FILE_LOCKED", "MEDIA_CANNOT_BE_MODIFIED", "NON_READY_MEDIA", "NON_READY_STATE"}


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

    @property
    def sequence(self) -> int | None:
        """The job's place in the journal: a later photo has a higher one."""
        return sequence_of(self.job_id)

    @property
    def filename(self) -> str:
        """The name the image is published under (``media.media_filename``)."""
        return media_filename(self.product_key, self.view, self.index, self.image_sha256,
                              self.image_path.suffix, self.sequence)


@dataclass(frozen=True)
class Published:
    product_id: str
    media_id: str
    dry_run: bool = False    # nothing was sent; the ids may be empty
    replaced: bool = False   # the file on the product got this job's new bytes in place


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    media: list[Media]


@dataclass(frozen=True)
class Sent:
    """What ``mutate`` ended with: Shopify's answer, or (``payload`` None) what
    the look-up found already in place."""

    payload: dict | None
    found: Any = None


class _Run:
    """One publish of one job: the request and its progress, saved after each step."""

    def __init__(self, request: PublishRequest, store: ProgressStore) -> None:
        self.request = request
        self.store = store
        self.progress = store.load()

    def save(self, progress: Progress) -> None:
        self.store.save(progress)
        self.progress = progress


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
            http = http or httpx.Client(timeout=request_timeout(config))
            auth = token_source(config, http=http, on_secret=on_secret, environ=environ, clock=clock)
            self.client = AdminClient(config, auth, http=http, sleep=sleep, clock=clock, on_retry=on_retry)

    def close(self) -> None:
        if self.client:
            self.client.close()

    def throttle(self) -> tuple[float | None, float | None]:
        """(cost points available, bucket size) as Shopify last reported them."""
        return self.client.throttle() if self.client else (None, None)

    # ------------------------------------------------------------------ flow

    def publish(self, request: PublishRequest, store: ProgressStore) -> Published | NeedsReview:
        """Put ``request``'s image on its product, saving each step to ``store``."""
        run = _Run(request, store)
        if self.dry_run:
            log.info("shopify.dry_run", job=request.job_id, product_key=request.product_key,
                     filename=request.filename, category=request.category, view=request.view,
                     product_id=run.progress.product_id, replace=request.params.replace)
            return Published(run.progress.product_id or "", run.progress.file_id or "", dry_run=True)
        if not run.progress.product_id:
            found = find_product(self.client, request.product_key, request.params)
            if isinstance(found, NeedsReview):
                log.info("shopify.needs_review", job=request.job_id, reason=found.reason,
                         candidates=len(found.candidates))
                run.save(run.progress.needing_review(found.candidates))  # for whoever runs 'booth link'
                return found
            run.save(run.progress.with_product(found.product_id, found.title, found.variant_id))
        with self._product_lock(run.progress.product_id):
            replaced = self._publish_file(run)
        progress = run.progress
        log.info("shopify.published", job=request.job_id, product_id=progress.product_id, media_id=progress.file_id,
                 filename=progress.file_name, replaced=replaced, superseded=progress.superseded)
        return Published(progress.product_id, progress.file_id, replaced=replaced)

    def _publish_file(self, run: _Run) -> bool:
        """Every step after the product; True when the bytes were replaced in place."""
        while True:
            self._ensure_ready_file(run)
            self._ensure_attached(run)
            if run.request.params.replace != "append":
                self._ensure_detached(run)
            if run.request.params.assign_variant:
                self._ensure_variant(run)
            self._ensure_order(run)
            replaced = self._ensure_current_bytes(run)
            if replaced is not None:
                return replaced
            # the new bytes FAILED processing and the file was deleted: publish it afresh

    # ------------------------------------------------------------------ mutations

    def mutate(self, document: str, variables: dict, root: str, *,
               landed: Callable[[], Any] | None = None, pending: bool = False) -> Sent:
        """Send a mutation that has no idempotency key so that it takes effect once.

        ``landed`` looks the result up on Shopify and returns it (truthy), or
        a falsy value when it is not there. It is asked before the first send
        when ``pending`` (an earlier run saved the pending marker, and may have
        sent it), and after every ambiguous answer; the mutation is sent
        (again) only while the result is not there, ``step_retries`` times at
        most. Without ``landed`` the mutation is one that is safe to send
        twice, and an ambiguous answer just sends it again."""
        for attempt in range(self.config.step_retries + 1):
            if landed is not None and (pending or attempt) and (found := landed()):
                return Sent(None, found)
            try:
                return Sent(self.client.execute(document, variables)[root])
            except AmbiguousError:
                if attempt < self.config.step_retries:
                    continue
                if landed is not None and (found := landed()):
                    return Sent(None, found)
                raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the file

    def _ensure_ready_file(self, run: _Run) -> None:
        """A READY file holding the image, created if need be.

        Shopify takes no new bytes into a FAILED file (``fileUpdate`` answers
        INVALID_FAILED_MEDIA_STATE), so a FAILED file is deleted and the image
        uploaded and created afresh, at most ``media_retries`` times."""
        while True:
            file_id = self._ensure_file(run)
            if run.progress.attached:
                return  # only a READY file can be attached
            node = self._wait_processed(file_id, run.progress.file_name)
            if node is not None and node.get("fileStatus") == "READY":
                return
            self._discard_failed(run, file_id, node)

    def _ensure_file(self, run: _Run) -> str:
        progress = run.progress
        if progress.file_id:
            return progress.file_id
        if progress.file_pending and (found := self._find_file(progress.file_name, progress)):
            run.save(progress.created(found))
            return found
        upload = progress.upload
        if upload is None or (upload.sha256 is not None and upload.sha256 != run.request.image_sha256):
            upload = self._stage(run.request, run.request.filename)
        run.save(run.progress.creating(upload))
        spec = {"originalSource": upload.resource_url, "contentType": "IMAGE", "alt": self._alt(run),
                "filename": upload.filename, "duplicateResolutionMode": "RAISE_ERROR"}
        sent = self.mutate(Q.FILE_CREATE, {"files": [spec]}, "fileCreate",
                           landed=lambda: self._find_file(upload.filename, run.progress))
        file_id = sent.found
        if sent.payload is not None:
            errors = sent.payload["userErrors"]
            if errors and {e.get("code") for e in errors} & DUPLICATE_CODES:
                file_id = self._find_file(upload.filename, run.progress)
                if not file_id:
                    raise TransientError(f"{upload.filename} exists on Shopify but is not findable yet")
            elif errors:
                raise _refused(errors, f"fileCreate {upload.filename}")
            else:
                file_id = sent.payload["files"][0]["id"]
        run.save(run.progress.created(file_id))
        return file_id

    def _stage(self, request: PublishRequest, filename: str) -> Upload:
        """Upload the image's bytes to a staged target."""
        ext = filename.rsplit(".", 1)[-1]
        mime = MIME.get(ext) or mimetypes.guess_type(filename)[0]
        if not mime or not mime.startswith("image/"):
            raise PermanentError(f"{filename}: Shopify takes JPG, PNG, GIF or WebP images")
        try:
            body = request.image_path.read_bytes()
        except OSError as exc:
            raise TransientError(f"cannot read {request.image_path.name}: {type(exc).__name__}") from None
        sha256 = hashlib.sha256(body).hexdigest()
        if sha256 != request.image_sha256:
            raise TransientError(f"{request.image_path.name} changed while it was being published")
        spec = {"resource": "IMAGE", "filename": filename, "mimeType": mime, "httpMethod": "POST",
                "fileSize": str(len(body))}
        payload = self.mutate(Q.STAGED_UPLOADS_CREATE, {"input": [spec]}, "stagedUploadsCreate").payload
        if payload["userErrors"]:
            raise _refused(payload["userErrors"], "stagedUploadsCreate")
        target = payload["stagedTargets"][0]
        self.client.upload(target["url"], target["parameters"], filename, body, mime)
        return Upload(resource_url=target["resourceUrl"], filename=filename, sha256=sha256, size=len(body))

    def _wait_processed(self, file_id: str, filename: str | None) -> dict | None:
        """The file's status node once READY or FAILED; None when it is gone."""
        deadline = self._clock() + self.config.poll_timeout
        while True:
            node = self._file_node(file_id)
            if node is None or node.get("fileStatus") in ("READY", "FAILED"):
                return node
            if self._clock() > deadline:
                raise TransientError(f"{filename or file_id} still {node.get('fileStatus')} "
                                     f"after {self.config.poll_timeout:g} s")
            self._sleep(self.config.poll_interval)

    def _discard_failed(self, run: _Run, file_id: str, node: dict | None) -> None:
        """Spend one retry on a FAILED file: delete it and forget it, so the
        next pass stages and creates the image again.

        ``failed_files`` lists the deleted files' ids: it is the retry counter
        and its own crash marker in one save, so a restart at any point here
        neither loses the retry nor spends it twice (a file already listed is
        not counted again; one listed and gone was deleted by us)."""
        progress, name = run.progress, run.progress.file_name or file_id
        if node is None and file_id not in progress.failed_files:
            raise PermanentError(f"{name} ({file_id}) no longer exists on Shopify")
        if node is not None:
            message = _problems(node)
            if file_id not in progress.failed_files and len(progress.failed_files) >= self.config.media_retries:
                run.save(progress.advance(media_error=message))
                raise MediaFailed(f"Shopify could not process {name}: {message}")
            if file_id not in progress.failed_files:
                log.warning("shopify.media_failed", job=run.request.job_id, filename=name, error=message,
                            retry=len(progress.failed_files) + 1, file_id=file_id)
            run.save(progress.file_failed(file_id, message))
            payload = self.mutate(Q.FILE_DELETE, {"ids": [file_id]}, "fileDelete").payload
            _check(payload, "fileDelete", done={"FILE_DOES_NOT_EXIST"})
        run.save(run.progress.file_discarded())

    # ------------------------------------------------------------------ the product

    def _ensure_attached(self, run: _Run) -> None:
        progress = run.progress
        if progress.attached:
            return
        product_id, file_id = progress.product_id, progress.file_id
        if not progress.attach_pending:
            run.save(progress.advance(attach_pending=True))
        sent = self.mutate(Q.FILE_UPDATE, {"files": [{"id": file_id, "referencesToAdd": [product_id]}]},
                           "fileUpdate", pending=progress.attach_pending,
                           landed=lambda: file_id in self._media_ids(product_id))
        _check(sent.payload, f"attaching {file_id} to {product_id}")
        run.save(run.progress.advance(attached=True, attach_pending=False))

    def _ensure_detached(self, run: _Run) -> None:
        """Take older images off per the replace policy (``media.to_detach``)."""
        progress, request = run.progress, run.request
        if progress.detached is not None:
            return
        product_id = progress.product_id
        product = self._product(product_id, slug(request.product_key))
        mine = next((m for m in product.media if m.id == progress.file_id and m.ours), None) or Media(
            progress.file_id, progress.file_name, view_label(request.view, request.index), request.index,
            sequence=request.sequence or 0)
        old = to_detach(product.media, mine, request.params.replace)
        if old:
            sent = self.mutate(Q.FILE_UPDATE, {"files": [{"id": m, "referencesToRemove": [product_id]} for m in old]},
                               "fileUpdate", landed=lambda: not set(old) & self._media_ids(product_id))
            _check(sent.payload, f"detaching from {product_id}")
            log.info("shopify.detached", job=request.job_id, product_id=product_id, detached=old,
                     superseded=mine.id in old)
        run.save(run.progress.advance(detached=tuple(old)))

    def _ensure_variant(self, run: _Run) -> None:
        """Give the matched variant this image. A variant holds one media item:
        one that already has another keeps it (logged, not an error)."""
        progress = run.progress
        if progress.variant_media:
            return
        variant_id, file_id = progress.variant_id, progress.file_id
        if not variant_id or progress.superseded:
            log.info("shopify.no_variant", product_id=progress.product_id,
                     reason="superseded by a later image" if variant_id else "no single variant matched")
            run.save(progress.advance(variant_media="skipped"))
            return
        if not progress.variant_pending:
            run.save(progress.advance(variant_pending=True))
        variables = {"productId": progress.product_id,
                     "variantMedia": [{"variantId": variant_id, "mediaIds": [file_id]}]}
        sent = self.mutate(Q.VARIANT_APPEND_MEDIA, variables, "productVariantAppendMedia",
                           pending=progress.variant_pending, landed=lambda: file_id in self._variant_media(variant_id))
        errors = (sent.payload or {}).get("userErrors") or []
        if any(e.get("code") == "PRODUCT_VARIANT_ALREADY_HAS_MEDIA" for e in errors):
            held = self._variant_media(variant_id)
            if file_id not in held:
                log.warning("shopify.variant_has_media", job=run.request.job_id, variant_id=variant_id,
                            media_id=file_id, held=sorted(held))
                run.save(run.progress.advance(variant_media="skipped", variant_pending=False))
                return
        elif errors:
            raise _refused(errors, f"variant media for {variant_id}")
        run.save(run.progress.advance(variant_media="assigned", variant_pending=False))

    def _ensure_order(self, run: _Run) -> None:
        progress = run.progress
        if progress.reordered:
            return
        product_id, product_slug = progress.product_id, slug(run.request.product_key)
        moves = plan_moves(self._product(product_id, product_slug).media)
        if moves:
            sent = self.mutate(Q.PRODUCT_REORDER_MEDIA, {"id": product_id, "moves": moves}, "productReorderMedia",
                               landed=lambda: not plan_moves(self._product(product_id, product_slug).media))
            if sent.payload is not None:
                if sent.payload["mediaUserErrors"]:
                    raise _refused(sent.payload["mediaUserErrors"], f"reordering {product_id}")
                if sent.payload.get("job") and not sent.payload["job"]["done"]:
                    self._wait_job(sent.payload["job"]["id"])
        run.save(run.progress.advance(reordered=True))

    # ------------------------------------------------------------------ new bytes in place

    def _ensure_current_bytes(self, run: _Run) -> bool | None:
        """The published file holds the job's current bytes: True when they had to
        be put in (``fileUpdate originalSource``), False when they were there;
        None when the new bytes FAILED processing and the file was deleted."""
        settled = False
        if run.progress.replacement is not None and run.progress.replacement.pending:
            settled = self._settle_replacement(run)
            if settled is None:
                return None
        progress, sha256 = run.progress, run.request.image_sha256
        if progress.superseded:
            return False
        if progress.holds(sha256):
            if progress.published_sha256 != sha256:  # a record from before sha256s were kept
                run.save(progress.advance(published_sha256=sha256))
            return settled
        replacement = progress.replacement
        if replacement is None or replacement.sha256 != sha256:
            upload = self._stage(run.request, run.request.filename)
            replacement = Replacement(resource_url=upload.resource_url, sha256=sha256, size=upload.size)
            run.save(run.progress.replacing(replacement))
        before = self._live_node(progress.file_id)
        replacement = replacement.model_copy(update={
            "pending": True, "size_before": (before.get("originalSource") or {}).get("fileSize"),
            "updated_before": before.get("updatedAt")})
        run.save(run.progress.replacing(replacement))
        self._send_replacement(run, replacement, pending=False)
        return self._finish_replacement(run, replacement)

    def _send_replacement(self, run: _Run, replacement: Replacement, pending: bool) -> None:
        file_id = run.progress.file_id
        sent = self.mutate(Q.FILE_UPDATE, {"files": [{"id": file_id, "originalSource": replacement.resource_url}]},
                           "fileUpdate", pending=pending, landed=lambda: self._replacement_landed(file_id, replacement))
        _check(sent.payload, f"new bytes for {file_id}")

    def _settle_replacement(self, run: _Run) -> bool | None:
        """An earlier run may have sent the pending replacement: finish it if it
        took (True); if not (False), keep its staged bytes for the next send when
        they are still the job's. None when its bytes FAILED (the file is gone)."""
        replacement = run.progress.replacement
        if self._replacement_landed(run.progress.file_id, replacement):
            return self._finish_replacement(run, replacement)
        keep = replacement.sha256 == run.request.image_sha256
        run.save(run.progress.advance(replacement=replacement.model_copy(update={"pending": False}) if keep else None))
        return False

    def _finish_replacement(self, run: _Run, replacement: Replacement) -> bool | None:
        file_id = run.progress.file_id
        node = self._wait_processed(file_id, run.progress.file_name)
        if node is not None and node.get("fileStatus") == "READY":
            run.save(run.progress.replaced())
            log.info("shopify.replaced_in_place", job=run.request.job_id, media_id=file_id,
                     sha256=replacement.sha256[:12])
            return True
        self._discard_failed(run, file_id, node)
        return None

    def _replacement_landed(self, file_id: str, replacement: Replacement) -> bool:
        """Whether the file took the new bytes: it is being processed again (only
        new bytes do that to a READY file), or it changed since they were sent
        (``updatedAt``; nothing else of ours touches it meanwhile: the product
        is locked), or it has the new bytes' size where the old ones had another.
        When none can tell (an update and its processing within the same
        second, same sizes) it is sent again: that only puts the same bytes in
        once more."""
        node = self._live_node(file_id)
        if node.get("fileStatus") != "READY":
            return True
        if replacement.updated_before is not None and node.get("updatedAt") != replacement.updated_before:
            return True
        size = (node.get("originalSource") or {}).get("fileSize")
        return size == replacement.size and replacement.size != replacement.size_before

    # ------------------------------------------------------------------ look-ups

    def _file_node(self, file_id: str) -> dict | None:
        return self.client.execute(Q.FILE_STATUS, {"ids": [file_id]})["nodes"][0]

    def _live_node(self, file_id: str) -> dict:
        """The published file's node; it must still exist."""
        node = self._file_node(file_id)
        if node is None:
            raise PermanentError(f"the published file {file_id} no longer exists on Shopify")
        return node

    def _find_file(self, filename: str | None, progress: Progress) -> str | None:
        """The file already created under this exact name (the search is fuzzy:
        match here), never one we deleted as FAILED (search may lag a delete)."""
        if not filename:
            return None
        nodes = self.client.execute(Q.FILES_BY_FILENAME, {"query": Q.search_term("filename", filename)})
        return next((n["id"] for n in nodes["files"]["nodes"]
                     if basename(n) == filename and n["id"] not in progress.failed_files), None)

    def _product(self, product_id: str, product_slug: str = "") -> Product:
        node, media = self.client.paged(Q.PRODUCT_MEDIA, {"id": product_id}, "product", "media")
        if node is None:
            raise PermanentError(f"product {product_id} does not exist on Shopify")
        return Product(node["id"], node["title"], [parse_media(n, product_slug) for n in media])

    def _media_ids(self, product_id: str) -> set[str]:
        return {m.id for m in self._product(product_id).media}

    def _variant_media(self, variant_id: str) -> set[str]:
        node = self.client.execute(Q.VARIANT_MEDIA, {"id": variant_id})["productVariant"]
        if node is None:
            raise PermanentError(f"variant {variant_id} does not exist on Shopify")
        return {m["id"] for m in node["media"]["nodes"]}

    def _wait_job(self, job_id: str) -> None:
        """Until Shopify's reorder job is done; one that never says so is tried again later."""
        deadline = self._clock() + self.config.poll_timeout
        while True:
            job = self.client.execute(Q.JOB, {"id": job_id})["job"]
            if job is None or job["done"]:
                return
            if self._clock() >= deadline:
                raise TransientError(f"reorder job {job_id} not done after {self.config.poll_timeout:g} s")
            self._sleep(self.config.poll_interval)

    def _alt(self, run: _Run) -> str:
        request, progress = run.request, run.progress
        title = request.fields.get("title") or progress.product_title
        if not title:
            title = self._product(progress.product_id).title
        values = {"product_key": request.product_key, "category": request.category, "view": request.view or "",
                  "index": "" if request.index is None else request.index + 1, **request.fields, "title": title}
        return alt_text(request.params.alt, values)

    def _product_lock(self, product_id: str) -> threading.Lock:
        """Images of one product are attached and ordered one at a time, so each
        reorder sees every image attached before it."""
        with self._locks_guard:
            return self._locks[product_id]


def _check(payload: dict | None, what: str, done: set[str] = frozenset()) -> None:
    """Raise for a mutation's user errors, except codes in ``done`` (an earlier send took)."""
    errors = (payload or {}).get("userErrors") or []
    if errors and not {e.get("code") for e in errors} <= done:
        raise _refused(errors, what)


def _problems(node: dict) -> str:
    """Shopify's reasons a file FAILED (fileErrors and mediaErrors often say the same)."""
    problems = [*(node.get("fileErrors") or []), *(node.get("mediaErrors") or [])]
    return remote_text("; ".join(dict.fromkeys(
        f"{p.get('code')}: {p.get('message')}" + (f" ({p['details']})" if p.get("details") else "")
        for p in problems)) or "processing failed", 500)


def _refused(errors: list[dict], what: str) -> PublishError:
    """The error for a mutation's user errors: transient when every one says
    Shopify is busy with the object (``BUSY_CODES``), permanent otherwise."""
    codes = {e.get("code") for e in errors}
    named = remote_text(", ".join(sorted(str(c) for c in codes if c)), 200)
    message = f"{what}: {_messages(errors)}" + (f" [{named}]" if named else "")
    if codes <= BUSY_CODES:
        return TransientError(f"{message} (Shopify is busy with it; trying again later)")
    return GraphQLError(message)


def _messages(errors: list[dict]) -> str:
    return remote_text("; ".join(f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
                                 for e in errors), 500)
