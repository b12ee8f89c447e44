"""A fake Shopify Admin API for tests: real HTTP on 127.0.0.1, every document
validated against the real 2026-01 schema, state kept, faults on demand."""

from .schema import admin_schema, problems
from .server import KINDS, FakeShopify, Faults, Stats
from .store import ALL_SCOPES, Store

__all__ = ["ALL_SCOPES", "KINDS", "FakeShopify", "Faults", "Stats", "Store", "admin_schema", "problems"]
