"""Every GraphQL document the project sends, as a constant.

Each one is validated in the tests against Shopify's 2026-01 Admin schema with
deprecated fields rejected, so nothing here may use ``productCreateMedia``,
``Product.images``, ``ProductVariant.image`` or the ``PRODUCT_IMAGE`` resource.
Search strings always travel as variables, never spliced into a document.

Shopify refuses any query whose *requested* cost is over 1,000 points
(``MAX_COST_EXCEEDED``): a connection costs 2 + first x one node, and nested
connections multiply. So lists are asked for in pages of modest size and
followed by cursor (``pageInfo``), and nothing nests a connection inside a
long one. The cost of each document is tested against the schema.
"""

from __future__ import annotations

SEARCH_FIRST = 20           # products per page of a title search (262 points)
VARIANT_SEARCH_FIRST = 100  # variants per page of a SKU or barcode search (202 points)
# The ``$first`` each searching document is sent with; the cost test prices them with it.
FIRST = {"PRODUCTS_BY_SEARCH": SEARCH_FIRST, "VARIANTS_BY_SEARCH": VARIANT_SEARCH_FIRST}

CHECK = """
query BoothCheck {
  shop { name myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}
"""

VARIANTS_BY_SEARCH = """
query BoothVariants($query: String!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { id sku barcode title product { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# A few variants per product (2 + 20 x 13 = 262 points); a product with more
# has the rest fetched with PRODUCT_VARIANTS.
PRODUCTS_BY_SEARCH = """
query BoothProducts($query: String!, $first: Int!, $after: String) {
  products(first: $first, after: $after, query: $query) {
    nodes {
      id
      title
      variants(first: 10) { nodes { id sku barcode title } pageInfo { hasNextPage endCursor } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PRODUCT_VARIANTS = """
query BoothProductVariants($id: ID!, $after: String) {
  product(id: $id) {
    id
    variants(first: 100, after: $after) { nodes { id sku barcode title } pageInfo { hasNextPage endCursor } }
  }
}
"""

# The product's media in display order, a page at a time (153 points); the CDN
# URL ends in the file's name, which is how booth's own images are told apart
# (the Media type has no filename). Only IMAGE media are booth's to replace.
PRODUCT_MEDIA = """
query BoothProductMedia($id: ID!, $after: String) {
  product(id: $id) {
    id
    title
    media(first: 50, after: $after) {
      nodes {
        id
        status
        mediaContentType
        ... on MediaImage { image { url } originalSource { url } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

# A variant holds one media item; asked for only with ``assign_variant``.
VARIANT_MEDIA = """
query BoothVariantMedia($id: ID!) {
  productVariant(id: $id) { id media(first: 5) { nodes { id } } }
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

# Newest first: the search is fuzzy and a product's older images share most of
# the name, so oldest-first would bury a file just created under them.
FILES_BY_FILENAME = """
query BoothFilesByName($query: String!) {
  files(first: 50, query: $query, sortKey: CREATED_AT, reverse: true) {
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
      updatedAt
      originalSource { fileSize }
      fileErrors { code message details }
      mediaErrors { code message details }
    }
  }
}
"""

# Detaching, attaching, and new bytes for a file (``originalSource``: the file
# keeps its id and its place on the product, and is processed again).
FILE_UPDATE = """
mutation BoothFileUpdate($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) {
    files { id fileStatus }
    userErrors { field message code }
  }
}
"""

FILE_DELETE = """
mutation BoothFileDelete($ids: [ID!]!) {
  fileDelete(fileIds: $ids) {
    deletedFileIds
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


def search_term(field_name: str, value: str) -> str:
    """``sku:"A \\"B\\""``: a quoted search term (it still travels as a variable)."""
    return f'{field_name}:"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


ALL = {
    name: value for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str)
}
