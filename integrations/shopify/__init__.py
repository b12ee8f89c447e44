"""Publishing finished images to Shopify through the GraphQL Admin API."""
