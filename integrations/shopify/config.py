"""The ``shopify:`` config section and each category's ``publish:`` params."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from pipeline.profile import Params
from pipeline.template import check_template

_VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MYSHOPIFY = ".myshopify.com"


def shop_domain(value: str) -> str:
    """'my-store', 'my-store.myshopify.com' or 'https://my-store.myshopify.com/admin'
    -> 'my-store.myshopify.com'. The Admin API lives only on the myshopify.com
    name, so a custom domain is refused rather than guessed at."""
    text = value.strip()
    host = (urlsplit(text if "://" in text else f"https://{text}").hostname or "").rstrip(".")
    handle = host[: -len(MYSHOPIFY)] if host.endswith(MYSHOPIFY) else host
    if "." in handle:
        raise ValueError(f"{value!r} is not a myshopify.com store: give the store's name ('my-store') "
                         "or its my-store.myshopify.com domain (Shopify admin: Settings > Domains)")
    if not _HANDLE.match(handle):
        raise ValueError(f"{value!r} is not a store name: use letters, digits and '-' ('my-store')")
    return handle + MYSHOPIFY


class PublishParams(Params):
    """How a category's images land on Shopify."""

    lookup: Literal["sku", "barcode", "title-serial"] = Field(
        "sku", description="how the product key finds the product: a variant's SKU or barcode, "
        "or a title plus serial number ('sony a7iv #331')")
    title_serial_pattern: str = Field(
        r"^(?P<title>.+?)\s*#\s*(?P<serial>[\w.-]+)$",
        description="regex splitting a product key into 'title' and 'serial' for lookup: title-serial")
    alt: str = Field("{title} - {view}", description="alt text template over title, view, index, "
                     "product_key, category and the router's fields")
    replace: Literal["append", "replace-same-view", "replace-all"] = Field(
        "append", description="append: keep every image; replace-same-view: a new image of a view "
        "detaches the older image of that view; replace-all: also detaches images booth did not make")
    assign_variant: bool = Field(False, description="also attach the image to the matched variant")

    @field_validator("title_serial_pattern")
    @classmethod
    def _title_and_serial(cls, value: str) -> str:
        try:
            groups = set(re.compile(value).groupindex)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if not {"title", "serial"} <= groups:
            raise ValueError("needs the named groups (?P<title>...) and (?P<serial>...)")
        return value

    @field_validator("alt")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)


class ShopifyConfig(Params):
    enabled: bool = Field(False, description="off: publishing only logs what it would do")
    shop: str | None = Field(None, description="'my-store' or 'my-store.myshopify.com'")
    api_version: str = Field("2026-01", description="Admin API version, YYYY-MM")
    admin_url: str | None = Field(None, description="override the Admin API base URL (a proxy, a test server)")
    token_env: str = Field("SHOPIFY_ACCESS_TOKEN", description="environment variable holding an access token")
    token_credential: str = Field("shopify-token", description="file name under $CREDENTIALS_DIRECTORY")
    client_id: str | None = Field(None, description="app client id for the client-credentials grant")
    client_secret_env: str = Field("SHOPIFY_CLIENT_SECRET", description="environment variable holding the client secret")
    client_secret_credential: str = Field("shopify-client-secret",
                                          description="client secret file name under $CREDENTIALS_DIRECTORY")
    token_refresh_margin: float = Field(300.0, ge=0, description="refresh a granted token this many seconds before it expires")
    timeout: float = Field(30.0, gt=0, description="seconds for any one HTTP request (connect, read, write)")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to wait for a connection (at most 'timeout')")
    max_retries: int = Field(6, ge=0, description="retries of one request on 5xx, timeouts, throttling")
    max_retry_seconds: float = Field(120.0, gt=0, description="give up retrying one request after this long")
    retry_initial: float = Field(0.5, gt=0, description="first retry delay, doubled each time, with jitter")
    retry_max: float = Field(30.0, gt=0, description="longest single retry delay")
    throttle_reserve: float = Field(0.1, ge=0, lt=1, description="share of the cost bucket never spent")
    poll_interval: float = Field(1.0, gt=0, description="seconds between checks of a file's processing status")
    poll_timeout: float = Field(300.0, gt=0, description="give up waiting for READY after this long (tried again later)")
    media_retries: int = Field(1, ge=0, description="re-uploads of an image that Shopify marked FAILED")
    step_retries: int = Field(4, ge=0, description="re-tries of one publish step after an ambiguous failure")

    @field_validator("shop")
    @classmethod
    def _shop(cls, value: str | None) -> str | None:
        return shop_domain(value) if value and value.strip() else None

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value.strip()):
            raise ValueError(f"{value!r} is not an Admin API version: use YYYY-MM, e.g. '2026-01'")
        return value.strip()

    @field_validator("admin_url")
    @classmethod
    def _admin_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip()

    @model_validator(mode="after")
    def _shop_when_enabled(self):
        if self.enabled and not (self.shop or self.admin_url):
            raise ValueError("shopify.enabled needs 'shop' (or 'admin_url')")
        return self

    @property
    def configured(self) -> bool:
        """Publishing is on and has somewhere to go."""
        return self.enabled and bool(self.shop or self.admin_url)
