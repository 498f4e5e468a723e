"""A scripted XRPC server on ``httpx.MockTransport`` for the Bluesky provider's unit tests:
it answers the calls the provider makes the way a PDS does, and records them."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from dialogo.providers.base import Credentials
from dialogo.providers.bluesky.provider import BlueskyProvider

SERVICE = "https://pds.example"
DID = "did:plc:alice"
HANDLE = "alice.test"
Handler = Callable[[httpx.Request], httpx.Response]


def jwt(exp: dt.datetime, sub: str = DID, kind: str = "access") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"sub": sub, "exp": int(exp.timestamp()), "scope": "com.atproto.appPass", "k": kind}
    return f"{part({'alg': 'HS256', 'typ': 'at+jwt'})}.{part(claims)}.c2ln"


def xrpc_error(status: int, error: str, message: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message}, headers=headers)


def session_body(*, hours: float = 2, refresh: str = "refresh-1") -> dict[str, Any]:
    exp = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return {
        "did": DID,
        "handle": HANDLE,
        "accessJwt": jwt(exp),
        "refreshJwt": refresh,
        "active": True,
    }


def post_view(uri: str, *, likes: int = 0, replies: int = 0, reposts: int = 0, quotes: int = 0):  # type: ignore[no-untyped-def]
    return {
        "uri": uri,
        "cid": "bafy-" + uri.rsplit("/", 1)[-1],
        "author": {"did": DID, "handle": HANDLE},
        "record": {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2026-11-23T10:00:00Z"},
        "indexedAt": "2026-11-23T10:00:00.000Z",
        "likeCount": likes,
        "replyCount": replies,
        "repostCount": reposts,
        "quoteCount": quotes,
    }


@dataclasses.dataclass
class Call:
    nsid: str
    method: str
    headers: httpx.Headers
    params: httpx.QueryParams
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakePds:
    """Routes by NSID; unknown methods answer 501 like a PDS. ``records`` counts created
    records to give each a URI."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.routes: dict[str, Handler | list[Handler]] = {
            "com.atproto.server.createSession": lambda r: httpx.Response(200, json=session_body()),
            "com.atproto.server.getSession": lambda r: httpx.Response(
                200, json={"did": DID, "handle": HANDLE, "active": True}
            ),
            "app.bsky.actor.getProfile": lambda r: httpx.Response(
                200,
                json={
                    "did": DID,
                    "handle": HANDLE,
                    "displayName": "Alice",
                    "followersCount": 42,
                },
            ),
            "com.atproto.identity.resolveHandle": self._resolve_handle,
            "com.atproto.repo.uploadBlob": self._upload_blob,
            "com.atproto.repo.createRecord": self._create_record,
        }
        self.handles = {"bob.test": "did:plc:bob"}
        self.created: list[dict[str, Any]] = []

    def route(self, nsid: str, *handlers: Handler) -> None:
        """Answer ``nsid`` with these handlers in turn (the last one stays)."""
        self.routes[nsid] = list(handlers) if len(handlers) > 1 else handlers[0]

    def named(self, nsid: str) -> list[Call]:
        return [call for call in self.calls if call.nsid == nsid]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        nsid = request.url.path.removeprefix("/xrpc/")
        self.calls.append(
            Call(nsid, request.method, request.headers, request.url.params, request.read())
        )
        route = self.routes.get(nsid)
        if route is None:
            return xrpc_error(501, "MethodNotImplemented", f"{nsid} is not implemented")
        if isinstance(route, list):
            handler = route.pop(0) if len(route) > 1 else route[0]
        else:
            handler = route
        return handler(request)

    def _resolve_handle(self, request: httpx.Request) -> httpx.Response:
        did = self.handles.get(request.url.params["handle"])
        if did is None:
            return xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return httpx.Response(200, json={"did": did})

    def _upload_blob(self, request: httpx.Request) -> httpx.Response:
        blob = {
            "$type": "blob",
            "ref": {"$link": f"bafkrei{len(request.content)}"},
            "mimeType": request.headers["content-type"],
            "size": len(request.content),
        }
        return httpx.Response(200, json={"blob": blob})

    def _create_record(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.created.append(body)
        n = len(self.created)
        return httpx.Response(
            200,
            json={"uri": f"at://{body['repo']}/app.bsky.feed.post/rkey{n}", "cid": f"bafycid{n}"},
        )


def provider(
    pds: FakePds, credentials: Credentials | None = None, **config: str
) -> BlueskyProvider:
    if credentials is None:
        exp = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        credentials = Credentials(
            access_token=jwt(exp),
            refresh_token="refresh-0",
            account_id=DID,
            extra={"handle": HANDLE},
        )
    http = httpx.Client(transport=httpx.MockTransport(pds))
    return BlueskyProvider(credentials, http=http, config={"service": SERVICE, **config})
