"""Shopify's *requested* query cost, computed from the schema's types the way
Shopify documents it, so a document that real Shopify would refuse
(``MAX_COST_EXCEEDED``) is refused here too.

- a scalar or enum field costs 0, an object field 1 plus its selection;
- an interface or union: what every type selects in common plus the dearest
  of the type-specific fragments ("the maximum of possible selections");
- a connection (``...Connection`` with ``first``/``last``) costs
  2 + first x (one node's cost), so nested connections multiply;
- a mutation costs 10, whatever it selects.

The *actual* cost prices what came back instead of what was asked for (a
connection's real length instead of ``first``); Shopify takes the requested
cost out of the bucket before running a query and refunds the difference after.
"""

from __future__ import annotations

from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLSchema,
                     InlineFragmentNode, OperationDefinitionNode, OperationType, SelectionSetNode, Undefined,
                     VariableNode, get_named_type, is_leaf_type, type_from_ast, value_from_ast)

MAX_QUERY_COST = 1000
MUTATION_COST = 10


class CostError(Exception):
    """The document cannot be costed: a connection without ``first`` or ``last``
    (real Shopify refuses those too)."""


def requested_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict | None = None) -> int:
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST
    defaults = {v.variable.name.value: value_from_ast(v.default_value, type_from_ast(schema, v.type))
                for v in operation.variable_definitions or () if v.default_value}
    walk = _Walk(schema, {**defaults, **(variables or {})},
                 {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)})
    return walk.selection(schema.query_type, operation.selection_set)


def actual_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict | None, data: dict | None) -> int:
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST
    walk = _Walk(schema, variables or {},
                 {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)})
    return walk.actual(schema.query_type, operation.selection_set, data or {})


class _Walk:
    def __init__(self, schema: GraphQLSchema, variables: dict, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema, self.variables, self.fragments = schema, variables, fragments

    def selection(self, parent, selection_set: SelectionSetNode | None) -> int:
        """Common fields plus the dearest type-specific fragment."""
        common, specific = 0, {}
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                common += self.field(parent, node)
                continue
            fragment = self.fragments[node.name.value] if isinstance(node, FragmentSpreadNode) else node
            assert isinstance(fragment, (InlineFragmentNode, FragmentDefinitionNode))
            on = fragment.type_condition.name.value if fragment.type_condition else parent.name
            cost = self.selection(self.schema.get_type(on), fragment.selection_set)
            if on == parent.name:
                common += cost
            else:
                specific[on] = specific.get(on, 0) + cost
        return common + max(specific.values(), default=0)

    def field(self, parent, node: FieldNode) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        definition = parent.fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection") and ("first" in definition.args or "last" in definition.args):
            count = self.argument(node, definition, "first")
            if count is None:
                count = self.argument(node, definition, "last")
            if count is None:
                raise CostError(f"{name}: you must provide one of first or last")
            return 2 + count * self.node_cost(named, node.selection_set)
        return 1 + self.selection(named, node.selection_set)

    def node_cost(self, connection, selection_set: SelectionSetNode | None) -> int:
        """One item of a connection: ``nodes { ... }`` or ``edges { node { ... } }``
        (``pageInfo`` is part of the connection's own 2)."""
        cost = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode) and node.name.value == "nodes":
                cost += self.field(connection, node)  # 1 for the node, plus its selection
            elif isinstance(node, FieldNode) and node.name.value == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                cost += self.selection(edge, node.selection_set)  # the edge's node: 1 plus its selection
        return cost

    def argument(self, node: FieldNode, definition, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == name:
                if isinstance(argument.value, VariableNode):
                    return self.variables.get(argument.value.name.value)
                return value_from_ast(argument.value, definition.args[name].type)
        default = definition.args[name].default_value if name in definition.args else None
        return None if default is Undefined else default

    def actual(self, parent, selection_set: SelectionSetNode | None, value: dict) -> int:
        """What ``value`` (one object's result) cost: nulls and absent fragments are free."""
        cost = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                cost += self.actual_field(parent, node, value.get((node.alias or node.name).value))
                continue
            fragment = self.fragments[node.name.value] if isinstance(node, FragmentSpreadNode) else node
            on = fragment.type_condition.name.value if fragment.type_condition else parent.name
            cost += self.actual(self.schema.get_type(on), fragment.selection_set, value)
        return cost

    def actual_field(self, parent, node: FieldNode, value) -> int:
        if node.name.value.startswith("__") or value is None:
            return 0
        named = get_named_type(parent.fields[node.name.value].type)
        if is_leaf_type(named):
            return 0
        items = value if isinstance(value, list) else [value]
        if named.name.endswith("Connection") and isinstance(value, dict) and ("nodes" in value or "edges" in value):
            cost = 2
            for part in node.selection_set.selections if node.selection_set else ():
                if isinstance(part, FieldNode) and part.name.value in ("nodes", "edges"):
                    inner = get_named_type(named.fields[part.name.value].type)
                    for item in value.get((part.alias or part.name).value) or []:
                        cost += (1 if part.name.value == "nodes" else 0) + self.actual(inner, part.selection_set, item)
            return cost
        return 1 + max((self.actual(named, node.selection_set, item) for item in items if item), default=0)
