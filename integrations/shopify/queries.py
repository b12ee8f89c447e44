"""Every GraphQL document the project sends, as a constant.

Each one is validated in the tests against Shopify's 2026-01 Admin schema with
deprecated fields rejected, so nothing here may use ``productCreateMedia``,
``Product.images``, ``ProductVariant.image`` or the ``PRODUCT_IMAGE`` resource.
Search strings always travel as variables, never spliced into a document.
"""

from __future__ import annotations

CHECK = """
query BoothCheck {
  shop { name myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}
"""

VARIANTS_BY_SEARCH = """
query BoothVariants($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku barcode title product { id title } }
  }
}
"""

PRODUCTS_BY_SEARCH = """
query BoothProducts($query: String!, $first: Int!) {
  products(first: $first, query: $query) {
    nodes {
      id
      title
      variants(first: 50) { nodes { id sku barcode title } }
    }
  }
}
"""

# The product's media in display order; the CDN URL ends in the file's name,
# which is how booth's own images are told apart (the Media type has no filename).
PRODUCT_MEDIA = """
query BoothProductMedia($id: ID!) {
  product(id: $id) {
    id
    title
    media(first: 250) {
      nodes {
        id
        status
        ... on MediaImage { image { url } originalSource { url } }
      }
    }
    variants(first: 100) { nodes { id sku barcode media(first: 50) { nodes { id } } } }
  }
}
"""

STAGED_UPLOADS_CREATE = """
mutation BoothStagedUpload($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""

FILE_CREATE = """
mutation BoothFileCreate($files: [FileCreateInput!]!) {
  fileCreate(files: $files) {
    files { id fileStatus alt }
    userErrors { field message code }
  }
}
"""

FILES_BY_FILENAME = """
query BoothFilesByName($query: String!) {
  files(first: 10, query: $query) {
    nodes {
      id
      fileStatus
      alt
      ... on MediaImage { image { url } originalSource { url } }
    }
  }
}
"""

FILE_STATUS = """
query BoothFileStatus($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on MediaImage {
      status
      fileStatus
      fileErrors { code message details }
      mediaErrors { code message details }
    }
  }
}
"""

FILE_UPDATE = """
mutation BoothFileUpdate($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) {
    files { id fileStatus }
    userErrors { field message code }
  }
}
"""

VARIANT_APPEND_MEDIA = """
mutation BoothVariantMedia($productId: ID!, $variantMedia: [ProductVariantAppendMediaInput!]!) {
  productVariantAppendMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

PRODUCT_REORDER_MEDIA = """
mutation BoothReorderMedia($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) {
    job { id done }
    mediaUserErrors { field message code }
  }
}
"""

JOB = """
query BoothJob($id: ID!) {
  job(id: $id) { id done }
}
"""

ALL = {
    name: value for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str)
}
