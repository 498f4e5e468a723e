"""A deadline for every request a provider call makes: the dispatcher's lease, enforced.

The dispatcher leases a variant while it publishes it; when the lease runs out another worker
may take the variant over (it asks the network first, then publishes). A request still out
at that moment could land *after* that check: the post would be published twice. So the
dispatcher runs each provider call inside :func:`request_deadline` (the lease's end minus a
margin) and every request made under it is bounded by it:

- HTTP clients given :func:`enforce` (the dispatcher's own, and the outbound-policy client)
  refuse to start a request once the deadline has passed (``httpx.ConnectTimeout``: nothing
  left, a plain transient error for the providers) and cap each of the request's timeouts
  (connect, write, read, pool) at the time left. httpx has no total timeout: a server
  trickling its answer a byte at a time just inside the read timeout could still outlast it;
  every other request ends by the deadline, or its answer is treated as lost (a read timeout
  is ``OutcomeUnknown``, reconciled by asking the network before anything is sent again).
- Providers that do not speak HTTP through httpx (the fakes of tests and benchmarks) read
  :func:`remaining` themselves.

A context variable, so it follows the call into the provider's code without a parameter on
every provider method, and stays with the thread (or task) that set it.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

import httpx

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "dialogo_request_deadline", default=None
)
_PHASES = ("connect", "read", "write", "pool")


@contextlib.contextmanager
def request_deadline(deadline: float | None) -> Iterator[None]:
    """Requests made inside must be over by ``deadline`` (``time.monotonic()``); ``None``: no
    deadline."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def current() -> float | None:
    """The deadline requests are under now (``time.monotonic()``), ``None`` when none."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left before the current deadline (negative once passed); ``None``: none set."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def apply(request: httpx.Request) -> None:
    """An httpx request hook: no request starts after the deadline, none waits beyond it."""
    left = remaining()
    if left is None:
        return
    if left <= 0:
        raise httpx.ConnectTimeout(
            "not sent: the request's deadline (its post's lease) had passed", request=request
        )
    timeouts = dict(request.extensions.get("timeout") or {})
    request.extensions["timeout"] = {
        phase: left if timeouts.get(phase) is None else min(float(timeouts[phase]), left)
        for phase in _PHASES
    }


def enforce(client: httpx.Client) -> httpx.Client:
    """Install :func:`apply` on ``client`` (once); returns the client."""
    hooks = client.event_hooks
    if apply not in hooks.get("request", []):
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), apply]}
    return client
