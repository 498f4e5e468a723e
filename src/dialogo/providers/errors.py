"""The errors every provider raises, so the dispatcher, the inbox and the channel health
logic can react to them the same way whatever the network.

Providers never sleep or retry on their own: they raise, and the caller decides.
"""

from __future__ import annotations

from typing import Any

from dialogo.core.errors import DomainError


class ProviderError(DomainError):
    code = "provider_error"
    status = 502
    #: Whether trying the same call again later can succeed.
    transient = False


class ReauthRequired(ProviderError):
    """The network refused the credentials (HTTP 401, revoked or expired token)."""

    code = "reauth_required"


class InsufficientScopes(ProviderError):
    """The token is valid but lacks a permission the call needs (HTTP 403 on scopes)."""

    code = "insufficient_scopes"

    def __init__(self, message: str, *, missing: list[str] | None = None, **details: Any) -> None:
        super().__init__(message, missing=missing or [], **details)
        self.missing = missing or []


class Disconnected(ProviderError):
    """The account is gone for good (deleted, suspended, app removed)."""

    code = "disconnected"


class InvalidPayload(ProviderError):
    """The network would reject (or did reject) the content itself; retrying cannot help."""

    code = "invalid_payload"
    status = 422

    def __init__(self, message: str, *, issues: list[str] | None = None, **details: Any) -> None:
        super().__init__(message, issues=issues or [], **details)
        self.issues = issues or []


class RateLimited(ProviderError):
    """HTTP 429 (or a network's own rate-limit answer): wait ``retry_after`` seconds."""

    code = "rate_limited"
    status = 429
    transient = True

    def __init__(
        self, message: str, *, retry_after: float, scope: str = "account", **details: Any
    ) -> None:
        super().__init__(message, retry_after=retry_after, scope=scope, **details)
        self.retry_after = retry_after
        self.scope = scope


class TransientError(ProviderError):
    """A 5xx answer or a connection that failed before the request left: safe to retry."""

    code = "transient"
    transient = True


class OutcomeUnknown(TransientError):
    """The request left but no answer came (a timeout while reading): the post may or may not
    exist. Never retry blindly; reconcile by asking the network first."""

    code = "outcome_unknown"
