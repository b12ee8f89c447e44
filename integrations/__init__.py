"""The outside world: Shopify, model downloads."""
