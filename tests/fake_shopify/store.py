"""The shop's state and the root resolvers of the fake Admin API.

Resolvers return plain dicts; graphql-core's default resolver walks them, and a
callable value is called with the field's arguments, so connections reflect
the state at the moment they are read. Every interface value carries its
``__typename``.

As strict as Shopify where that has let bugs through: connections return at
most ``first`` items (``after`` pages on, ``reverse`` flips, ``files`` sorts by
``sortKey``, oldest first by default); a FAILED file cannot be updated, only
deleted; a variant holds one media item; new bytes (``fileUpdate
originalSource``) go into a READY file only, which keeps its id and its place
on every product and is processed again (UPLOADED, PROCESSING, READY)."""

from __future__ import annotations

import base64
import itertools
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from graphql import GraphQLError

SCOPE_OF = {
    "productVariants": "read_products", "products": "read_products", "product": "read_products",
    "files": "read_files", "nodes": "read_files",
    "productVariant": "read_products",
    "stagedUploadsCreate": "write_files", "fileCreate": "write_files", "fileUpdate": "write_files",
    "fileDelete": "write_files",
    "productReorderMedia": "write_products", "productVariantAppendMedia": "write_products",
}
# What Shopify says with each user error code the tests ask for (``Store.refuse``).
MESSAGES = {
    "FILE_LOCKED": "File has a pending operation.",
    "MEDIA_CANNOT_BE_MODIFIED": "Media cannot be modified. It is currently being modified by another operation.",
    "NON_READY_MEDIA": "Non-ready media are not supported.",
    "NON_READY_STATE": "The file is not in the READY state.",
    "INVALID": "The input value is invalid.",
}
# The File/Media type Shopify gives each media content type.
TYPENAMES = {"IMAGE": "MediaImage", "VIDEO": "Video", "EXTERNAL_VIDEO": "ExternalVideo", "MODEL_3D": "Model3d"}
ALL_SCOPES = {"read_products", "write_products", "read_files", "write_files"}


@dataclass
class Variant:
    id: str
    sku: str | None
    barcode: str | None
    title: str = "Default Title"
    media: list[str] = field(default_factory=list)


@dataclass
class Product:
    id: str
    title: str
    variants: list[Variant]
    media: list[str] = field(default_factory=list)  # MediaImage ids, in display order


@dataclass
class File:
    id: str
    filename: str
    alt: str | None
    source: str
    status: str = "UPLOADED"
    polls: int = 0
    fail: bool = False          # the next processing ends FAILED
    errors: list[dict] = field(default_factory=list)
    content: bytes = b""
    created_by: int = 0         # how many fileCreate calls made it (always 1)
    kind: str = "IMAGE"         # MediaContentType
    updated: int = 0            # the store's change count at its last change: its updatedAt


@dataclass
class Staged:
    token: str
    filename: str
    mime: str
    parameters: list[dict]
    body: bytes | None = None


class Store:
    """What the shop holds. ``lock`` serialises every request's execution."""

    def __init__(self, base_url: str, scopes: set[str] | None = None) -> None:
        self.base_url = base_url
        self.scopes = set(ALL_SCOPES if scopes is None else scopes)
        self.product_by_id: dict[str, Product] = {}
        self.file_by_id: dict[str, File] = {}
        self.staged: dict[str, Staged] = {}
        self.lock = threading.RLock()
        self.fail_media: set[str] = set()       # filenames whose every processing fails
        self.fail_first_rate = 0.0              # share of new filenames whose first file's processing fails
        self.names_created: set[str] = set()
        self.rng = None
        self._ids = itertools.count(1001)
        self.reorder_calls = 0
        self.deleted: list[File] = []           # files removed by fileDelete, in order
        self.source_updates: list[str] = []     # ids of files given new bytes by fileUpdate, in order
        self.refusals: list[tuple[str, str]] = []  # (mutation, user error code) for the next such calls
        self.stuck_jobs = False                 # reorder jobs never report done
        self._changes = itertools.count(1)

    # ------------------------------------------------------------------ seeding

    def add_product(self, title: str, skus: list[str] | None = None, barcodes: list[str] | None = None) -> Product:
        skus = skus or [None]
        barcodes = barcodes or [None] * len(skus)
        product = Product(f"gid://shopify/Product/{next(self._ids)}", title,
                          [Variant(f"gid://shopify/ProductVariant/{next(self._ids)}", s, b) for s, b in zip(skus, barcodes)])
        self.product_by_id[product.id] = product
        return product

    def add_foreign_image(self, product: Product, filename: str, kind: str = "IMAGE") -> File:
        """Media someone uploaded by hand (an image, or a VIDEO, MODEL_3D...), already READY and attached."""
        file = File(self._gid(TYPENAMES[kind]), filename, None, "", status="READY", kind=kind)
        self.file_by_id[file.id] = file
        product.media.append(file.id)
        return file

    def add_file(self, filename: str) -> File:
        """A READY image in the shop's Files, on no product (an older upload)."""
        file = File(self._gid("MediaImage"), filename, None, "", status="READY")
        self.file_by_id[file.id] = file
        return file

    def refuse(self, mutation: str, code: str, times: int = 1) -> None:
        """The next ``times`` calls of ``mutation`` answer this user error and change nothing."""
        self.refusals.extend([(mutation, code)] * times)

    def media_filenames(self, product: Product) -> list[str]:
        return [self.file_by_id[m].filename for m in product.media]

    # ------------------------------------------------------------------ helpers

    def _gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self._ids)}"

    def _need(self, info) -> None:
        name = info.field_name
        scope = SCOPE_OF.get(name)
        if scope and scope not in self.scopes:
            raise GraphQLError(f"Access denied for {name} field. Required access: `{scope}` access scope.",
                               extensions={"code": "ACCESS_DENIED"})

    def cdn_url(self, file: File) -> str:
        return f"{self.base_url}/cdn/files/{file.filename}?v=1"

    def _refusal(self, info) -> list[dict]:
        """The user error ``refuse`` queued for this mutation, if any."""
        for i, (mutation, code) in enumerate(self.refusals):
            if mutation == info.field_name:
                del self.refusals[i]
                return [_user_error(code, MESSAGES.get(code, code))]
        return []

    def media_node(self, file: File) -> dict:
        ready = file.status == "READY"
        return {
            "__typename": TYPENAMES[file.kind], "id": file.id, "alt": file.alt, "fileStatus": file.status,
            "status": file.status, "mediaContentType": file.kind,
            "fileErrors": file.errors, "mediaErrors": file.errors, "mediaWarnings": [],
            "image": {"url": self.cdn_url(file), "altText": file.alt} if ready else None,
            "originalSource": {"url": self.cdn_url(file), "fileSize": len(file.content)},
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": _timestamp(file.updated),
        }

    def product_node(self, product: Product) -> dict:
        return {
            "__typename": "Product", "id": product.id, "title": product.title,
            "handle": re.sub(r"[^a-z0-9]+", "-", product.title.lower()),
            "media": lambda info, **a: _connection([self.media_node(self.file_by_id[m]) for m in product.media], **a),
            "variants": lambda info, **a: _connection([self.variant_node(v, product) for v in product.variants], **a),
        }

    def variant_node(self, variant: Variant, product: Product) -> dict:
        return {
            "__typename": "ProductVariant", "id": variant.id, "sku": variant.sku, "barcode": variant.barcode,
            "title": variant.title, "product": lambda info, **a: self.product_node(product),
            "media": lambda info, **a: _connection([self.media_node(self.file_by_id[m]) for m in variant.media], **a),
        }

    def _touch(self, file: File) -> None:
        """The file changed: each change is stamped a second after the one before."""
        file.updated = next(self._changes)

    def _advance(self, file: File) -> None:
        """Processing: UPLOADED -> PROCESSING on the first look, READY or FAILED on the next."""
        if file.status in ("READY", "FAILED"):
            return
        file.polls += 1
        self._touch(file)
        if file.polls == 1:
            file.status = "PROCESSING"
        elif file.fail or file.filename in self.fail_media:
            file.status = "FAILED"
            file.fail = False
            file.errors = [{"code": "IMAGE_PROCESSING_FAILURE", "message": "Image could not be processed",
                            "details": "corrupt or unsupported image data"}]
        else:
            file.status = "READY"

    def _staged_for(self, source: str) -> Staged | None:
        token = source.rstrip("/").split("/")[-2] if source.startswith(self.base_url + "/staged/") else None
        return self.staged.get(token) if token else None

    # ------------------------------------------------------------------ queries

    def shop(self, info, **_):
        return {"name": "Booth Test Store", "myshopifyDomain": "booth-test.myshopify.com"}

    def currentAppInstallation(self, info, **_):
        return {"accessScopes": [{"handle": s, "description": s} for s in sorted(self.scopes)]}

    def productVariants(self, info, query=None, **args):
        self._need(info)
        terms = _terms(query or "")
        found = []
        for product in self.product_by_id.values():
            for variant in product.variants:
                # tokenised and fuzzy, like Shopify's search: prefix matches count
                if all((getattr(variant, k, None) or "").lower().startswith(v.lower()) for k, v in terms.items()):
                    found.append(self.variant_node(variant, product))
        return _connection(found, **args)

    def products(self, info, query=None, **args):
        self._need(info)
        title = _terms(query or "").get("title", "").lower()
        words = title.split()
        found = [self.product_node(p) for p in self.product_by_id.values()
                 if all(w in p.title.lower() for w in words)]
        return _connection(found, **args)

    def product(self, info, id, **_):
        self._need(info)
        product = self.product_by_id.get(id)
        return self.product_node(product) if product else None

    def productVariant(self, info, id, **_):
        self._need(info)
        for product in self.product_by_id.values():
            for variant in product.variants:
                if variant.id == id:
                    return self.variant_node(variant, product)
        return None

    def files(self, info, query=None, sortKey="ID", **args):
        """Oldest first unless told otherwise, like Shopify; fuzzy on the filename."""
        self._need(info)
        name = _terms(query or "").get("filename", "")
        stem = name.rsplit(".", 1)[0][: max(1, len(name) - 14)]  # fuzzy: similar names match too
        matched = [f for f in self.file_by_id.values() if f.filename.startswith(stem)]
        key = (lambda f: f.filename) if sortKey == "FILENAME" else (lambda f: int(f.id.rsplit("/", 1)[-1]))
        return _connection([self.media_node(f) for f in sorted(matched, key=key)], **args)

    def nodes(self, info, ids, **_):
        self._need(info)
        out = []
        for gid in ids:
            if gid in self.file_by_id:
                self._advance(self.file_by_id[gid])
                out.append(self.media_node(self.file_by_id[gid]))
            elif gid in self.product_by_id:
                out.append(self.product_node(self.product_by_id[gid]))
            else:
                out.append(None)
        return out

    def job(self, info, id, **_):
        return {"id": id, "done": not self.stuck_jobs}

    # ------------------------------------------------------------------ mutations

    def stagedUploadsCreate(self, info, input, **_):
        self._need(info)
        targets = []
        for spec in input:
            if spec["resource"] == "PRODUCT_IMAGE":  # enum values in variables escape NoDeprecatedCustomRule
                raise GraphQLError("resource PRODUCT_IMAGE is deprecated: use IMAGE")
            token = uuid.uuid4().hex[:12]
            params = [{"name": "Content-Type", "value": spec["mimeType"]},
                      {"name": "success_action_status", "value": "201"},
                      {"name": "acl", "value": "private"},
                      {"name": "key", "value": f"tmp/{token}/{spec['filename']}"},
                      {"name": "policy", "value": "eyJjb25kaXRpb25zIjpbXX0="},
                      {"name": "x-goog-signature", "value": "ab12cd34"}]
            self.staged[token] = Staged(token, spec["filename"], spec["mimeType"], params)
            targets.append({"url": f"{self.base_url}/staged/{token}",
                            "resourceUrl": f"{self.base_url}/staged/{token}/{spec['filename']}",
                            "parameters": params})
        return {"stagedTargets": targets, "userErrors": []}

    def fileCreate(self, info, files, **_):
        self._need(info)
        if refused := self._refusal(info):
            return {"files": None, "userErrors": refused}
        created, errors = [], []
        for spec in files:
            staged = self._staged_for(spec["originalSource"])
            name = spec.get("filename") or spec["originalSource"].rsplit("/", 1)[-1]
            if name.rsplit(".", 1)[-1] != spec["originalSource"].rsplit(".", 1)[-1]:
                errors.append(_user_error("MISMATCHED_FILENAME_AND_ORIGINAL_SOURCE", "filename extension differs"))
                continue
            taken = any(f.filename == name for f in self.file_by_id.values())
            mode = spec.get("duplicateResolutionMode") or "APPEND_UUID"
            if taken and mode == "RAISE_ERROR":
                errors.append(_user_error("FILENAME_ALREADY_EXISTS", f"Filename {name} already exists"))
                continue
            if taken and mode == "APPEND_UUID":
                stem, ext = name.rsplit(".", 1)
                name = f"{stem}_{uuid.uuid4()}.{ext}"
            file = File(self._gid("MediaImage"), name, spec.get("alt"), spec["originalSource"], created_by=1)
            if staged is None or staged.body is None:
                file.status = "FAILED"
                file.errors = [{"code": "IMAGE_DOWNLOAD_FAILURE", "message": "File could not be downloaded",
                                "details": None}]
            else:
                file.content = staged.body
                # the first file of a name may fail; one created again after that processes
                first = name not in self.names_created
                file.fail = bool(first and self.rng and self.rng.random() < self.fail_first_rate)
            self.names_created.add(name)
            self.file_by_id[file.id] = file
            created.append(self.media_node(file))
        return {"files": created, "userErrors": errors}

    def fileUpdate(self, info, files, **_):
        self._need(info)
        if refused := self._refusal(info):
            return {"files": None, "userErrors": refused}
        updated, errors = [], []
        for spec in files:
            file = self.file_by_id.get(spec["id"])
            if file is None:
                errors.append(_user_error("FILE_DOES_NOT_EXIST", f"File id {spec['id']} does not exist."))
                continue
            if file.status == "FAILED":  # neither new bytes nor references: only fileDelete helps
                errors.append(_user_error("INVALID_FAILED_MEDIA_STATE", "File cannot be updated in a failed state."))
                continue
            if spec.get("originalSource"):
                if file.status != "READY":  # its earlier bytes are still being processed
                    errors.append(_user_error("NON_READY_STATE", "Non-ready files cannot be updated."))
                    continue
                staged = self._staged_for(spec["originalSource"])
                file.status, file.polls, file.errors = "UPLOADED", 0, []
                if staged is None or staged.body is None:
                    file.fail = True  # nothing to download: processing ends FAILED
                else:
                    file.content = staged.body
                self.source_updates.append(file.id)
            if spec.get("referencesToAdd") or spec.get("referencesToRemove"):
                if file.status != "READY":
                    errors.append(_user_error("NON_READY_STATE", "Non-ready files cannot be updated."))
                    continue
            for pid in spec.get("referencesToAdd") or []:
                product = self.product_by_id.get(pid)
                if product is None:
                    errors.append(_user_error("REFERENCE_TARGET_DOES_NOT_EXIST", f"{pid} does not exist"))
                elif file.id not in product.media:   # a reference is a set member: adding twice is a no-op
                    product.media.append(file.id)
            for pid in spec.get("referencesToRemove") or []:
                product = self.product_by_id.get(pid)
                if product and file.id in product.media:
                    product.media.remove(file.id)
                    for variant in product.variants:
                        if file.id in variant.media:
                            variant.media.remove(file.id)
            if "alt" in spec and spec["alt"] is not None:
                file.alt = spec["alt"]
            self._touch(file)
            updated.append(self.media_node(file))
        return {"files": updated, "userErrors": errors}

    def fileDelete(self, info, fileIds, **_):
        """Deletes the files and every reference to them; an unknown id deletes nothing."""
        self._need(info)
        if refused := self._refusal(info):
            return {"deletedFileIds": None, "userErrors": refused}
        missing = [gid for gid in fileIds if gid not in self.file_by_id]
        if missing:
            return {"deletedFileIds": None, "userErrors": [
                _user_error("FILE_DOES_NOT_EXIST", f"File id {gid} does not exist.") for gid in missing]}
        for gid in fileIds:
            for product in self.product_by_id.values():
                if gid in product.media:
                    product.media.remove(gid)
                for variant in product.variants:
                    if gid in variant.media:
                        variant.media.remove(gid)
            self.deleted.append(self.file_by_id.pop(gid))
        return {"deletedFileIds": list(fileIds), "userErrors": []}

    def productVariantAppendMedia(self, info, productId, variantMedia, **_):
        self._need(info)
        if refused := self._refusal(info):
            return {"product": None, "productVariants": None, "userErrors": refused}
        product = self.product_by_id.get(productId)
        if product is None:
            return {"product": None, "productVariants": [], "userErrors": [
                _user_error("PRODUCT_DOES_NOT_EXIST", "Product does not exist")]}
        variants = {v.id: v for v in product.variants}
        touched = []
        for pair in variantMedia:
            variant = variants.get(pair["variantId"])
            if variant is None:
                return {"product": None, "productVariants": [], "userErrors": [
                    _user_error("PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT", "Variant is not on the product")]}
            if len(pair["mediaIds"]) > 1:
                return {"product": None, "productVariants": [], "userErrors": [
                    _user_error("TOO_MANY_MEDIA_PER_INPUT_PAIR",
                                "Only one mediaId is allowed per variant-media input pair.")]}
            for media_id in pair["mediaIds"]:
                if media_id not in product.media:
                    return {"product": None, "productVariants": [], "userErrors": [
                        _user_error("MEDIA_DOES_NOT_EXIST_ON_PRODUCT", "Media is not on the product")]}
                if variant.media:  # a variant holds one media item, whichever it is
                    return {"product": None, "productVariants": [], "userErrors": [
                        _user_error("PRODUCT_VARIANT_ALREADY_HAS_MEDIA",
                                    "Product variant already has attached media.")]}
                variant.media.append(media_id)
            touched.append(self.variant_node(variant, product))
        return {"product": self.product_node(product), "productVariants": touched, "userErrors": []}

    def productReorderMedia(self, info, id, moves, **_):
        self._need(info)
        self.reorder_calls += 1
        if refused := self._refusal(info):
            return {"job": None, "mediaUserErrors": refused, "userErrors": []}
        product = self.product_by_id.get(id)
        if product is None:
            return {"job": None, "mediaUserErrors": [_user_error("PRODUCT_DOES_NOT_EXIST", "Product does not exist")],
                    "userErrors": []}
        for move in moves:
            if move["id"] not in product.media:
                return {"job": None, "mediaUserErrors": [
                    _user_error("MEDIA_DOES_NOT_EXIST_ON_PRODUCT", f"{move['id']} is not on the product")],
                    "userErrors": []}
            product.media.remove(move["id"])
            product.media.insert(int(move["newPosition"]), move["id"])
        # Shopify reorders in a background job; this one has finished by the time anyone asks
        return {"job": {"id": self._gid("Job"), "done": False}, "mediaUserErrors": [], "userErrors": []}


def _cursor(node: dict) -> str:
    return base64.b64encode(f"cursor:{node['id']}".encode()).decode()


def _connection(nodes: list[dict], first: int | None = None, after: str | None = None,
                last: int | None = None, before: str | None = None, reverse: bool = False, **_) -> dict:
    """A page of ``nodes`` the way Shopify serves one: never more than ``first``
    (required, at most 250), ``after`` a cursor from an earlier page."""
    if first is None:
        raise GraphQLError("you must provide one of first or last" if last is None
                           else "the fake serves forward pages only (first/after)")
    if not 0 <= first <= 250:
        raise GraphQLError("The value of first must be between 0 and 250.")
    nodes = nodes[::-1] if reverse else list(nodes)
    start = 0
    if after:
        cursors = [_cursor(n) for n in nodes]
        if after not in cursors:
            raise GraphQLError(f"Invalid cursor for current pagination sort: {after}")
        start = cursors.index(after) + 1
    page = nodes[start:start + first]
    return {"nodes": page, "edges": [{"node": n, "cursor": _cursor(n)} for n in page],
            "pageInfo": {"hasNextPage": start + first < len(nodes), "hasPreviousPage": start > 0,
                         "startCursor": _cursor(page[0]) if page else None,
                         "endCursor": _cursor(page[-1]) if page else None}}


def _timestamp(changes: int) -> str:
    """A DateTime as Shopify writes it (whole seconds), ``changes`` seconds into 2026."""
    return (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=changes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_error(code: str, message: str) -> dict:
    return {"field": ["files"], "message": message, "code": code}


_TERM = re.compile(r'(\w+):(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _terms(query: str) -> dict[str, str]:
    return {m.group(1): re.sub(r"\\(.)", r"\1", m.group(2)) if m.group(2) is not None else m.group(3)
            for m in _TERM.finditer(query)}
