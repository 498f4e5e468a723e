"""Errors as RFC 9457 problem-details JSON; no stack trace ever reaches a user."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialogo.core.errors import DomainError, TooManyAttempts

log = logging.getLogger("dialogo.api")
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    *,
    code: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        kind = err.get("type", "value_error")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "json_invalid":
            # The location is a character offset into the body, not a field.
            offset, loc = (loc[1] if len(loc) > 1 else "?"), loc[:1]
            message = f"{message} at character {offset}: the body is not valid JSON"
        errors.append(
            {
                "field": ".".join(p for p in loc if p not in ("body", "query", "path", "header")),
                "location": loc[0] if loc else "body",
                "message": message,
                "type": kind,
            }
        )
    return errors


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    elif exc.status == 401:  # RFC 9110: a 401 says how to authenticate
        headers = {"WWW-Authenticate": 'Bearer realm="dialogo"'}
    extra = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float | bool)}
    return problem(
        exc.status, exc.message, code=exc.code, detail=exc.message, headers=headers, **extra
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    return problem(
        422,
        "The request is not valid",
        code="validation_failed",
        detail="; ".join(f"{e['field'] or e['location']}: {e['message']}" for e in errors),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "authentication_required"}.get(
        exc.status_code, "http_error"
    )
    title = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return problem(exc.status_code, title, code=code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500,
        "Something went wrong on our side",
        code="internal_error",
        detail="The error was logged. Nothing you sent was saved by the failed request.",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
