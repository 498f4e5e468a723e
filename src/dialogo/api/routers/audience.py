"""Audience API: profiles, segments (size, save, overlaps), exports, CRM import, GDPR.

The CRM import takes the CSV file as the request body (``Content-Type: text/csv``) and the
column mapping as repeated ``map`` query parameters ``CSV column=field``; a file with bad
lines gets a 422 problem whose ``errors`` list each line, and nothing is imported.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from dialogo.accounts.permissions import Permission
from dialogo.api.deps import CurrentPrincipal, Db
from dialogo.api.problems import problem
from dialogo.api.routers.accounts import needs
from dialogo.audience import receptiveness, service
from dialogo.audience.schemas import (
    ContactProfileOut,
    ExperimentOut,
    ExportIn,
    ExpressionIn,
    ImportOut,
    OverlapOut,
    ProfilePage,
    ReceptivenessOut,
    SegmentIn,
    SegmentOut,
    SizeOut,
)
from dialogo.core.errors import InvalidInput

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/audience", tags=["audience"])


@router.get(
    "/profiles",
    operation_id="list_audience_profiles",
    response_model=ProfilePage,
    openapi_extra=needs(Permission.audience_read),
)
def list_audience_profiles(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    expression: Annotated[str | None, Query(max_length=4000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Contacts with their profiles, filtered by a targeting expression, most engaged first."""
    total, rows = service.list_profiles(
        session, principal, workspace_id, expression=expression, limit=limit, offset=offset
    )
    return {"total": total, "items": [dataclasses.asdict(r) for r in rows]}


@router.post(
    "/size",
    operation_id="get_segment_size",
    response_model=SizeOut,
    openapi_extra=needs(Permission.audience_read),
)
def get_segment_size(
    workspace_id: int, body: ExpressionIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """How many contacts an expression selects; a syntax error is a 422 with its ``column``."""
    size = service.segment_size(session, principal, workspace_id, body.expression)
    return {"expression": body.expression, "size": size}


@router.get(
    "/segments",
    operation_id="list_segments",
    response_model=list[SegmentOut],
    openapi_extra=needs(Permission.audience_read),
)
def list_segments(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return service.list_segments(session, principal, workspace_id)


@router.post(
    "/segments",
    operation_id="create_segment",
    response_model=SegmentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.audience_manage),
)
def create_segment(
    workspace_id: int, body: SegmentIn, principal: CurrentPrincipal, session: Db
) -> Any:
    return service.create_segment(session, principal, workspace_id, body.name, body.expression)


@router.delete(
    "/segments/{segment_id}",
    operation_id="delete_segment",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.audience_manage),
)
def delete_segment(
    workspace_id: int, segment_id: int, principal: CurrentPrincipal, session: Db
) -> Response:
    service.delete_segment(session, principal, workspace_id, segment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/overlaps",
    operation_id="get_segment_overlaps",
    response_model=OverlapOut,
    openapi_extra=needs(Permission.audience_read),
)
def get_segment_overlaps(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ids: Annotated[list[int], Query(min_length=1, max_length=20)],
) -> Any:
    """Sizes of saved segments and how many contacts each pair shares."""
    return dataclasses.asdict(service.overlaps(session, principal, workspace_id, ids))


@router.post(
    "/export",
    operation_id="export_audience",
    response_class=Response,
    openapi_extra={
        **needs(Permission.audience_export),
        "responses": {"200": {"content": {"text/csv": {}}}},
    },
)
def export_audience(
    workspace_id: int, body: ExportIn, principal: CurrentPrincipal, session: Db
) -> Response:
    """A custom-audience CSV in Meta's or Google's format (hashed e-mails and phones)."""
    content, _rows = service.export_audience(
        session, principal, workspace_id, body.expression, body.format
    )
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audience-{body.format}.csv"'},
    )


@router.post(
    "/import",
    operation_id="import_audience",
    response_model=ImportOut,
    openapi_extra=needs(Permission.audience_manage),
)
async def import_audience(
    workspace_id: int,
    request: Request,
    principal: CurrentPrincipal,
    session: Db,
    map: Annotated[list[str], Query(min_length=1, max_length=100)],
) -> Any:
    """CRM contacts from a CSV body; ``map=CSV column=field`` for each column to import."""
    mapping: dict[str, str] = {}
    for item in map:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip():
            raise InvalidInput(f"map {item!r} is not 'CSV column=field'", field="map")
        mapping[column.strip()] = field.strip()
    raw = await request.body()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    try:
        result = service.import_csv(session, principal, workspace_id, content, mapping)
    except InvalidInput as exc:
        if "errors" in exc.details:
            return _rows_problem(exc)
        raise
    return {"created": result.created, "updated": result.updated}


def _rows_problem(exc: InvalidInput) -> JSONResponse:
    return problem(
        exc.status, exc.message, code=exc.code, detail=exc.message, errors=exc.details["errors"]
    )


@router.get(
    "/contacts/{contact_id}/export",
    operation_id="export_contact_data",
    openapi_extra=needs(Permission.audience_export),
)
def export_contact_data(
    workspace_id: int, contact_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """Everything held about one person (GDPR access and portability). Audited."""
    return service.export_person(session, principal, workspace_id, contact_id)


@router.delete(
    "/contacts/{contact_id}",
    operation_id="erase_contact",
    openapi_extra=needs(Permission.workspace_update),
)
def erase_contact(
    workspace_id: int, contact_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """Erase one person everywhere (GDPR erasure): messages, identities, profile. Audited."""
    return service.erase_person(session, principal, workspace_id, contact_id)


@router.get(
    "/contacts/{contact_id}/profile",
    operation_id="get_contact_profile",
    response_model=ContactProfileOut,
    openapi_extra=needs(Permission.audience_read),
)
def get_contact_profile(
    workspace_id: int, contact_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """One contact's profile with every interest: its source, score, and for interests
    inferred from engagement the confidence and the evidence behind it."""
    contact, profile, interests = service.get_profile(session, principal, workspace_id, contact_id)
    return {
        "contact_id": contact.id,
        "display_name": contact.display_name,
        **{
            k: getattr(profile, k) if profile else None
            for k in ("age_band", "sex", "place", "region", "country", "source", "last_engaged_at")
        },
        "engagement_count": profile.engagement_count if profile else 0,
        "interests": [
            {
                "interest": i.interest,
                "score": i.score,
                "source": i.source,
                "confidence": i.confidence,
                "evidence": i.evidence,
            }
            for i in interests
        ],
    }


@router.get(
    "/experiments",
    operation_id="list_experiments",
    response_model=list[ExperimentOut],
    openapi_extra=needs(Permission.audience_read),
)
def list_experiments(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """Past campaigns with a control group (imported or simulated in the sandbox)."""
    return receptiveness.list_experiments(session, principal, workspace_id)


@router.post(
    "/experiments/import",
    operation_id="import_experiment",
    response_model=ExperimentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.audience_manage),
)
async def import_experiment(
    workspace_id: int,
    request: Request,
    principal: CurrentPrincipal,
    session: Db,
    name: Annotated[str, Query(min_length=1, max_length=120)],
    topic: Annotated[str | None, Query(max_length=80)] = None,
) -> Any:
    """A past campaign from a CSV body (``contact_id``/``email``/``external_id``,
    ``treated``, ``responded``); bad lines give a 422 listing each, and nothing is stored."""
    try:
        content = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    try:
        return receptiveness.import_experiment_csv(
            session, principal, workspace_id, name, content, topic=topic
        )
    except InvalidInput as exc:
        if "errors" in exc.details:
            return _rows_problem(exc)
        raise


@router.delete(
    "/experiments/{experiment_id}",
    operation_id="delete_experiment",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.audience_manage),
)
def delete_experiment(
    workspace_id: int, experiment_id: int, principal: CurrentPrincipal, session: Db
) -> Response:
    receptiveness.delete_experiment(session, principal, workspace_id, experiment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/experiments/{experiment_id}/receptiveness",
    operation_id="get_receptive_segments",
    response_model=ReceptivenessOut,
    openapi_extra=needs(Permission.audience_read),
)
def get_receptive_segments(
    workspace_id: int,
    experiment_id: int,
    principal: CurrentPrincipal,
    session: Db,
    model: str = "two_model",
) -> Any:
    """Segments ranked by expected incremental response (uplift model fitted on the
    experiment), with the model's out-of-fold Qini coefficient and AUUC."""
    result = receptiveness.rank_segments(
        session, principal, workspace_id, experiment_id, model=model
    )
    return dataclasses.asdict(result)
