"""A small, deterministic JSON value that satisfies a JSON schema, for structured-output requests.

It covers what SDK helpers generate from pydantic models (objects, arrays, scalars, enums, const,
``$ref``/``$defs``, ``anyOf``/``oneOf``/``allOf``, nullable types); anything else becomes ``None``.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_DEPTH = 12


def example_for(schema: Any, text: str = "mock") -> Any:
    """Return a value valid against ``schema``; strings take ``text`` so content stays recognisable."""
    root = schema if isinstance(schema, dict) else {}
    return _example(root, root, text, 0)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}


def _example(node: dict[str, Any], root: dict[str, Any], text: str, depth: int) -> Any:
    node = _resolve(node, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in node or "default" in node:
        return node.get("const", node.get("default"))
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in node.get(key, []) if isinstance(o, dict)]
        if options:
            # Prefer a non-null branch so the caller gets a real value.
            chosen = next((o for o in options if _resolve(o, root).get("type") != "null"), options[0])
            return _example(chosen, root, text, depth + 1)
    if isinstance(node.get("allOf"), list) and node["allOf"]:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            if isinstance(part, dict):
                merged.update(_resolve(part, root))
        return _example(merged, root, text, depth + 1)
    return _by_type(node, root, text, depth)


def _by_type(node: dict[str, Any], root: dict[str, Any], text: str, depth: int) -> Any:
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in node:
        kind = "object"
    if kind == "object":
        properties = node.get("properties", {})
        return {
            name: _example(sub if isinstance(sub, dict) else {}, root, text, depth + 1)
            for name, sub in properties.items()
        }
    if kind == "array":
        items = node.get("items", {})
        count = max(1, int(node.get("minItems", 1)))
        item = items if isinstance(items, dict) else {}
        return [_example(item, root, text, depth + 1) for _ in range(count)]
    scalars: dict[str, Any] = {"string": text, "integer": 1, "number": 1.0, "boolean": True, "null": None}
    if isinstance(kind, str) and kind in scalars:
        if kind in ("integer", "number") and "minimum" in node:
            return node["minimum"]
        return scalars[kind]
    return None


def json_schema_of(output_format: Any) -> Any:
    """The schema a structured-output format asks for: ``{}`` for plain JSON mode, None for text.

    Accepts OpenAI chat's ``response_format``, the Responses API's ``text.format`` and Anthropic's
    ``output_config.format`` / ``output_format``.
    """
    if not isinstance(output_format, dict):
        return None
    if output_format.get("type") == "json_schema":
        spec = output_format.get("json_schema", output_format)
        return spec.get("schema", {}) if isinstance(spec, dict) else {}
    if output_format.get("type") == "json_object":
        return {}
    return None


def structured_text(text: str, schema: Any) -> str:
    """``text`` itself unless JSON is requested and ``text`` is not JSON; then a value fitting ``schema``."""
    if schema is None:
        return text
    try:
        json.loads(text)
    except ValueError:
        value = example_for(schema, text) if schema else {"text": text}
        return json.dumps(value, separators=(",", ":"))
    return text
