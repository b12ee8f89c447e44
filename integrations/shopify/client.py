"""One small client for the Admin GraphQL API over httpx.

What the client does for every request:
- paces itself from ``extensions.cost.throttleStatus`` so the cost bucket is
  never emptied (a reserve is always left for other apps on the store);
- waits what the bucket needs on ``THROTTLED`` and what ``Retry-After`` says on
  429 (at most ``MAX_RETRY_AFTER``: a proxy's "come back tomorrow" must not
  park a worker for a day inside one request);
- retries 5xx, timeouts and connection errors with exponential jitter, bounded
  by attempts and by time -- except a *mutation* that may have reached Shopify
  (a read timeout, a dropped connection, a 5xx, a 200 carrying only
  ``INTERNAL_SERVER_ERROR``): that raises ``AmbiguousError`` so the publish
  flow looks for its result before sending it again;
- turns 401/403 and ``ACCESS_DENIED`` into ``AuthError`` naming the scope.

The token only ever travels in a request header. Text that comes back from a
server (a body, a GraphQL message, an httpx error) may echo the request, so it
goes through ``secrets.scrub`` before it becomes part of any exception.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import httpx
import structlog
from tenacity import (Retrying, retry_if_exception, stop_after_attempt, stop_after_delay,
                      wait_exponential_jitter)

from integrations.secrets import scrub

from .config import ShopifyConfig
from .errors import AmbiguousError, AuthError, GraphQLError, PermanentError, TransientError

log = structlog.get_logger("booth.shopify")

# Which scope an operation needs, for the message when Shopify only says "denied".
SCOPES = {
    "productVariants": "read_products", "products": "read_products", "product": "read_products",
    "productVariant": "read_products", "files": "read_files", "nodes": "read_files",
    "stagedUploadsCreate": "write_files", "fileCreate": "write_files", "fileUpdate": "write_files",
    "fileDelete": "write_files",
    "productReorderMedia": "write_products", "productVariantAppendMedia": "write_products",
}
_SCOPE_RE = re.compile(r"\b(?:read|write)_[a-z_]+\b")
_OPERATION_RE = re.compile(r"\b(?:query|mutation)\s+\w*[^{]*\{\s*(\w+)")
# Assumed for a document until Shopify has told us its cost: above the dearest
# document booth sends (tested), so concurrent first requests cannot overdraw.
DEFAULT_COST = 300.0
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is cut to this



def remote_text(text: object, limit: int = 300) -> str:
    """Text from a server, fit for an exception message: secrets redacted
    first (so a cut cannot leave part of one), then cut to ``limit``."""
    return scrub(text).strip()[:limit]


def request_timeout(config: ShopifyConfig) -> httpx.Timeout:
    """Every request's timeout: ``timeout`` for each phase, connecting at most ``connect_timeout``."""
    return httpx.Timeout(config.timeout, connect=min(config.connect_timeout, config.timeout))


def post_or_retry_later(http: httpx.Client, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """POST ``url``. A dropped connection, a 5xx or a 429 is a ``TransientError``
    naming ``what`` (try again later); any other answer is the caller's to read."""
    try:
        response = http.post(url, **kwargs)
    except httpx.TransportError as exc:
        raise TransientError(f"{what}: {_described(exc)}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"{what}: HTTP {response.status_code}")
    return response


class TokenSource(Protocol):
    def token(self) -> str: ...

    def refresh(self, rejected: str) -> bool:
        """``rejected`` got a 401: True when a request should be tried again
        (a new token is, or can be, had), False when that cannot help."""
        ...


class RetryLater(TransientError):
    """Shopify said when to come back (429 ``Retry-After``, ``THROTTLED``)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def admin_endpoint(config: ShopifyConfig) -> str:
    """The versioned GraphQL endpoint, ``https://<shop>.myshopify.com/admin/api/<version>/graphql.json``;
    ``admin_url`` replaces the shop's origin (and the version path, when it has one)."""
    if config.admin_url:
        base = config.admin_url.rstrip("/")
        path = base if "/admin/api/" in base else f"{base}/admin/api/{config.api_version}"
    elif config.shop:
        path = f"https://{config.shop}/admin/api/{config.api_version}"
    else:
        raise PermanentError("no Shopify store configured: set shopify.shop")
    return f"{path}/graphql.json"


def shop_origin(config: ShopifyConfig) -> str:
    """Where the OAuth endpoints live: the shop, or the ``admin_url`` origin."""
    if config.admin_url:
        url = httpx.URL(config.admin_url)
        return f"{url.scheme}://{url.netloc.decode()}"
    if not config.shop:
        raise PermanentError("no Shopify store configured: set shopify.shop")
    return f"https://{config.shop}"


def operation(document: str) -> str:
    """The first root field of a document ('fileCreate'), for logs and scope messages."""
    match = _OPERATION_RE.search(document)
    return match.group(1) if match else "?"


def retry_after_seconds(value: str | None, default: float = 1.0, cap: float = MAX_RETRY_AFTER) -> float:
    """``Retry-After`` as seconds or an HTTP date, between 0 and ``cap``;
    ``default`` when it is missing or unreadable."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return default
        if parsed.tzinfo is None:  # "-0000": UTC by RFC 5322
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        seconds = parsed.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return default
    return min(cap, max(0.0, seconds))


@dataclass
class CostBucket:
    """Our model of Shopify's leaky bucket, shared by every thread of the client.

    A request takes its expected cost out before it is sent and counts as in
    flight until its answer comes; an answer resets the model to what Shopify
    reports, less what is still in flight, so concurrent requests cannot
    together overspend."""

    reserve: float
    maximum: float | None = None
    available: float = 0.0
    restore_rate: float = 50.0
    stamp: float = 0.0
    in_flight: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, cost: float, now: float) -> float:
        """Take ``cost`` and return 0, or return how long to wait first."""
        with self.lock:
            if self.maximum is None and self.in_flight:
                return 0.05  # one request at a time until the first answer tells us the bucket
            if self.maximum is not None:
                self.available = min(self.maximum, self.available + (now - self.stamp) * self.restore_rate)
                self.stamp = now
                floor = self.maximum * self.reserve
                cost = min(cost, self.maximum - floor)
                if self.available - cost < floor:
                    return (cost + floor - self.available) / self.restore_rate
                self.available -= cost
            self.in_flight += cost
            return 0.0

    def settle(self, cost: float, status: dict | None, now: float) -> None:
        """The request that took ``cost`` is over; ``status`` is its throttleStatus, if any."""
        with self.lock:
            self.in_flight = max(0.0, self.in_flight - cost)
            if status:
                self.maximum = float(status["maximumAvailable"])
                self.available = float(status["currentlyAvailable"]) - self.in_flight
                self.restore_rate = float(status["restoreRate"]) or 1.0
                self.stamp = now

    def wait_for(self, cost: float) -> float:
        """Seconds until the bucket holds ``cost`` (for a THROTTLED answer)."""
        with self.lock:
            return max(0.0, (cost - self.available) / self.restore_rate) + 1.0 / self.restore_rate


class AdminClient:
    """Sends GraphQL documents to one shop's Admin API."""

    def __init__(self, config: ShopifyConfig, auth: TokenSource, *,
                 http: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 on_retry: Callable[[str], None] = lambda operation: None) -> None:
        self.config = config
        self._on_retry = on_retry
        self.endpoint = admin_endpoint(config)
        url = httpx.URL(self.endpoint)
        self._origin = f"{url.scheme}://{url.netloc.decode()}"
        self._auth = auth
        self._timeout = request_timeout(config)
        self._http = http or httpx.Client(timeout=self._timeout)
        self._sleep = sleep
        self._clock = clock
        self.bucket = CostBucket(reserve=config.throttle_reserve)
        self._costs: dict[str, float] = {}
        self.served_version: str | None = None

    def close(self) -> None:
        self._http.close()

    # ----------------------------------------------------------------- public

    def execute(self, document: str, variables: dict | None = None) -> dict:
        """The ``data`` of a successful response; raises a ``PublishError`` otherwise."""
        mutation = document.lstrip().startswith("mutation")
        return self._retrying(lambda: self._once(document, variables or {}, mutation), operation(document))

    def paged(self, document: str, variables: dict, root: str, connection: str | None = None,
              limit: int | None = None) -> tuple[dict | None, list[dict]]:
        """Every node of a connection, page by page (``$after``): ``data[root][connection]``,
        or ``data[root]`` itself when ``connection`` is None. Returns (the root
        object, the nodes); (None, []) when the root object does not exist.
        Stops once ``limit`` nodes are in hand."""
        nodes: list[dict] = []
        after = None
        while True:
            owner = self.execute(document, {**variables, "after": after})[root]
            if owner is None:
                return None, []
            page = owner[connection] if connection else owner
            nodes.extend(page["nodes"])
            if not page["pageInfo"]["hasNextPage"] or (limit is not None and len(nodes) >= limit):
                return owner, nodes
            after = page["pageInfo"]["endCursor"]

    def upload(self, url: str, parameters: list[dict], filename: str, body: bytes, mime: str) -> None:
        """Multipart POST to a staged upload target: every parameter as a form
        field, in order, and the file last. Re-sending is harmless, so every
        transient failure is retried. The access token is never sent there."""
        def once() -> None:
            fields = [(p["name"], (None, p["value"])) for p in parameters]
            fields.append(("file", (filename, body, mime)))
            response = post_or_retry_later(self._http, url, f"staged upload of {filename}",
                                           files=fields, timeout=self._timeout)
            if response.status_code >= 400:
                raise PermanentError(f"staged upload of {filename} refused: HTTP {response.status_code} "
                                     f"{remote_text(response.text, 200)}")
        self._retrying(once, "stagedUpload")

    # ----------------------------------------------------------------- internals

    def throttle(self) -> tuple[float | None, float | None]:
        """(points available now, bucket size) as last reported, for metrics."""
        return self.bucket.available, self.bucket.maximum

    def _retrying(self, fn: Callable[[], Any], op: str) -> Any:
        def before_sleep(state) -> None:
            exc = state.outcome.exception()
            log.info("shopify.retry", operation=op, attempt=state.attempt_number,
                     delay=round(state.next_action.sleep, 3), error=str(exc), error_type=type(exc).__name__)
            self._on_retry(op)

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.config.max_retries + 1) | stop_after_delay(self.config.max_retry_seconds),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)

    def _wait(self, state) -> float:
        exc = state.outcome.exception()
        if isinstance(exc, RetryLater):
            return exc.retry_after
        jitter = wait_exponential_jitter(multiplier=self.config.retry_initial, max=self.config.retry_max,
                                         jitter=self.config.retry_initial)
        return jitter(state)

    def _pace(self, document: str) -> float:
        cost = self._costs.get(document, DEFAULT_COST)
        while (delay := self.bucket.take(cost, self._clock())) > 0:
            self._sleep(delay)
        return cost

    def _once(self, document: str, variables: dict, mutation: bool) -> dict:
        op = operation(document)
        token = self._auth.token()  # before pacing: a grant must not hold a share of the bucket
        cost = self._pace(document)
        try:
            response = self._http.post(
                self.endpoint, json={"query": document, "variables": variables},
                headers={"X-Shopify-Access-Token": token}, timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self.bucket.settle(cost, None, self._clock())
            raise TransientError(f"{op}: cannot reach Shopify at {self._origin} ({_described(exc)})") from None
        except httpx.TransportError as exc:
            self.bucket.settle(cost, None, self._clock())
            # Sent, but no answer: a query can simply be asked again, a mutation cannot.
            kind = AmbiguousError if mutation else TransientError
            raise kind(f"{op}: no answer from Shopify ({_described(exc)})") from None
        except BaseException:
            self.bucket.settle(cost, None, self._clock())
            raise
        # Shopify serves an unsupported version as its oldest supported one and says so here
        self.served_version = response.headers.get("X-Shopify-API-Version") or self.served_version
        body = _json(response)
        info = ((body or {}).get("extensions") or {}).get("cost") or {}
        self.bucket.settle(cost, info.get("throttleStatus"), self._clock())
        if info.get("requestedQueryCost") is not None:
            self._costs[document] = float(info["requestedQueryCost"])
        return self._read(response, body, op, mutation, token)

    def _read(self, response: httpx.Response, body: dict | None, op: str, mutation: bool, token: str) -> dict:
        status = response.status_code
        if status == 401:
            if self._auth.refresh(token):
                raise TransientError(f"{op}: access token expired; fetched a new one")
            raise AuthError(f"{op}: Shopify rejected the access token (HTTP 401)")
        if status == 403:
            scope = _scope(response.text, op)
            raise AuthError(f"{op}: access denied (HTTP 403); the app needs the '{scope}' scope", scope)
        if status == 429:
            raise RetryLater(f"{op}: rate limited (HTTP 429)", retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            kind = AmbiguousError if mutation else TransientError
            raise kind(f"{op}: Shopify answered HTTP {status}")
        if status >= 400:
            raise PermanentError(f"{op}: HTTP {status}: {remote_text(response.text)}")
        if body is None:
            raise (AmbiguousError if mutation else TransientError)(f"{op}: unreadable response")
        if errors := body.get("errors"):
            self._raise_for(errors, op, body, mutation)
        return body.get("data") or {}

    def _raise_for(self, errors: list[dict], op: str, body: dict, mutation: bool) -> None:
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        messages = remote_text("; ".join(str(e.get("message", "")) for e in errors), 500)
        if "THROTTLED" in codes:
            requested = ((body.get("extensions") or {}).get("cost") or {}).get("requestedQueryCost") or DEFAULT_COST
            raise RetryLater(f"{op}: throttled", self.bucket.wait_for(float(requested)))
        if "ACCESS_DENIED" in codes:
            scope = _scope(messages, op)
            raise AuthError(f"{op}: access denied; the app needs the '{scope}' scope ({messages})", scope)
        if "INTERNAL_SERVER_ERROR" in codes:
            # Shopify may have applied a mutation before failing: as unclear as a timeout.
            kind = AmbiguousError if mutation else TransientError
            raise kind(f"{op}: Shopify internal error: {messages}")
        named = remote_text(", ".join(sorted(map(str, codes - {None}))), 200)
        raise GraphQLError(f"{op}: {messages}" + (f" [{named}]" if named else ""))


def _described(exc: BaseException) -> str:
    """'ConnectError: [Errno 111] Connection refused', secrets redacted."""
    text = remote_text(exc, 200)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _scope(text: str, op: str) -> str:
    found = _SCOPE_RE.search(text or "")
    return found.group(0) if found else SCOPES.get(op, "write_products")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientError) and not isinstance(exc, AmbiguousError)

