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
- The check is made again as late as httpx allows: at the moment the request's first byte is
  about to be written on the connection (httpcore's ``trace`` extension,
  ``send_request_headers.started``), after any wait for a pooled connection and after
  connecting, and each phase's timeout (write, read) is capped again at the time left then.
  Between that check and the first byte there is only httpcore's own code (no I/O, no lock):
  a request can reach the network after its deadline only if its process is frozen right
  there (descheduled, stopped, swapped out). The dispatcher's takeover waits
  :data:`dialogo.publishing.dispatcher.TAKEOVER_FENCE` leases more before asking the network,
  so that freeze must last longer than a third of the lease plus that fence to double a
  post (the guarantee is stated there).
- Providers that do not speak HTTP through httpx (the fakes of tests and benchmarks) read
  :func:`remaining` themselves, or call :func:`refuse_if_passed` just before the post is
  made (the same last check).

A context variable, so it follows the call into the provider's code without a parameter on
every provider method, and stays with the thread (or task) that set it.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

import httpx

from dialogo.providers.errors import TransientError

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


#: What a request refused by its deadline says (nothing of it was sent).
NOT_SENT = "not sent: the request's deadline (its post's lease) had passed"
#: The read timeout given to an answer awaited once the deadline has passed (the request left
#: in time): the answer is as good as lost, reconciled later by asking the network.
_LATE_READ = 0.01
# httpcore's trace events (``<module>.<phase>.started``) at which the deadline is checked
# again: the first byte of the request (HTTP/1.1 or HTTP/2) ...
_FIRST_BYTE = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)
# ... and the later phases, whose timeouts are capped again at the time left.
_LATER = {
    "http11.send_request_body.started": "write",
    "http2.send_request_body.started": "write",
    "http11.receive_response_headers.started": "read",
    "http2.receive_response_headers.started": "read",
}


def refuse_if_passed(what: str = "the request") -> None:
    """The last check before a request leaves, for providers without httpx (fakes): raise a
    transient error (nothing was sent) once the current deadline has passed."""
    left = remaining()
    if left is not None and left <= 0:
        raise TransientError(f"{what}: {NOT_SENT}")


def _capped(timeouts: dict[str, Any], left: float, phases: tuple[str, ...]) -> dict[str, Any]:
    return {
        **timeouts,
        **{
            phase: left if timeouts.get(phase) is None else min(float(timeouts[phase]), left)
            for phase in phases
        },
    }


def apply(request: httpx.Request) -> None:
    """An httpx request hook: no request starts after the deadline, none waits beyond it.

    Checked here (the request is built) and again just before its first byte is written
    (after the connection pool and the connect), see the module's docstring."""
    deadline = _deadline.get()
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.ConnectTimeout(NOT_SENT, request=request)
    request.extensions["timeout"] = _capped(
        dict(request.extensions.get("timeout") or {}), left, _PHASES
    )
    chained = request.extensions.get("trace")
    if isinstance(chained, _Trace):  # the same request sent again: the new deadline only
        chained = chained.chained
    request.extensions["trace"] = _Trace(request, deadline, chained)


class _Trace:
    """httpcore's ``trace`` extension for one request: the deadline's last check, just before
    the request's first byte, and each later phase's timeout capped at the time left."""

    def __init__(self, request: httpx.Request, deadline: float, chained: Any) -> None:
        self.request, self.deadline, self.chained = request, deadline, chained

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if self.chained is not None:
            self.chained(event, info)
        if event not in _FIRST_BYTE and event not in _LATER:
            return
        late = self.deadline - time.monotonic()
        if event in _FIRST_BYTE:
            if late <= 0:  # nothing of this request was written: it did not leave
                raise httpx.ConnectTimeout(NOT_SENT, request=self.request)
            phases: tuple[str, ...] = ("write", "read")
        else:
            phases = (_LATER[event],)
        # httpcore reads each phase's timeout from this dict when the phase starts.
        extensions = self.request.extensions
        extensions["timeout"] = _capped(
            dict(extensions.get("timeout") or {}), max(late, _LATE_READ), phases
        )


def enforce(client: httpx.Client) -> httpx.Client:
    """Install :func:`apply` on ``client`` (once); returns the client."""
    hooks = client.event_hooks
    if apply not in hooks.get("request", []):
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), apply]}
    return client
