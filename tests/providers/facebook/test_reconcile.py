"""A Facebook post whose answer was lost is found on the Page's second page of posts, not sent
again (issue #4): the worker, the database and the real provider, with the Graph API's
answers replayed (Pages API "Posts": ``POST /{page-id}/feed``; Page Published Posts; the
"Paginated Results" guide: ``limit`` is a maximum, a page may come back short, and the last
page is the one without ``paging.next``).

The Page is busy: 40 posts went out after ours, and Meta answers the dispatcher's first ask
(50) with 25 of them and a ``next`` link. Reading that short page as the whole Page (the
provider and the dispatcher before this change) took ours for lost and published it a second
time; with the paging dispatcher alone it is left unconfirmed for a person to look at."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import httpx
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.clock import FrozenClock
from dialogo.core.context import AppContext
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import Credentials
from dialogo.providers.facebook.provider import FacebookProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import tasks
from dialogo.publishing.models import VariantStatus
from dialogo.worker.runner import Worker
from tests.publishing import conftest as publishing
from tests.publishing.conftest import Brand
from tests.publishing.test_dispatcher import START, Rig

# The publishing tests' fixtures: a brand (owner, workspace, channel) and its fake network.
brand, cipher, network = publishing.brand, publishing.cipher, publishing.network
other_network, providers = publishing.other_network, publishing.providers

PAGE = "104512345678901"
TEXT = "Nuova miscela autunnale ☕"
OURS = f"{PAGE}_900"


def graph_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+0000")


class Page:
    """The Page on Meta's side: our post (its answer lost), then 40 others after it."""

    def __init__(self) -> None:
        sent = START + dt.timedelta(minutes=1)  # when the post was due, and sent
        ours = {"id": OURS, "message": TEXT, "created_time": graph_time(sent)}
        others = [
            {
                "id": f"{PAGE}_{1000 + n}",
                "message": f"Offerta del giorno {n}",
                "created_time": graph_time(sent + dt.timedelta(seconds=n)),
            }
            for n in range(1, 41)
        ]
        self.posts = [ours, *others][::-1]  # newest first
        self.feed_posts = 0
        self.listings: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path.endswith(f"/{PAGE}/feed"):
            self.feed_posts += 1
            form = dict(urllib.parse.parse_qsl(request.content.decode()))
            assert form["message"] == TEXT
            raise httpx.ReadTimeout("the answer was lost", request=request)
        if request.method == "GET" and path.endswith(f"/{PAGE}/published_posts"):
            params = dict(request.url.params)
            self.listings.append(params)
            skip = int(params.get("after", "0"))
            size = min(int(params["limit"]), 25)  # capped: `limit` is a maximum, not a promise
            data = self.posts[skip : skip + size]
            paging: dict[str, object] = {"cursors": {"before": "b", "after": str(skip + size)}}
            if skip + size < len(self.posts):
                paging["next"] = (
                    f"https://graph.facebook.com/v23.0/{PAGE}/published_posts"
                    f"?limit={size}&after={skip + size}"
                )
            return httpx.Response(200, json={"data": data, "paging": paging})
        return httpx.Response(400, json={"error": {"message": "unexpected", "code": 100}})


def test_a_lost_answer_is_found_on_the_second_page_and_never_posted_again(
    brand: Brand, network: FakeNetwork, db: Session, ctx: AppContext
) -> None:
    settings, factory = ctx.settings, ctx.session_factory
    cipher = CredentialCipher.from_settings(settings)  # what the publish job decrypts with
    channel = brand.channel  # the brand's channel, moved to a Facebook Page
    channel.network, channel.account_remote_id = "facebook", PAGE
    channel.config = {"client_id": "app", "page_id": PAGE}
    token = Credentials(access_token="page-token", account_id=PAGE, extra={"token_kind": "page"})
    channel.credentials = cipher.encrypt(token)
    page = Page()
    http = httpx.Client(transport=httpx.MockTransport(page))
    registry = TaskRegistry()
    facebook = ProviderRegistry({"facebook": FacebookProvider})
    tasks.register(registry, providers=lambda _settings: facebook, http=http)
    clock = FrozenClock(START)
    worker = Worker(settings, factory, registry, clock=clock, worker_id="host:1:fb")
    rig = Rig(db, factory, clock, worker, brand, network, facebook, cipher)
    post = rig.schedule(TEXT, minutes=1)
    clock.advance(seconds=60)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.unconfirmed, variant.last_error
    assert page.feed_posts == 1 and page.listings == []
    clock.advance(seconds=60)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published, variant.last_error
    assert variant.remote_id == OURS
    assert page.feed_posts == 1  # found on the network: never sent a second time
    # asked back to the attempt, a page of the Graph API's 100 at a time: answered 25 with a
    # next link, followed to the 16 more that reach ours, each page read once
    assert [(p["limit"], p.get("after")) for p in page.listings] == [("100", None), ("100", "25")]
    http.close()
