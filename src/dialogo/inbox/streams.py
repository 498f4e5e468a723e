"""Streams: where a network pushes news (Matrix's long-polling ``/sync``), the inbox hears of a
new message within seconds instead of at the next poll.

Design: **a stream only wakes the poller.** A stream event stores nothing itself; it enqueues
the channel's ingest job now (:func:`dialogo.inbox.tasks.enqueue_wakeup`), and that job polls
from the stored cursor exactly as the periodic tick's job does. Hence:

- the polling cursor stays the only source of truth: a stream that drops, lags or is turned
  off loses nothing (the next poll, at the latest the periodic one, fetches it);
- a message the stream saw and the poll fetched is stored once, through the one ingest path
  (``check()``, quarantine, ``ON CONFLICT DO NOTHING`` on the remote id), with no second parser
  of each network's stream payloads to keep in step with the poller's;
- wake-ups coalesce: while a woken (or periodic) ingest job of the channel waits in the queue,
  another wake-up adds nothing. The price is one ``fetch_messages`` round trip per wake-up.

:class:`StreamRunner` runs the streams of a worker process: a supervisor thread re-reads the
channel list every ``streams_refresh_seconds`` (new channels start streaming, removed, flagged
or rate-limited ones stop, changed credentials restart their stream) and one thread per
streaming channel, at most ``streams_max``. A stream that fails is restarted with exponential
backoff (and its restart wakes the poller, which fetches whatever came while it was down). No
database session is held while a stream waits on the network: the supervisor reads the
channels (and decrypts their credentials) in a short session, and each wake-up is one short
transaction. ``stop()`` ends every stream within about a tenth of a second (providers abandon
their long poll when asked).

Networks: Matrix (a long-polling ``/sync``,
:meth:`dialogo.providers.matrix.provider.MatrixProvider.watch`) and Mastodon (the streaming
API's notification stream, :meth:`dialogo.providers.mastodon.provider.MastodonProvider.watch`).
Bluesky has no per-account notification stream: its firehose and Jetstream carry the whole
network's commits, far too much to filter for one inbox, so Bluesky stays polled. The networks
with signed webhooks (WhatsApp, Meta, X) push already; the rest have no stream for an account.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.clock import Clock, SystemClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.inbox import poll, tasks
from dialogo.providers.base import Credentials, Provider
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    ProviderError,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.registry import ProviderRegistry

log = logging.getLogger("dialogo.inbox.streams")

#: A stream that stayed up this long is healthy again: its next failure starts the backoff over.
HEALTHY_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class StreamTarget:
    """What one stream needs, read in a short session and then held without one."""

    channel_id: int
    workspace_id: int
    network: str
    credentials: Credentials = dataclasses.field(repr=False)
    config: dict[str, str]
    #: Changes when the credentials or the configuration change (the stream restarts).
    fingerprint: str


def streaming_channels(
    session: Session,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
) -> list[StreamTarget]:
    """The channels to stream: those the poller polls (working, not paused by a rate limit)
    whose network streams. A channel whose credentials cannot be decrypted is left to the
    poller, which reports it."""
    targets = []
    for channel in poll.channels_to_poll(session, now=now):
        if channel.network not in registry:
            continue
        if not registry.get(channel.network).capabilities.streams:
            continue
        try:
            credentials = cipher.decrypt(channel.credentials)
        except Exception:  # the poll reports it; the stream just skips the channel
            log.warning("channel %s: credentials unreadable; not streamed", channel.id)
            continue
        config = {k: str(v) for k, v in (channel.config or {}).items()}
        digest = hashlib.sha256(
            json.dumps([channel.credentials, config], sort_keys=True).encode()
        ).hexdigest()
        targets.append(
            StreamTarget(
                channel.id, channel.workspace_id, channel.network, credentials, config, digest
            )
        )
    return targets


@dataclasses.dataclass
class StreamState:
    """One running stream, as the runner sees it (read by tests and logs)."""

    target: StreamTarget
    stop: threading.Event
    thread: threading.Thread | None = None
    wakeups: int = 0
    restarts: int = 0
    last_error: str | None = None


class StreamRunner:
    """The streams of one worker process; see the module's docstring.

    Run it in exactly one process per deployment (``dialogo serve``'s in-process worker, or one
    ``dialogo worker --streams``): a second runner would only duplicate connections, since
    wake-ups coalesce in the queue."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        providers: Callable[[Settings], ProviderRegistry] | None = None,
        clock: Clock | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
    ) -> None:
        if providers is None:
            from dialogo.publishing.tasks import installed_providers

            providers = installed_providers
        self.settings = settings
        self.factory = session_factory
        self.registry = providers(settings)
        self.cipher = CredentialCipher.from_settings(settings)
        self.clock = clock or SystemClock()
        self.max_streams = settings.streams_max
        self.refresh_seconds = settings.streams_refresh_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._stop = threading.Event()
        self._refresh_now = threading.Event()
        self._lock = threading.Lock()
        self._streams: dict[int, StreamState] = {}
        self._retired: list[StreamState] = []
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._supervise, name="dialogo-streams", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        """Ask every stream to end (returns at once; ``join`` waits)."""
        self._stop.set()
        self._refresh_now.set()

    def join(self, timeout: float) -> bool:
        """Wait for the supervisor and its streams to end; whether they did in ``timeout``."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def refresh(self) -> None:
        """Re-read the channels now rather than at the next period (tests, admin actions)."""
        self._refresh_now.set()

    def streams(self) -> dict[int, StreamState]:
        with self._lock:
            return dict(self._streams)

    # -- supervisor -----------------------------------------------------------------------------

    def _supervise(self) -> None:
        log.info("streams started (at most %d)", self.max_streams)
        try:
            while not self._stop.is_set():
                try:
                    self._reconcile()
                except Exception:
                    log.exception("reading the channels to stream failed; retrying")
                self._refresh_now.wait(self.refresh_seconds)
                self._refresh_now.clear()
        finally:
            with self._lock:
                states = [*self._streams.values(), *self._retired]
                self._streams.clear()
                self._retired.clear()
            for state in states:
                state.stop.set()
            deadline = time.monotonic() + 10.0
            for state in states:
                if state.thread is not None:
                    state.thread.join(max(0.0, deadline - time.monotonic()))
            log.info("streams stopped")

    def _reconcile(self) -> None:
        with transaction(self.factory) as session:  # short: no network call inside
            targets = streaming_channels(
                session, registry=self.registry, cipher=self.cipher, now=self.clock.now()
            )
        if len(targets) > self.max_streams:
            log.warning(
                "%d channels could stream; the first %d do (DIALOGO_STREAMS_MAX), "
                "the others are polled only",
                len(targets),
                self.max_streams,
            )
        wanted = {t.channel_id: t for t in targets[: self.max_streams]}
        with self._lock:
            for channel_id, state in list(self._streams.items()):
                target = wanted.get(channel_id)
                alive = state.thread is not None and state.thread.is_alive()
                if target is None or target.fingerprint != state.target.fingerprint or not alive:
                    state.stop.set()
                    self._retired.append(self._streams.pop(channel_id))
            self._retired = [
                s for s in self._retired if s.thread is not None and s.thread.is_alive()
            ]
            for channel_id, target in wanted.items():
                if channel_id in self._streams or self._stop.is_set():
                    continue
                state = StreamState(target, threading.Event())
                state.thread = threading.Thread(
                    target=self._run_stream,
                    args=(state,),
                    name=f"dialogo-stream-{channel_id}",
                    daemon=True,
                )
                self._streams[channel_id] = state
                state.thread.start()

    # -- one stream ----------------------------------------------------------------------------

    def _open(self, target: StreamTarget) -> Provider:
        self.registry.check_config(target.config, target.credentials.extra)
        provider_cls = self.registry.get(target.network)
        http = self.registry.http_client()
        return provider_cls(target.credentials, http=http, config=target.config)

    def _run_stream(self, state: StreamState) -> None:
        target = state.target
        failures = 0
        while not state.stop.is_set():
            started = time.monotonic()
            delay: float
            try:
                provider = self._open(target)
                try:
                    for _ in provider.watch(state.stop):
                        if state.stop.is_set():
                            break
                        self._wake(state)
                finally:
                    provider.close()
                if state.stop.is_set():
                    break
                state.last_error = "the network ended the stream"
                delay = 0.0
            except (ReauthRequired, InsufficientScopes, Disconnected) as exc:
                # The poll meets the same refusal and flags the channel; the next refresh then
                # drops this stream. Until then, wait long rather than knock again.
                state.last_error = exc.message
                log.warning("stream of channel %s refused: %s", target.channel_id, exc.message)
                self._safe_wake(state)
                delay = self.backoff_cap
            except RateLimited as exc:
                state.last_error = exc.message
                delay = max(float(exc.retry_after), self.backoff_base)
            except ProviderError as exc:
                state.last_error = exc.message
                log.info("stream of channel %s failed: %s", target.channel_id, exc.message)
                delay = 0.0
            except Exception as exc:
                state.last_error = repr(exc)
                log.exception("stream of channel %s failed", target.channel_id)
                delay = 0.0
            if state.stop.is_set():
                break
            if time.monotonic() - started >= HEALTHY_SECONDS:
                failures = 0
            failures += 1
            state.restarts += 1
            if not delay:
                delay = min(self.backoff_cap, self.backoff_base * 2 ** min(failures - 1, 20))
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not secrecy
            state.stop.wait(delay)

    def _wake(self, state: StreamState) -> None:
        target = state.target
        with transaction(self.factory) as session:
            job_id = tasks.enqueue_wakeup(
                session, target.channel_id, target.workspace_id, now=self.clock.now()
            )
        state.wakeups += 1
        log.debug("stream of channel %s: poll now (job %s)", target.channel_id, job_id)

    def _safe_wake(self, state: StreamState) -> None:
        try:
            self._wake(state)
        except Exception:
            log.exception("could not wake the poller of channel %s", state.target.channel_id)


def start_streams(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    clock: Clock | None = None,
) -> StreamRunner:
    """Start the streams of this process (``DIALOGO_STREAMS``); stop with ``stop``/``join``."""
    runner = StreamRunner(settings, session_factory, clock=clock)
    runner.start()
    return runner


__all__ = ["StreamRunner", "StreamState", "StreamTarget", "start_streams", "streaming_channels"]
