"""The dispatcher and renewed credentials (issue #3): a token refused while another worker
renewed the channel's credentials does not flag the channel; the variants wait for the next
tick, which sends them with the stored credentials."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from dialogo.channels import service as channels
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.notifications.models import Notification
from dialogo.providers.errors import ReauthRequired
from dialogo.publishing.models import VariantStatus
from tests.publishing.test_dispatcher import Rig, rig  # noqa: F401 - the fixture


class _RenewedByAnotherWorker(list[Exception]):
    """The network's scripted failures: the first one, at the moment the dispatcher's call
    reaches the network, is preceded by another worker's renewal (the single-use refresh
    token rotated, the new credentials stored), so the token the dispatcher sends is refused."""

    def __init__(self, renew: Any) -> None:
        super().__init__([ReauthRequired("the access token was refused")])
        self._renew = renew

    def pop(self, index: Any = -1) -> Exception:
        self._renew()
        return super().pop(index)


def test_a_token_refused_after_another_workers_renewal_flags_nothing(rig: Rig) -> None:  # noqa: F811
    post = rig.schedule()
    channel_id = rig.brand.channel.id

    def renew() -> None:
        channel = rig.db.get(Channel, channel_id, populate_existing=True)
        assert channel is not None
        before = rig.cipher.decrypt(channel.credentials)
        account = rig.brand.account  # rotated as the network's refresh does (its lock is held)
        account.access_token, account.refresh_token = "renewed-access", "renewed-refresh"
        renewed = dataclasses.replace(
            before, access_token=account.access_token, refresh_token=account.refresh_token
        )
        channels.store_credentials(rig.db, channel, rig.cipher, renewed)
        rig.db.flush()

    rig.network.failures = _RenewedByAnotherWorker(renew)
    rig.clock.advance(minutes=2)
    rig.run()
    channel = rig.db.get(Channel, channel_id, populate_existing=True)
    assert channel is not None and channel.status == ChannelStatus.ok
    assert rig.variant(post).status == VariantStatus.waiting_channel
    assert rig.db.scalar(select(Notification).where(Notification.kind == "channel_attention")) is (
        None
    )
    rig.run()  # the next tick: sent with the credentials the other worker stored
    assert rig.variant(post).status == VariantStatus.published
    assert len(rig.network.posts) == 1
    stored = rig.cipher.decrypt(channel.credentials)
    assert stored.refresh_token == rig.brand.account.refresh_token
