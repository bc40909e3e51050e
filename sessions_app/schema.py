"""Hooks that shape the generated OpenAPI schema."""


def only_unversioned_paths(endpoints, **kwargs):
    """Describe each route once.

    /api/v1/ serves exactly the routes of /api/, and every route accepts an
    optional trailing slash; the schema lists the canonical /api/ form only.
    """
    described = []
    for path, path_regex, method, callback in endpoints:
        if path.startswith("/api/v1/"):
            continue
        described.append((path.rstrip("/"), path_regex, method, callback))
    return described


UNAUTHORIZED = {
    "description": "Bad credentials, or a bearer token that is missing, malformed, expired or forged.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


def document_unauthorized(result, **kwargs):
    """Every route can answer 401 (the token routes on bad credentials); DRF's views do not say so."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            operation["responses"].setdefault("401", UNAUTHORIZED)
    return result
