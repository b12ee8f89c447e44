"""The ``shopify:`` config section and each category's ``publish:`` params."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublishParams(Section):
    """How a category's images land on Shopify."""

    lookup: Literal["sku", "barcode", "title-serial"] = "sku"
    alt: str = "{title} - {view}"
    replace: Literal["append", "replace-same-view", "replace-all"] = "append"
    assign_variant: bool = False


class ShopifyConfig(Section):
    enabled: bool = False
    shop: str | None = Field(None, description="'my-store' or 'my-store.myshopify.com'")
    api_version: str = "2026-01"
    admin_url: str | None = Field(None, description="override the Admin API base URL (a proxy, a test server)")
    token_env: str = "SHOPIFY_ACCESS_TOKEN"
    token_credential: str = Field("shopify-token", description="file name under $CREDENTIALS_DIRECTORY")
    client_id: str | None = None
    client_secret_env: str = "SHOPIFY_CLIENT_SECRET"
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(6, ge=0)

    @model_validator(mode="after")
    def _shop_when_enabled(self):
        if self.enabled and not (self.shop or self.admin_url):
            raise ValueError("shopify.enabled needs 'shop' (or 'admin_url')")
        return self
