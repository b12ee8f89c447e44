"""A fake Shopify Admin API on 127.0.0.1 over real HTTP.

- ``POST /admin/api/<version>/graphql.json``: validates every document against
  the real 2026-01 schema (deprecated fields rejected), executes it against the
  ``Store``, and answers with ``extensions.cost.throttleStatus`` from a real
  leaky bucket; a request the bucket cannot pay for is THROTTLED and counted in
  ``over_limit``.
- ``POST /staged/<token>``: the staged upload target (multipart, parameters in
  order, the file last).
- ``POST /admin/oauth/access_token``: the client-credentials grant.

Every query is costed from the schema the way Shopify does it (``cost.py``);
one over 1,000 points is refused with ``MAX_COST_EXCEEDED`` before it runs,
as real Shopify refuses it.

Faults, at a rate or forced for the next matching request:
``throttled`` (200 + THROTTLED, not executed), ``429`` (+ Retry-After, not
executed), ``502`` (not executed), ``slow`` (executed, answered after
``slow_seconds``), ``drop`` (executed, connection closed without an answer),
``internal`` (executed, answered 200 with only an INTERNAL_SERVER_ERROR).
"""

from __future__ import annotations

import email.parser
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from graphql import execute

from .cost import MAX_QUERY_COST, CostError, actual_cost, requested_cost
from .schema import admin_schema, operation_of, parse_document, problems
from .store import Store

KINDS = ("throttled", "429", "502", "slow", "drop", "internal")


@dataclass
class Faults:
    rate: float = 0.0                   # share of GraphQL requests given one of ``kinds``
    kinds: tuple[str, ...] = KINDS
    upload_rate: float = 0.0            # share of staged uploads answered 502 or dropped
    retry_after: str = "1"
    slow_seconds: float = 0.5
    seed: int = 7
    forced: list[tuple[str | None, str]] = field(default_factory=list)  # (operation or None, kind)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass
class Stats:
    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    over_limit: int = 0                 # requests the bucket could not pay for
    over_cost: list[tuple[str, int]] = field(default_factory=list)  # queries refused as MAX_COST_EXCEEDED
    min_available: float = math.inf
    invalid: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    uploads: int = 0
    grants: int = 0
    tokens_seen: set[str] = field(default_factory=set)
    bodies: list[str] = field(default_factory=list)  # every response body sent


class Bucket:
    def __init__(self, maximum: float, restore_rate: float) -> None:
        self.maximum, self.restore_rate = maximum, restore_rate
        self.available, self.stamp = maximum, time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.stamp) * self.restore_rate)
        self.stamp = now

    def status(self) -> dict:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": int(self.available),
                "restoreRate": self.restore_rate}


class FakeShopify:
    """Start with ``with FakeShopify() as shop:``; ``shop.url`` is the admin_url."""

    def __init__(self, *, tokens: set[str] | None = None, scopes: set[str] | None = None,
                 bucket: tuple[float, float] = (1000.0, 50.0), faults: Faults | None = None,
                 client_id: str = "booth-app", client_secret: str = "shpss_fake_client_secret",
                 token_lifetime: int = 86399, api_version: str = "2026-01") -> None:
        self.tokens = set(tokens or {"shpat_fake_static_token_0123456789"})
        self.faults = faults or Faults()
        self.stats = Stats()
        self.bucket = Bucket(*bucket)
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = token_lifetime
        self.api_version = api_version
        self.schema = admin_schema()
        self._fault_lock = threading.Lock()
        self._grants = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.store = Store(self.url, scopes)
        self.store.rng = random.Random(self.faults.seed + 1)
        # a short poll interval: shutdown() waits for it, once per test
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> "FakeShopify":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def graphql_path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    def inject(self, kind: str, operation: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests for ``operation`` (any, if None) get ``kind``;
        ``ok`` lets them through untouched, to aim a fault queued after it."""
        assert kind in (*KINDS, "ok"), kind
        with self._fault_lock:
            self.faults.forced.extend([(operation, kind)] * times)

    # ------------------------------------------------------------------ decisions

    def _pick_fault(self, op: str) -> str | None:
        with self._fault_lock:
            for i, (wanted, kind) in enumerate(self.faults.forced):
                if wanted in (None, op):
                    del self.faults.forced[i]
                    return None if kind == "ok" else kind
            if self.faults.rate and self.faults.rng.random() < self.faults.rate:
                return self.faults.rng.choice(self.faults.kinds)
            return None

    def _upload_fault(self) -> str | None:
        with self._fault_lock:
            if self.faults.upload_rate and self.faults.rng.random() < self.faults.upload_rate:
                return self.faults.rng.choice(("502", "drop"))
        return None

    def _count(self, kind: str) -> None:
        self.stats.faults[kind] = self.stats.faults.get(kind, 0) + 1

    # ------------------------------------------------------------------ graphql

    def graphql(self, text: str, variables: dict) -> tuple[int, dict, dict, str | None]:
        """(status, headers, body, fault-after-execution) for one GraphQL request."""
        bad = problems(text)
        if bad:
            self.stats.invalid.append((text, bad))
            return 200, {}, {"errors": [{"message": m, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                                        for m in bad]}, None
        document = parse_document(text)
        kind, op = operation_of(document)
        with self.store.lock:
            self.stats.requests += 1
            self.stats.by_operation[op] = self.stats.by_operation.get(op, 0) + 1
        fault = self._pick_fault(op)
        if fault:
            self._count(fault)
        if fault == "429":
            return 429, {"Retry-After": self.faults.retry_after}, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}, None
        if fault == "502":
            return 502, {}, {"errors": "Bad Gateway"}, None
        try:
            cost = requested_cost(self.schema, document, variables)
        except CostError as exc:
            return 200, {}, {"errors": [{"message": str(exc), "extensions": {"code": "BAD_REQUEST"}}]}, None
        if cost > MAX_QUERY_COST:
            self.stats.over_cost.append((op, cost))
            return 200, {}, {"errors": [{"message": (
                f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
                "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                "cost of a query is calculated."),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST,
                               "documentation": "https://shopify.dev/api/usage/rate-limits"}}]}, None
        with self.store.lock:
            self.bucket.refill()
            if fault == "throttled" or self.bucket.available < cost:
                if fault != "throttled":
                    self.stats.over_limit += 1
                return 200, {}, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                            "throttleStatus": self.bucket.status()}}}, None
            self.bucket.available -= cost
            self.stats.min_available = min(self.stats.min_available, self.bucket.available)
            result = execute(self.schema, document, root_value=self.store, variable_values=variables)
            actual = actual_cost(self.schema, document, variables, result.data)
            self.bucket.available += max(0, cost - actual)  # Shopify refunds what the answer did not use
            body: dict = {"data": result.data}
            if result.errors:
                body["errors"] = [e.formatted for e in result.errors]
            if fault == "internal":  # it ran, but all the client hears is an internal error
                body = {"data": None, "errors": [{
                    "message": "Internal error. Looks like something went wrong on our end.\n"
                               f"Request ID: fake-{self.stats.requests}",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": f"fake-{self.stats.requests}"}}]}
            body["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": actual,
                                           "throttleStatus": self.bucket.status()}}
        return 200, {}, body, fault

    def grant(self, form: dict) -> tuple[int, dict]:
        if (form.get("grant_type") != "client_credentials" or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret):
            return 400, {"error": "invalid_client", "error_description": "Client credentials are invalid"}
        with self._fault_lock:
            self._grants += 1
            token = f"shpat_granted_{self._grants:04d}_{random.Random(self._grants).getrandbits(64):016x}"
        self.stats.grants += 1
        self.tokens.add(token)
        return 200, {"access_token": token, "scope": ",".join(sorted(self.store.scopes)),
                     "expires_in": self.token_lifetime}


def _handler(fake: FakeShopify):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in separate writes would wait on delayed ACKs

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == fake.graphql_path:
                self._graphql(raw)
            elif self.path.startswith("/staged/"):
                self._upload(raw)
            elif self.path == "/admin/oauth/access_token":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._send(*fake.grant(form))
            else:
                self._send(404, {"errors": "Not Found"})

        def _graphql(self, raw: bytes) -> None:
            token = self.headers.get("X-Shopify-Access-Token") or ""
            fake.stats.tokens_seen.add(token)
            if token not in fake.tokens:
                self._send(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
                return
            try:
                request = json.loads(raw)
            except ValueError:
                self._send(400, {"errors": "Bad Request"})
                return
            status, headers, body, after = fake.graphql(request.get("query", ""), request.get("variables") or {})
            if after == "drop":
                self.close_connection = True  # executed, but the answer never leaves
                return
            if after == "slow":
                time.sleep(fake.faults.slow_seconds)
            self._send(status, body, {"X-Shopify-API-Version": fake.api_version, **headers})

        def _upload(self, raw: bytes) -> None:
            fault = fake._upload_fault()
            if fault:
                fake._count(f"upload-{fault}")
            if fault == "502":
                self._send(502, {"errors": "Bad Gateway"})
                return
            token = self.path.split("/")[2]
            staged = fake.store.staged.get(token)
            parts = _multipart(self.headers.get("Content-Type", ""), raw)
            names = [name for name, _ in parts]
            expected = [p["name"] for p in staged.parameters] + ["file"] if staged else None
            if staged is None or names != expected:
                self._send(400, {"error": f"expected fields {expected}, got {names}"})
                return
            values = dict(parts)
            if any(values[p["name"]] != p["value"].encode() for p in staged.parameters):
                self._send(403, {"error": "signature does not match"})
                return
            staged.body = values["file"]
            fake.stats.uploads += 1
            if fault == "drop":
                self.close_connection = True
                return
            self._send(201, {"key": f"tmp/{token}/{staged.filename}"})

        def _send(self, status: int, body, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            fake.stats.bodies.append(data.decode())
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the slow fault)

    return Handler


def _multipart(content_type: str, raw: bytes) -> list[tuple[str, bytes]]:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    return [(part.get_param("name", header="content-disposition"), part.get_payload(decode=True))
            for part in message.get_payload()]
