"""Who may use the review page, and proof that a form came from it.

- Bound to a loopback address without a token, the page answers only to
  requests whose ``Host`` is a loopback name (a web page elsewhere cannot reach
  it through DNS rebinding); an SSH tunnel still works.
- Any other address needs a token, set the way Shopify's secret is: the
  environment variable ``review.token_env`` or the systemd credential
  ``$CREDENTIALS_DIRECTORY/<review.token_credential>``. With a token every
  request needs it: the login form's HttpOnly, SameSite=Strict cookie (which
  holds an HMAC of the token, never the token) or ``Authorization: Bearer``.
- Every POST carries a CSRF token: a random nonce signed with a per-process
  secret, sent both as a cookie and as a form field (double submit, and the
  signature means a planted cookie does not pass). Origin / Referer, when
  present, must name this very page.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from daemon.config import ConfigError

DEFAULT_TOKEN_ENV = "BOOTH_REVIEW_TOKEN"
DEFAULT_TOKEN_CREDENTIAL = "review-token"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ReviewSettings:
    """The ``review`` section of the config, as the page reads it."""

    host: str = "127.0.0.1"
    port: int = 0
    token_env: str = DEFAULT_TOKEN_ENV
    token_credential: str = DEFAULT_TOKEN_CREDENTIAL

    @classmethod
    def of(cls, section: Any) -> ReviewSettings:
        default = cls()
        return cls(**{name: getattr(section, name, None) or getattr(default, name)
                      for name in ("host", "token_env", "token_credential")},
                   port=int(getattr(section, "port", 0) or 0))


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def review_token(settings: ReviewSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The token the operator set, or None. ConfigError when a non-loopback
    address has none, or the token is too short to be a secret."""
    environ = os.environ if environ is None else environ
    token, source = (environ.get(settings.token_env) or "").strip(), f"${settings.token_env}"
    if not token and environ.get("CREDENTIALS_DIRECTORY"):
        source = f"the credential {settings.token_credential!r}"
        try:
            token = (Path(environ["CREDENTIALS_DIRECTORY"]) / settings.token_credential).read_text("utf-8").strip()
        except FileNotFoundError:
            token = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"review: cannot read {source}: {exc}") from None
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"review: the token in {source} is too short ({len(token)} characters); use at least "
                          f"{MIN_TOKEN_LENGTH}, e.g. the output of `openssl rand -hex 24`")
    if not token and not is_loopback(settings.host):
        raise ConfigError(
            f"review.host is {settings.host}, reachable from other machines, but no review token is set: "
            f"set ${settings.token_env} (e.g. to the output of `openssl rand -hex 24`) or the systemd credential "
            f"{settings.token_credential!r} (LoadCredential={settings.token_credential}:/etc/booth/"
            f"{settings.token_credential}), or keep review.host at 127.0.0.1 and use an SSH tunnel")
    return token or None


class Access:
    """The checks the guard makes on every request; configured once per process."""

    def __init__(self, token: str | None, *, port: int = 0, secret: bytes | None = None) -> None:
        self.token = token
        self._secret = secret or secrets.token_bytes(32)
        self._session = (hmac.new(token.encode(), b"booth review session", hashlib.sha256).hexdigest()
                         if token else None)
        suffix = f"_{port}" if port else ""  # cookies ignore ports: two daemons on one host keep theirs apart
        self.csrf_cookie = f"booth_csrf{suffix}"
        self.session_cookie = f"booth_session{suffix}"

    @property
    def needs_login(self) -> bool:
        return self.token is not None

    # ------------------------------------------------------------------ who

    def token_matches(self, offered: str | None) -> bool:
        return bool(self.token and offered) and hmac.compare_digest(offered.strip().encode(), self.token.encode())

    def session_value(self) -> str:
        assert self._session is not None
        return self._session

    def signed_in(self, cookies: Mapping[str, str], authorization: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, offered = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(offered):
            return True
        cookie = cookies.get(self.session_cookie, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._session.encode())

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token, only loopback names (with any port: a tunnel's)."""
        if self.token is not None:
            return True
        name = urlsplit(f"//{host_header or ''}").hostname or ""
        return name in LOOPBACK_NAMES or is_loopback(name)

    # ------------------------------------------------------------------ forms

    def new_csrf(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce)}"

    def csrf_valid(self, value: str | None) -> bool:
        nonce, _, signature = (value or "").partition(".")
        return bool(nonce and signature) and hmac.compare_digest(signature.encode(), self._sign(nonce).encode())

    def csrf_matches(self, cookie: str | None, offered: str | None) -> bool:
        return self.csrf_valid(cookie) and bool(offered) and hmac.compare_digest(cookie.encode(), offered.encode())

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def same_origin(origin: str | None, referer: str | None, host_header: str | None) -> bool:
    """Origin (else Referer), when the browser sent one, names this page's own host and port."""
    claimed = origin if origin is not None else referer
    if claimed is None:
        return True
    parts = urlsplit(claimed)
    return parts.scheme in ("http", "https") and bool(host_header) and parts.netloc.lower() == host_header.lower()
