"""``/api/docs``: the OpenAPI document as a server-rendered page (no script, nothing from another site).

Everything on the page comes from ``build_spec``: operations grouped by tag, their
parameters, bodies and answers, and each schema as a table of fields with their limits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    refs: tuple[str, ...]
    required: bool
    rules: str
    description: str


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref[len(REF_PREFIX):] if isinstance(ref, str) and ref.startswith(REF_PREFIX) else None


def type_of(schema: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A short type for people (``integer``, ``string | null``, ``array of Message``) and the schemas it names."""
    name = _ref_name(schema)
    if name:
        return name, (name,)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_of(s) for s in schema[key]]
            return " | ".join(p[0] for p in parts), tuple(r for p in parts for r in p[1])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"]), ()
    if "const" in schema:
        return json.dumps(schema["const"]), ()
    kind = schema.get("type", "any")
    if kind == "array":
        inner, refs = type_of(schema.get("items", {}))
        return f"array of {inner}", refs
    if isinstance(kind, list):
        kind = " | ".join(kind)
    fmt = schema.get("format")
    return (f"{kind} ({fmt})" if fmt else str(kind)), ()


_RULES = (("minimum", "≥ {}"), ("maximum", "≤ {}"), ("minLength", "at least {} characters"),
          ("maxLength", "at most {} characters"), ("minItems", "at least {} items"),
          ("maxItems", "at most {} items"), ("default", "default {}"))


def rules_of(schema: dict[str, Any]) -> str:
    """Limits and default, e.g. ``≥ 0, ≤ 4`` (looking into nullable and array alternatives)."""
    found: list[str] = []
    for part in [schema, *schema.get("anyOf", ()), schema.get("items") or {}]:
        for key, text in _RULES:
            if key in part:
                value = part[key]
                rendered = text.format(json.dumps(value) if key == "default" else value)
                if rendered not in found:
                    found.append(rendered)
    return ", ".join(found)


def field_rows(schema: dict[str, Any]) -> list[FieldRow]:
    """One row per property of an object schema."""
    required = set(schema.get("required", ()))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        kind, refs = type_of(prop)
        rows.append(FieldRow(name=name, type=kind, refs=refs, required=name in required, rules=rules_of(prop),
                             description=prop.get("description", "")))
    return rows


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def grouped(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Operations by tag, each with ``method``, ``path`` and an ``anchor``, in path order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["api"])[0]
            groups.setdefault(tag, []).append(dict(operation, method=method.upper(), path=path,
                                                   anchor=operation.get("operationId", path)))
    for operations in groups.values():
        operations.sort(key=lambda op: (op["path"], op["method"]))
    return dict(sorted(groups.items(), key=lambda kv: kv[0] != "operator"))


def page_context(spec: dict[str, Any]) -> dict[str, Any]:
    """What ``api_docs.html`` renders."""
    return {"spec": spec, "groups": grouped(spec), "schemas": spec["components"]["schemas"],
            "field_rows": field_rows, "type_of": type_of, "rules_of": rules_of, "pretty": pretty,
            "ref_name": _ref_name}
