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
    """Routes behind the token, and the token routes themselves, can answer 401; DRF does not say so."""
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            if operation.get("security") or path.startswith("/api/auth/"):
                operation["responses"].setdefault("401", UNAUTHORIZED)
    return result
