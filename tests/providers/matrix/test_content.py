"""Building and reading Matrix event content (no network)."""

from __future__ import annotations

import struct

import pytest

from dialogo.providers.matrix import content as c


@pytest.mark.parametrize(
    ("text", "users", "room"),
    [
        ("Hi @bob:example.org!", ["@bob:example.org"], False),
        (
            "(@bob:example.org), @ann:chat.example.org.",
            ["@bob:example.org", "@ann:chat.example.org"],
            False,
        ),
        ("@bob:localhost:8448 and @bob:localhost:8448 again", ["@bob:localhost:8448"], False),
        ("ip @x:[::1]:8008 ok", ["@x:[::1]:8008"], False),
        ("mail me at info@example.org:25", [], False),
        ("see https://matrix.to/#/@bob:example.org", [], False),
        ("@room the kitchen closes early", [], True),
        ("@roomservice:example.org is not @room-wide", ["@roomservice:example.org"], False),
        ("no mentions here", [], False),
    ],
)
def test_mentions_are_found_in_the_text(text: str, users: list[str], room: bool) -> None:
    assert c.find_mentions(text) == (users, room)


def test_html_escapes_the_text_and_turns_user_ids_into_pills() -> None:
    html = c.to_html("<b>Hi</b> @bob:example.org & co\nbye")
    assert html == (
        '&lt;b&gt;Hi&lt;/b&gt; <a href="https://matrix.to/#/@bob:example.org">'
        "@bob:example.org</a> &amp; co<br>bye"
    )


def test_a_text_with_mentions_lists_them_and_has_a_formatted_body() -> None:
    content = c.text_content("Thanks @bob:example.org and @room")
    assert content["body"] == "Thanks @bob:example.org and @room"
    assert content["m.mentions"] == {"user_ids": ["@bob:example.org"], "room": True}
    assert content["format"] == "org.matrix.custom.html"
    assert "https://matrix.to/#/@bob:example.org" in content["formatted_body"]


def test_a_plain_text_still_says_it_mentions_nobody() -> None:
    content = c.text_content("Open until 23:00")
    assert content == {"msgtype": "m.text", "body": "Open until 23:00", "m.mentions": {}}


def test_a_reply_mentions_the_replied_to_sender_once() -> None:
    relation = c.relates_to(reply_to="$target")
    content = c.text_content(
        "sure @bob:example.org", relation=relation, also_mention=["@bob:example.org"]
    )
    assert content["m.mentions"] == {"user_ids": ["@bob:example.org"]}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$target"}}


def test_relations_for_replies_threads_and_replies_in_threads() -> None:
    assert c.relates_to() is None
    assert c.relates_to(reply_to="$a") == {"m.in_reply_to": {"event_id": "$a"}}
    assert c.relates_to(thread_root="$root", latest="$last") == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$last"},
    }
    assert c.relates_to(thread_root="$root") == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$root"},
    }
    assert c.relates_to(reply_to="$a", thread_root="$root") == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$a"},
    }


def test_reading_relations_back() -> None:
    thread = {"m.relates_to": c.relates_to(thread_root="$r", latest="$l")}
    assert c.relation_of(thread) == ("$l", "$r", True)
    reply = {"m.relates_to": c.relates_to(reply_to="$a", thread_root="$r")}
    assert c.relation_of(reply) == ("$a", "$r", False)
    assert c.relation_of({"m.relates_to": c.relates_to(reply_to="$a")}) == ("$a", None, False)
    assert c.relation_of({"body": "x"}) == (None, None, False)
    assert c.is_edit({"m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}})
    assert not c.is_edit({"m.relates_to": {"m.in_reply_to": {"event_id": "$a"}}})


def test_the_image_event_carries_the_alt_text_in_body_and_no_filename() -> None:
    content = c.image_content(
        "mxc://example.org/abc",
        mime_type="image/png",
        size=1234,
        alt_text="A plate of pumpkin ravioli",
        filename="ravioli.png",
        dimensions=(640, 480),
    )
    assert content == {
        "msgtype": "m.image",
        "body": "A plate of pumpkin ravioli",
        "url": "mxc://example.org/abc",
        "info": {"mimetype": "image/png", "size": 1234, "w": 640, "h": 480},
        "m.mentions": {},
    }
    untitled = c.image_content("mxc://e/x", mime_type="image/png", size=1, alt_text=" ")
    assert untitled["body"] == "image"
    named = c.image_content(
        "mxc://e/x", mime_type="image/png", size=1, alt_text="", filename="f.png"
    )
    assert named["body"] == "f.png"


def test_sizes_are_counted_in_utf8_bytes_of_the_canonical_json() -> None:
    ascii_size = c.content_bytes({"body": "a" * 10})
    accented = c.content_bytes({"body": "à" * 10})
    emoji = c.content_bytes({"body": "🍝" * 10})
    assert accented - ascii_size == 10  # two bytes each, not escaped
    assert emoji - ascii_size == 30  # four bytes each
    assert c.content_bytes({"body": '"'}) == c.content_bytes({"body": "a"}) + 1  # \"


@pytest.mark.parametrize(
    ("content", "mentioned"),
    [
        ({"body": "hi", "m.mentions": {"user_ids": ["@me:x.org"]}}, True),
        ({"body": "hi @me:x.org", "m.mentions": {}}, False),  # m.mentions wins when present
        ({"body": "hi @me:x.org"}, True),  # legacy client: the ID in the body
        (
            {"body": "hi Me", "formatted_body": '<a href="https://matrix.to/#/@me:x.org">Me</a>'},
            True,
        ),
        ({"body": "hi"}, False),
    ],
)
def test_whether_an_event_mentions_the_account(content: dict[str, object], mentioned: bool) -> None:
    assert c.mentions_user(content, "@me:x.org") is mentioned


def test_conversation_ids_name_the_room_and_the_thread() -> None:
    assert c.conversation_id("!room:x.org", None) == "!room:x.org"
    assert c.conversation_id("!room:x.org", "$root") == "!room:x.org/$root"
    assert c.split_conversation("!room:x.org/$root") == ("!room:x.org", "$root")
    assert c.split_conversation("!room:x.org") == ("!room:x.org", None)


def test_image_dimensions_from_headers() -> None:
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 640, 480)
    assert c.image_dimensions(png + b"\x08\x02\x00\x00\x00") == (640, 480)
    gif = b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 10
    assert c.image_dimensions(gif) == (32, 16)
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\x00"
        + b"\x00" * 9
        + b"\xff\xc0"
        + struct.pack(">HBHH", 17, 8, 300, 200)
        + b"\x03"
        + b"\x00" * 9
    )
    assert c.image_dimensions(jpeg) == (200, 300)
    vp8x = (
        b"RIFF"
        + b"\x00" * 4
        + b"WEBPVP8X"
        + b"\x00" * 8
        + (99).to_bytes(3, "little")
        + (49).to_bytes(3, "little")
    )
    assert c.image_dimensions(vp8x) == (100, 50)
    assert c.image_dimensions(b"not an image") is None
    assert c.image_dimensions(b"\x89PNG\r\n\x1a\n") is None
