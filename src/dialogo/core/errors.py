"""Domain errors: a stable machine code and a human message.

Adapters map them: the API to problem-details JSON with an HTTP status, the CLI to a message
and a non-zero exit code, the worker to a retry or a failure. Nothing is swallowed.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code: str = "error"
    status: int = 400  # a hint for HTTP adapters; domains never import HTTP libraries

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class AuthenticationFailed(DomainError):
    code = "authentication_failed"
    status = 401


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after
