"""The ``shopify:`` config section and each category's ``publish:`` params."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublishParams(Section):
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
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from None
        if any(not name.isidentifier() for name in names):
            raise ValueError("placeholders are plain names like {title} or {view}")
        return value


class ShopifyConfig(Section):
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
    max_retries: int = Field(6, ge=0, description="retries of one request on 5xx, timeouts, throttling")
    max_retry_seconds: float = Field(120.0, gt=0, description="give up retrying one request after this long")
    retry_initial: float = Field(0.5, gt=0, description="first retry delay, doubled each time, with jitter")
    retry_max: float = Field(30.0, gt=0, description="longest single retry delay")
    throttle_reserve: float = Field(0.1, ge=0, lt=1, description="share of the cost bucket never spent")
    poll_interval: float = Field(1.0, gt=0, description="seconds between checks of a file's processing status")
    poll_timeout: float = Field(300.0, gt=0, description="give up waiting for READY after this long (tried again later)")
    media_retries: int = Field(1, ge=0, description="re-uploads of an image that Shopify marked FAILED")
    step_retries: int = Field(4, ge=0, description="re-tries of one publish step after an ambiguous failure")

    @model_validator(mode="after")
    def _shop_when_enabled(self):
        if self.enabled and not (self.shop or self.admin_url):
            raise ValueError("shopify.enabled needs 'shop' (or 'admin_url')")
        return self
