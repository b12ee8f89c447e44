"""The real 2026-01 Admin schema, built once per process, and cached
validation of documents against it with deprecated fields rejected."""

from __future__ import annotations

import functools
from pathlib import Path

from graphql import (DocumentNode, GraphQLSchema, NoDeprecatedCustomRule, OperationDefinitionNode,
                     build_schema, parse, specified_rules, validate)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "admin-2026-01.graphql"


@functools.lru_cache(maxsize=None)
def admin_schema(path: Path = SCHEMA_PATH) -> GraphQLSchema:
    # assume_valid: the schema is Shopify's own; validating it would take far longer
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


@functools.lru_cache(maxsize=512)
def parse_document(text: str) -> DocumentNode:
    return parse(text)


@functools.lru_cache(maxsize=512)
def problems(text: str) -> tuple[str, ...]:
    """Why ``text`` is not a valid, deprecation-free document for the schema (empty: it is)."""
    try:
        document = parse_document(text)
    except Exception as exc:  # a syntax error
        return (str(exc),)
    errors = validate(admin_schema(), document, rules=[*specified_rules, NoDeprecatedCustomRule])
    return tuple(e.message for e in errors)


def operation_of(document: DocumentNode) -> tuple[str, str]:
    """('mutation', 'fileCreate'): the operation type and its first root field."""
    op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return op.operation.value, op.selection_set.selections[0].name.value
