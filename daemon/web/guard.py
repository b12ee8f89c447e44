"""The one gate every request passes, before any page sees it.

In order: the Host is one this page answers to; the caller is signed in (when
a token is set); a POST comes from this page (Origin / Referer) and carries
the CSRF token of its cookie. A POST's form is read here (small and
url-encoded only) and handed on as ``request.state.form``. Every response
gets the CSRF cookie when the caller has none, and headers that keep it out
of frames, caches and other sites' scripts.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote

from daemon.web.access import Access, same_origin

MAX_FORM_BYTES = 64 * 1024
OPEN_PATHS = ("/login", "/static/")
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
                                  b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Guard:
    """ASGI middleware; ``render_refusal(status, message, csrf)`` makes the page a refused request sees."""

    def __init__(self, app, access: Access, render_refusal) -> None:
        self.app = app
        self.access = access
        self.render_refusal = render_refusal

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        cookies = _cookies(headers.get("cookie", ""))
        cookie_csrf = cookies.get(self.access.csrf_cookie)
        fresh = None if self.access.csrf_valid(cookie_csrf) else self.access.new_csrf()
        state = scope.setdefault("state", {})
        state["csrf"] = fresh or cookie_csrf
        state["form"] = {}
        state["signed_in"] = False
        send = self._decorated(send, fresh, static=scope["path"].startswith("/static/"))
        try:
            receive = await self._check(scope, receive, headers, cookies, cookie_csrf, state)
        except Refused as refused:
            return await self._refuse(scope, receive, send, refused, state["csrf"])
        except _Redirect as redirect:
            return await _redirect(send, redirect.location)
        await self.app(scope, receive, send)

    async def _check(self, scope, receive, headers, cookies, cookie_csrf, state):
        access, path, method = self.access, scope["path"], scope["method"]
        if not access.host_allowed(headers.get("host")):
            raise Refused(421, "this page answers only at a loopback address (127.0.0.1 or localhost); "
                               "from another machine, use an SSH tunnel or set a review token")
        state["signed_in"] = access.signed_in(cookies, headers.get("authorization"))
        if not state["signed_in"] and not path.startswith(OPEN_PATHS):
            if method in ("GET", "HEAD") and "text/html" in headers.get("accept", ""):
                raise _Redirect("/login?next=" + quote(path, safe="/"))
            raise Refused(401, "sign in first: this page needs the review token")
        if method in ("GET", "HEAD"):
            return receive
        if method != "POST":
            raise Refused(405, f"{method} is not a way to use this page")
        if headers.get("sec-fetch-site") == "cross-site" or not same_origin(
                headers.get("origin"), headers.get("referer"), headers.get("host")):
            raise Refused(403, "refused: this request did not come from the review page")
        body = await _read_body(receive)
        if body and not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise Refused(415, "send the page's forms as they are (application/x-www-form-urlencoded)")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        offered = form.pop("csrf", None) or headers.get("x-csrf-token")
        if not access.csrf_matches(cookie_csrf, offered):
            raise Refused(403, "refused: the page was out of date or the request did not come from it "
                               "(reload the page and try again)")
        state["form"] = form
        return _replay(body, receive)

    def _decorated(self, send, fresh: str | None, static: bool = False):
        cache = b"no-cache" if static else b"no-store"  # pages are never kept; the style is revalidated
        cookie = None
        if fresh:
            cookie = f"{self.access.csrf_cookie}={fresh}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", cache))
                if cookie:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)
        return wrapped

    async def _refuse(self, scope, receive, send, refused: Refused, csrf: str):
        body = self.render_refusal(refused.status, refused.message, csrf).encode()
        await send({"type": "http.response.start", "status": refused.status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


async def _redirect(send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _headers(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[name] = f"{out[name]}; {text}" if name == "cookie" and name in out else text
    return out


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is as good as none
        return {}
    return {k: m.value for k, m in jar.items()}


async def _read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the request was cut short")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise Refused(413, "that form is far larger than any of this page's")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, original):
    """The body already read, once; then the connection's own messages (a disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()
    return receive
