"""RSS and Atom feeds as a listening source: no account, no publishing, only new entries.

The feed is fetched over the ``httpx`` client the caller supplies (through the shared
:func:`dialogo.providers.http.send`, so timeouts and error answers map like every network's)
and parsed by feedparser from the bytes: feedparser never fetches anything itself.

Polling is a conditional GET: the cursor handed back by :meth:`RssProvider.fetch_messages` is
a small JSON object with the feed's ``ETag`` and ``Last-Modified`` and the ids of the entries
already returned, so a ``304 Not Modified`` costs nothing and an entry is returned once even
though a feed repeats its latest entries on every fetch.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import io
import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, ClassVar

import feedparser  # type: ignore[import-untyped]
import httpx

from dialogo.core.clock import Clock, SystemClock
from dialogo.core.i18n import N_
from dialogo.providers import http as shared_http
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    Capabilities,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Draft,
    InboundMessage,
    MediaRules,
    MessageKind,
    MessagePage,
    Provider,
    PublishResult,
    ValidationIssue,
)
from dialogo.providers.errors import Disconnected, InvalidPayload, ProviderError
from dialogo.providers.text import html_to_text

NETWORK = "rss"
#: How many entry ids the cursor remembers (a feed rarely carries more than a few dozen).
MAX_SEEN = 500
#: A feed larger than this is refused rather than parsed.
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
CANNOT_PUBLISH = N_("an RSS or Atom feed is a listening source: nothing can be published to it")
_REDIRECTS = {301, 302, 303, 307, 308}
_GONE = {404, 410}


strip_html = html_to_text  # the name the feed code and its tests use


def _language(value: object) -> str | None:
    """``it-IT`` → ``it``; ``None`` for nothing usable."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _utc(parsed: object) -> dt.datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) as an aware datetime, or ``None``."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _load_cursor(since: str | None) -> dict[str, Any]:
    if not since:
        return {}
    try:
        cursor = json.loads(since)
    except ValueError:
        return {}  # a cursor from an older format: start afresh rather than fail
    return cursor if isinstance(cursor, dict) else {}


def _dump_cursor(etag: str | None, modified: str | None, seen: list[str]) -> str:
    cursor: dict[str, Any] = {"seen": seen[:MAX_SEEN]}
    if etag:
        cursor["etag"] = etag
    if modified:
        cursor["modified"] = modified
    return json.dumps(cursor, separators=(",", ":"), ensure_ascii=False)


def entry_id(entry: Mapping[str, Any]) -> str:
    """The entry's id, else its link, else a digest of its title and dates."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    material = "\x1f".join(
        str(entry.get(key) or "") for key in ("title", "published", "updated", "summary")
    )
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()[:32]


class RssProvider(Provider):
    """One feed, followed by URL (``config["url"]``)."""

    capabilities = Capabilities(
        network=NETWORK,
        display_name="RSS / Atom feed",
        auth=AuthKind.none,
        text_limit=1,  # never used: nothing is published
        media=MediaRules(max_items=0, image_types=frozenset(), video_types=frozenset()),
        replies=False,
        metrics=False,
        search=False,
        publishes=False,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "url",
            "Feed URL",
            kind=ConnectFieldKind.config,
            help="The address of the RSS or Atom feed, e.g. https://example.com/feed.xml.",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self.clock: Clock = clock or SystemClock()

    # -- the feed --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        url = (self.config.get("url") or "").strip()
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
            raise InvalidPayload(
                f"{url or 'an empty address'} is not a feed address: it must start with "
                "http:// or https://",
                issues=["url"],
            )
        return url

    def _get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET the feed, following redirects, with 404/410 meaning the feed is gone."""
        for _ in range(MAX_REDIRECTS + 1):
            request = self.http.build_request("GET", url, headers=headers)
            try:
                response = shared_http.send(self.http, request, network=NETWORK)
            except ProviderError as exc:
                if exc.code in {f"http_{s}" for s in _GONE}:
                    raise Disconnected(
                        f"the feed is gone: {url} answered {exc.code.removeprefix('http_')}",
                        network=NETWORK,
                        url=url,
                    ) from exc
                raise
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                url = urllib.parse.urljoin(url, location)
                continue
            return response
        raise InvalidPayload(
            f"{self.url} redirects more than {MAX_REDIRECTS} times", network=NETWORK
        )

    def _parse(self, response: httpx.Response, url: str) -> Any:
        content = response.content
        if len(content) > MAX_FEED_BYTES:
            raise InvalidPayload(
                f"the feed at {url} is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB",
                network=NETWORK,
            )
        headers = {
            "content-location": str(response.url) if response.url else url,
            "content-type": response.headers.get("content-type", "application/xml"),
        }
        # A stream, never a string: given a string feedparser may open a URL or a file.
        parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
        if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
            raise InvalidPayload(
                f"{url} is not an RSS or Atom feed (is it the address of a web page rather "
                "than of its feed?)",
                network=NETWORK,
                url=url,
            )
        return parsed

    # -- the provider interface ------------------------------------------------------------------

    def verify(self) -> Account:
        url = self.url
        parsed = self._parse(self._get(url, {"Accept": ACCEPT}), url)
        feed = parsed.feed
        title = strip_html(str(feed.get("title") or "")) or url
        link = feed.get("link")
        return Account(
            remote_id=str(feed.get("id") or url),
            handle=title,
            display_name=title,
            url=link if isinstance(link, str) and link else url,
        )

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        return [ValidationIssue("cannot_publish", CANNOT_PUBLISH)]

    def publish(self, draft: Draft) -> PublishResult:
        raise InvalidPayload(CANNOT_PUBLISH, issues=[CANNOT_PUBLISH], network=NETWORK)

    def fetch_messages(self, since: str | None) -> MessagePage:
        url = self.url
        cursor = _load_cursor(since)
        etag = cursor.get("etag") if isinstance(cursor.get("etag"), str) else None
        modified = cursor.get("modified") if isinstance(cursor.get("modified"), str) else None
        raw_seen = cursor.get("seen")
        seen = [s for s in raw_seen if isinstance(s, str)] if isinstance(raw_seen, list) else []
        headers = {"Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        response = self._get(url, headers)
        if response.status_code == 304:
            return MessagePage(messages=[], cursor=_dump_cursor(etag, modified, seen))
        parsed = self._parse(response, url)
        fetched_at = self.clock.now()
        known = set(seen)
        messages: list[InboundMessage] = []
        fresh: list[str] = []
        for entry in parsed.entries:
            remote_id = entry_id(entry)
            if remote_id in known:
                continue
            known.add(remote_id)
            fresh.append(remote_id)
            messages.append(self._message(parsed.feed, entry, remote_id, url, fetched_at))
        new_cursor = _dump_cursor(
            response.headers.get("etag") or None,
            response.headers.get("last-modified") or None,
            fresh + seen,
        )
        return MessagePage(messages=messages, cursor=new_cursor)

    def _message(
        self,
        feed: dict[str, Any],
        entry: dict[str, Any],
        remote_id: str,
        url: str,
        fetched_at: dt.datetime,
    ) -> InboundMessage:
        feed_title = strip_html(str(feed.get("title") or "")) or url
        detail = entry.get("author_detail") or {}
        author_name = strip_html(str(detail.get("name") or entry.get("author") or ""))
        author_ref = str(detail.get("href") or detail.get("email") or "")
        if author_name:
            author = Author(
                remote_id=author_ref or f"{url}#{author_name}",
                handle=author_name,
                display_name=author_name,
            )
        else:
            author = Author(remote_id=str(feed.get("id") or url), handle=feed_title)
        title = strip_html(str(entry.get("title") or ""))
        body_html = str(entry.get("summary") or "")
        if not body_html and entry.get("content"):
            body_html = str(entry["content"][0].get("value") or "")
        body = strip_html(body_html)
        if body == title:  # many feeds repeat the title as the summary
            body = ""
        text = "\n\n".join(part for part in (title, body) if part)
        # dict.get: feedparser's own get() maps a missing ``updated_parsed`` to
        # ``published_parsed`` with a DeprecationWarning.
        created = (
            _utc(dict.get(entry, "published_parsed"))
            or _utc(dict.get(entry, "updated_parsed"))
            or fetched_at
        )
        language = None
        for candidate in (
            entry.get("language"),
            (entry.get("content") or [{}])[0].get("language"),
            (entry.get("summary_detail") or {}).get("language"),
            (entry.get("title_detail") or {}).get("language"),
            feed.get("language"),
        ):
            language = _language(candidate)
            if language:
                break
        link = entry.get("link")
        return InboundMessage(
            remote_id=remote_id,
            kind=MessageKind.post,
            author=author,
            text=text,
            created_at=created,
            conversation_id=remote_id,
            url=link if isinstance(link, str) and link else None,
            language=language,
            raw={
                "feed": url,
                "feed_title": feed_title,
                "title": title,
                "published": str(entry.get("published") or entry.get("updated") or ""),
            },
        )
