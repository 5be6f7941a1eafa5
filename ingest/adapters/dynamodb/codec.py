"""DynamoDB's typed attribute values to plain Python and back, and update expressions. No I/O."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def marshal(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as DynamoDB attribute values (``{"S": ...}``, ``{"N": ...}``...)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in values.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values: numbers as int or float, sets as lists."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: plain(deserializer.deserialize(v)) for k, v in item.items()}


def plain(value: Any) -> Any:
    """``value`` with every Decimal made an int (when whole) or a float, and sets made lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [plain(v) for v in value]
    return value


def update_expression(
    values: dict[str, Any], remove: tuple[str, ...] = ()
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An UpdateExpression setting ``values`` and removing ``remove``, with its names and values.

    Every name is aliased (status, key, table... are reserved words); a value ``v`` of field
    ``f`` is the placeholder ``:f``.
    """
    names = {f"#{k}": k for k in (*values, *remove)}
    placeholders = {f":{k}": v for k, v in values.items()}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
    if remove:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in remove)
    return expression, names, placeholders
