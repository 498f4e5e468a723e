"""Scheduled e-mail reports API: schedules (weekly or monthly, in the workspace's time zone),
their deliveries, and "send now". Reading needs ``analytics.read``; changing a schedule or
sending one needs ``workspace.update`` (owners and admins: the reports leave the workspace by
e-mail). Sending happens in the worker; see :mod:`dialogo.analytics.schedules`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from dialogo.accounts.permissions import Permission
from dialogo.analytics import schedules
from dialogo.analytics.schedules import ReportDeliveryOut, ReportScheduleIn, ReportScheduleOut
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["analytics"])
BASE = "/analytics/report-schedules"


@router.get(
    BASE,
    operation_id="list_report_schedules",
    response_model=list[ReportScheduleOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_report_schedules(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return schedules.list_schedules(session, principal, workspace_id)


@router.post(
    BASE,
    operation_id="create_report_schedule",
    response_model=ReportScheduleOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.workspace_update),
)
def create_report_schedule(
    workspace_id: int, body: ReportScheduleIn, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """Weekly (``weekday``, 0 = Monday) or monthly (``month_day``; 29–31 mean the month's last
    day when it is shorter) at ``local_time`` in the workspace's time zone."""
    return schedules.create_schedule(session, principal, workspace_id, body, now=ctx.clock.now())


@router.get(
    BASE + "/{schedule_id}",
    operation_id="get_report_schedule",
    response_model=ReportScheduleOut,
    openapi_extra=needs(Permission.analytics_read),
)
def get_report_schedule(
    workspace_id: int, schedule_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    return schedules.get_schedule(session, principal, workspace_id, schedule_id)


@router.put(
    BASE + "/{schedule_id}",
    operation_id="update_report_schedule",
    response_model=ReportScheduleOut,
    openapi_extra=needs(Permission.workspace_update),
)
def update_report_schedule(
    workspace_id: int,
    schedule_id: int,
    body: ReportScheduleIn,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
) -> Any:
    return schedules.update_schedule(
        session, principal, workspace_id, schedule_id, body, now=ctx.clock.now()
    )


@router.delete(
    BASE + "/{schedule_id}",
    operation_id="delete_report_schedule",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.workspace_update),
)
def delete_report_schedule(
    workspace_id: int, schedule_id: int, principal: CurrentPrincipal, session: Db
) -> None:
    schedules.delete_schedule(session, principal, workspace_id, schedule_id)


@router.get(
    BASE + "/{schedule_id}/deliveries",
    operation_id="list_report_deliveries",
    response_model=list[ReportDeliveryOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_report_deliveries(
    workspace_id: int, schedule_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """The latest deliveries: ``sent``, ``queued`` (waiting or retrying), ``sending``,
    ``failed`` (after the last attempt) or ``uncertain`` (a worker stopped mid-send)."""
    return schedules.list_deliveries(session, principal, workspace_id, schedule_id)


@router.post(
    BASE + "/{schedule_id}/send",
    operation_id="send_report_now",
    response_model=ReportDeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=needs(Permission.workspace_update),
)
def send_report_now(
    workspace_id: int, schedule_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """Queue a delivery now, outside the schedule; the worker sends it."""
    return schedules.send_now(session, principal, workspace_id, schedule_id, now=ctx.clock.now())
