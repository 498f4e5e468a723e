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
    "add_conversation_note",
    "add_conversation_tag",
    "add_listening_alert_target",
    "add_member",
    "answer_ugc_request",
    "approve_post",
    "assign_ab_test_arm",
    "assign_conversation",
    "cancel_post",
    "change_my_password",
    "check_channel",
    "connect_channel",
    "correct_mention_label",
    "create_ab_test",
    "create_campaign",
    "create_conversion",
    "create_inbox_rule",
    "create_link",
    "create_listening_query",
    "create_post",
    "create_recurring_post",
    "create_reply",
    "create_report_schedule",
    "create_saved_reply",
    "create_segment",
    "create_spend",
    "create_token",
    "create_ugc_request",
    "create_user",
    "create_webhook",
    "create_workspace",
    "delete_experiment",
    "delete_inbox_rule",
    "delete_listening_query",
    "delete_report_schedule",
    "delete_segment",
    "delete_webhook",
    "delete_workspace",
    "disconnect_channel",
    "duplicate_post",
    "erase_contact",
    "export_analytics_csv",
    "export_analytics_xlsx",
    "export_audience",
    "export_contact_data",
    "get_ab_test",
    "get_analytics_dashboard",
    "get_attribution",
    "get_best_time",
    "get_channel",
    "get_competitor_benchmark",
    "get_contact_history",
    "get_contact_profile",
    "get_conversation",
    "get_conversion_webhook_secret",
    "get_inbox_settings",
    "get_inbox_stats",
    "get_influence_graph",
    "get_listening_crisis",
    "get_listening_topics",
    "get_me",
    "get_post",
    "get_publishing_health",
    "get_publishing_settings",
    "get_queue_health",
    "get_receptive_segments",
    "get_report_schedule",
    "get_reputation",
    "get_roi",
    "get_segment_overlaps",
    "get_segment_size",
    "get_whatif_options",
    "get_workspace",
    "get_workspace_logo",
    "health",
    "import_audience",
    "import_conversions",
    "import_experiment",
    "import_mentions",
    "import_posts",
    "import_spend",
    "ingest_listening_channels",
    "intake_mentions",
    "list_ab_tests",
    "list_audience_profiles",
    "list_audit_entries",
    "list_campaigns",
    "list_channels",
    "list_conversations",
    "list_conversions",
    "list_experiments",
    "list_inbox_quarantine",
    "list_inbox_rules",
    "list_influencers",
    "list_label_requests",
    "list_links",
    "list_listening_alerts",
    "list_listening_queries",
    "list_media",
    "list_members",
    "list_mentionable_members",
    "list_mentions",
    "list_notifications",
    "list_posts",
    "list_providers",
    "list_queue_slots",
    "list_recurring_post_occurrences",
    "list_recurring_posts",
    "list_report_deliveries",
    "list_report_schedules",
    "list_saved_replies",
    "list_segments",
    "list_spend",
    "list_tokens",
    "list_ugc_candidates",
    "list_ugc_requests",
    "list_webhook_deliveries",
    "list_webhooks",
    "list_workspaces",
    "next_queue_slot",
    "predict_engagement_by_segment",
    "queue_post",
    "rank_drafts_by_engagement",
    "rank_engagement_placements",
    "rebuild_influence_graph",
    "receive_conversion_webhook",
    "reject_post",
    "remove_conversation_tag",
    "remove_member",
    "replace_queue_slots",
    "resolve_notification",
    "revoke_token",
    "rotate_conversion_webhook_secret",
    "run_whatif",
    "schedule_post",
    "select_advocates",
    "send_report_now",
    "set_ab_test_counts",
    "set_conversation_status",
    "set_workspace_logo",
    "sign_in",
    "sign_out",
    "stop_ab_test",
    "stop_recurring_post",
    "submit_post",
    "update_channel_settings",
    "update_inbox_rule",
    "update_inbox_settings",
    "update_listening_query",
    "update_me",
    "update_media_alt_text",
    "update_member",
    "update_post",
    "update_publishing_settings",
    "update_report_schedule",
    "update_workspace",
    "upload_media",
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
