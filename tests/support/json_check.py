#!/usr/bin/env python3
"""Check zalloc's JSON reports against docs/report.schema.json, with Python's json module and a
validator for the part of JSON Schema the schema uses (type, const, enum, properties, required,
additionalProperties, items, oneOf, $ref to #/$defs, minimum, pattern).

  json_check.py SCHEMA FILE [--get PATH]...

FILE holds one JSON document per line (several reports of one process append). Every document
must be valid JSON and match the schema; any error is printed with where it is, and the exit
status is 1. With --get, each document then prints "PATH=VALUE" for each PATH (dots between
keys, numbers index lists: findings.0.kind), VALUE as JSON, "PATH=<missing>" if absent.
"""
import json
import re
import sys

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def check(value, schema, root, where, errors):
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        check(value, root["$defs"][ref[8:]], root, where, errors)
    if "oneOf" in schema:
        matches = 0
        for option in schema["oneOf"]:
            sub = []
            check(value, option, root, where, sub)
            matches += not sub
        if matches != 1:
            errors.append(f"{where}: matches {matches} of the oneOf alternatives: {json.dumps(value)[:200]}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, n) for n in names):
            errors.append(f"{where}: {json.dumps(value)[:100]} is not of type {names}")
            return
    if "minimum" in schema and type_ok(value, "number") and value < schema["minimum"]:
        errors.append(f"{where}: {value} is below {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: no {key!r}")
        for key, item in value.items():
            if key in props:
                check(item, props[key], root, f"{where}.{key}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: {key!r} is not in the schema")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(item, schema["items"], root, f"{where}.{i}", errors)


def get(doc, path):
    for part in path.split("."):
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return "<missing>"
    return json.dumps(doc, sort_keys=True)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    schema_path, file_path, rest = args[0], args[1], args[2:]
    paths = [rest[i + 1] for i in range(len(rest) - 1) if rest[i] == "--get"]
    schema = json.load(open(schema_path))
    lines = [l for l in open(file_path, encoding="utf-8").read().split("\n") if l]
    if not lines:
        sys.exit(f"{file_path}: no JSON document")
    bad = False
    for n, line in enumerate(lines, 1):
        try:
            doc = json.loads(line)
        except ValueError as e:
            print(f"{file_path}:{n}: not JSON: {e}")
            bad = True
            continue
        errors = []
        check(doc, schema, schema, "$", errors)
        for e in errors:
            print(f"{file_path}:{n}: {e}")
        bad |= bool(errors)
        for p in paths:
            print(f"{p}={get(doc, p)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
