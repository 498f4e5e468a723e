"""Reading submitted forms: every value as a string, files apart."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile


async def read_form(request: Request) -> FormData:
    """The submitted form (parsed once per request; ``check_csrf`` may have read it already)."""
    return await request.form()


def text(form: FormData, name: str, *, strip: bool = True) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str)]


def upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None
