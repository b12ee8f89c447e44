"""Where the Admin API access token comes from, in this order:

1. an environment variable (``shopify.token_env``, default ``SHOPIFY_ACCESS_TOKEN``);
2. a systemd credential, ``$CREDENTIALS_DIRECTORY/<shopify.token_credential>``;
3. the client-credentials grant: ``shopify.client_id`` plus a client secret from
   the environment or a credential file; the token it returns (about 24 h) is
   fetched again ``token_refresh_margin`` seconds before it expires.

Every secret is registered with ``integrations.secrets`` (and handed to
``on_secret``) the moment it is read or received, in the form it was read
(a credential file's trailing newline, blanks around an environment value)
as well as the form sent, so nothing that echoes it can carry it out.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Mapping

import httpx
import structlog

from integrations import secrets

from .client import post_or_retry_later, remote_text, request_timeout, shop_origin
from .config import ShopifyConfig
from .errors import AuthError

log = structlog.get_logger("booth.shopify")


class StaticToken:
    """A long-lived ``shpat_`` token: nothing to refresh."""

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def token(self) -> str:
        return self._value

    def refresh(self, rejected: str) -> bool:
        return False


class ClientCredentials:
    """Tokens from ``POST /admin/oauth/access_token`` with grant_type client_credentials."""

    def __init__(self, url: str, client_id: str, client_secret: str, *, http: httpx.Client,
                 timeout: float | httpx.Timeout, margin: float, on_secret: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.source = "client-credentials"
        self._client_id = client_id
        self._secret = client_secret
        self._http = http
        self._timeout = timeout
        self._margin = margin
        self._on_secret = on_secret
        self._clock = clock
        self._value: str | None = None
        self._expires = 0.0
        self._fetched = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._value is None or self._clock() >= self._expires - self._margin:
                self._fetch()
            return self._value  # type: ignore[return-value]

    def refresh(self, rejected: str) -> bool:
        """Shopify answered 401 to ``rejected``. Workers share this source, so
        several may hold the same rejected token: the first drops it, and the
        others find a different token already in place and just use it. Only
        ``rejected`` itself being refused within a minute of its grant means
        the app is refused, where asking again would not help."""
        with self._lock:
            if self._value is not None and self._value != rejected:
                return True  # another worker already replaced it
            if self._value is not None and self._clock() - self._fetched < 60:
                return False
            self._value = None
            return True

    def _fetch(self) -> None:
        form = {"client_id": self._client_id, "client_secret": self._secret, "grant_type": "client_credentials"}
        response = post_or_retry_later(self._http, self.url, "access token request", data=form,
                                       timeout=self._timeout)
        if response.status_code >= 400:
            said = _grant_error(response)
            raise AuthError(f"Shopify refused the client credentials (HTTP {response.status_code}"
                            f"{': ' + said if said else ''}); check shopify.client_id and the client secret")
        try:
            body = response.json()
        except ValueError:
            body = None
        value = body.get("access_token") if isinstance(body, dict) else None
        if not value or not isinstance(value, str):
            raise AuthError("the access token response carried no access_token")
        _secret(value, self._on_secret)
        self._value = value
        self._fetched = self._clock()
        # Shopify states the lifetime; a missing one is treated as the documented ~24 h.
        self._expires = self._clock() + float(body.get("expires_in") or 86399)
        log.info("shopify.token", source=self.source, expires_in=body.get("expires_in"), scope=body.get("scope"))


def _grant_error(response: httpx.Response) -> str:
    """What Shopify said about a refused grant (``error: error_description``), scrubbed."""
    try:
        body = response.json()
    except ValueError:
        return remote_text(response.text, 200)
    if not isinstance(body, dict):
        return remote_text(body, 200)
    said = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    return remote_text(said or body, 200)


def _secret(value: str, on_secret: Callable[[str], None]) -> None:
    secrets.register(value)
    on_secret(value)


def _credential(name: str, environ: Mapping[str, str], on_secret: Callable[[str], None]) -> str | None:
    """The credential file's content, stripped; registered as a secret as read."""
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    path = Path(folder) / name
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthError(f"cannot read the credential {name!r} in $CREDENTIALS_DIRECTORY: "
                        f"{type(exc).__name__}") from None
    _secret(raw, on_secret)
    return raw.strip() or None


def token_source(config: ShopifyConfig, *, http: httpx.Client, on_secret: Callable[[str], None],
                 environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic):
    """The first configured source of a token; ``AuthError`` naming them all when none is."""
    environ = os.environ if environ is None else environ
    value = environ.get(config.token_env)
    if value and value.strip():
        _secret(value, on_secret)
        return StaticToken(value.strip(), f"${config.token_env}")
    value = _credential(config.token_credential, environ, on_secret)
    if value:
        return StaticToken(value, f"credential {config.token_credential}")
    if config.client_id:
        secret = environ.get(config.client_secret_env)
        if secret and secret.strip():
            _secret(secret, on_secret)
        else:
            secret = _credential(config.client_secret_credential, environ, on_secret)
        if not secret or not secret.strip():
            raise AuthError(f"shopify.client_id is set but no client secret: set ${config.client_secret_env} "
                            f"or the credential {config.client_secret_credential!r}")
        return ClientCredentials(f"{shop_origin(config)}/admin/oauth/access_token", config.client_id, secret.strip(),
                                 http=http, timeout=request_timeout(config), margin=config.token_refresh_margin,
                                 on_secret=on_secret, clock=clock)
    raise AuthError(f"no Shopify access token: set ${config.token_env}, the credential "
                    f"{config.token_credential!r} (LoadCredential={config.token_credential}:/etc/booth/credentials/"
                    f"{config.token_credential}), or shopify.client_id with a client secret")
