"""Checks answers of the real server against its own OpenAPI document: the route and method are
documented, the status is one the operation lists, and a JSON body validates against the schema
given for that status and content type."""
import copy
import json
import re

import jsonschema


def _resolve(node, root):
    if isinstance(node, dict):
        if "$ref" in node and len(node) == 1:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(copy.deepcopy(target), root)
        return {k: _resolve(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root) for v in node]
    return node


class OpenApi:
    def __init__(self, document):
        self.doc = _resolve(document, document)
        self._routes = []
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self._routes.append((re.compile(pattern), template, item))
        self.seen = set()  # (template, method, status) checked so far

    def operation(self, method, path):
        path = path.split("?", 1)[0]
        for pattern, template, item in self._routes:
            if pattern.match(path):
                op = item.get(method.lower())
                if op is None:
                    raise AssertionError(f"{method} {template} is not documented")
                return template, op
        raise AssertionError(f"no documented path matches {path}")

    def check(self, method, path, status, headers, body):
        template, op = self.operation(method, path)
        responses = op["responses"]
        if str(status) not in responses:
            raise AssertionError(f"{method} {template} answered {status}, which the document does "
                                 f"not list ({sorted(responses)}); body: {body[:300]!r}")
        response = responses[str(status)]
        self.seen.add((template, method.lower(), status))
        content = response.get("content")
        if not content:
            if body:
                raise AssertionError(f"{method} {template} {status} should have no body: {body[:200]!r}")
            return
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in content:
            raise AssertionError(f"{method} {template} {status}: content type {ctype!r} not in "
                                 f"{sorted(content)}")
        schema = content[ctype].get("schema")
        if schema is not None and ctype.endswith("json"):
            try:
                jsonschema.validate(json.loads(body), schema,
                                    cls=jsonschema.Draft202012Validator)
            except jsonschema.ValidationError as e:
                raise AssertionError(f"{method} {template} {status}: body does not match the "
                                     f"document: {e.message} at {list(e.absolute_path)}") from None
