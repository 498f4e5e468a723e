"""A Matrix room on the real Synapse homeserver where a customer writes to a brand: the setup
the browser tests of the inbox share (the brand's channel reads the room)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from tests.providers.matrix.synapse import MatrixUser, SynapseServer
from tests.providers.matrix.test_integration import HttpUser


@dataclass(frozen=True)
class MatrixRoom:
    synapse: SynapseServer
    brand_login: MatrixUser
    brand: HttpUser  # the account the brand's channel speaks as
    bob: HttpUser  # the customer
    room_id: str

    def connection(self) -> ChannelConnect:
        """What the Channels page submits to connect the brand's account to this room."""
        return ChannelConnect(
            network="matrix",
            credentials=ChannelCredentialsIn(access_token=self.brand_login.access_token),
            config={"homeserver": self.synapse.url, "room_id": self.room_id},
        )

    def mention_brand(self, text: str) -> str:
        """Bob writes ``text`` mentioning the brand; the event id."""
        return self.bob.send(
            self.room_id,
            {
                "msgtype": "m.text",
                "body": f"{self.brand.user_id} {text}",
                "m.mentions": {"user_ids": [self.brand.user_id]},
            },
        )

    def brand_messages(self) -> list[dict[str, Any]]:
        """The brand's messages in the room, as Bob sees them (the latest 30 events)."""
        events = (
            self.bob.http.get(
                f"/rooms/{quote(self.room_id)}/messages", params={"dir": "b", "limit": 30}
            )
            .raise_for_status()
            .json()["chunk"]
        )
        return [
            e
            for e in events
            if e.get("sender") == self.brand.user_id and e["type"] == "m.room.message"
        ]


def matrix_room(synapse: SynapseServer) -> MatrixRoom:
    """New brand and customer accounts (unique names) and a room they are both in."""
    suffix = uuid.uuid4().hex[:6]
    brand_login = synapse.register(f"brand{suffix}")
    brand = HttpUser(synapse, brand_login)
    bob = HttpUser(synapse, synapse.register(f"bob{suffix}"))
    room_id = brand.create_room(invite=[bob.user_id])
    bob.join(room_id)
    return MatrixRoom(synapse, brand_login, brand, bob, room_id)
