"""The OpenAPI document: operation ids are unique, snake_case, explicit and stable.

Client generators turn operation ids into function names, so renaming one breaks every script
built on the API. ``OPERATION_IDS`` is the full list: changing it is a conscious decision.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.api.conftest import Api
from tests.api.test_authorization_matrix import api_operations

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover
    iter_route_contexts = None

OPERATION_IDS = [
    "add_member",
    "approve_post",
    "cancel_post",
    "change_my_password",
    "check_channel",
    "connect_channel",
    "create_campaign",
    "create_post",
    "create_token",
    "create_user",
    "create_workspace",
    "delete_workspace",
    "disconnect_channel",
    "duplicate_post",
    "get_channel",
    "get_me",
    "get_post",
    "get_publishing_settings",
    "get_queue_health",
    "get_workspace",
    "get_workspace_logo",
    "health",
    "list_audit_entries",
    "list_campaigns",
    "list_channels",
    "list_members",
    "list_notifications",
    "list_posts",
    "list_providers",
    "list_tokens",
    "list_workspaces",
    "reject_post",
    "remove_member",
    "resolve_notification",
    "revoke_token",
    "schedule_post",
    "set_workspace_logo",
    "sign_in",
    "sign_out",
    "submit_post",
    "update_me",
    "update_member",
    "update_post",
    "update_publishing_settings",
    "update_workspace",
    "validate_post",
]
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_the_agreed_ones(app: FastAPI) -> None:
    ids = [op["operationId"] for _, _, op in operations(app.openapi())]
    assert len(ids) == len(set(ids)), "duplicate operation ids"
    assert sorted(ids) == OPERATION_IDS
    for operation_id in ids:
        assert SNAKE_CASE.match(operation_id), operation_id


def test_operation_ids_are_explicit(app: FastAPI) -> None:
    """Set on the route, not derived from the Python function name, so a refactor keeps them."""
    documented = set(app.openapi()["paths"])
    routes = iter_route_contexts(app.routes) if iter_route_contexts else app.routes
    checked = 0
    for route in routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and route.path in documented:
            assert original.operation_id, f"{route.path} has no explicit operation_id"
            checked += 1
    assert checked == len(OPERATION_IDS)


def test_the_document_is_stable(app: FastAPI, api: Api) -> None:
    first = api.get("/api/openapi.json")
    assert first.status_code == 200
    assert first.json() == app.openapi()
    assert api.get("/api/openapi.json").content == first.content


def test_every_api_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    documented = {(m.upper(), p) for m, p, _ in operations(spec)}
    undocumented = api_operations(app) - documented
    assert undocumented == {
        ("GET", "/api/openapi.json"),
        ("GET", "/api/docs"),
        ("GET", "/api/docs/oauth2-redirect"),
    }


def test_operations_have_tags_and_a_success_response(app: FastAPI) -> None:
    for method, path, operation in operations(app.openapi()):
        assert operation.get("tags"), (method, path)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)
