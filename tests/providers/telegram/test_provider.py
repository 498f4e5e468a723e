"""The Telegram provider against HTTP fixtures written from the Bot API documentation
(core.telegram.org/bots/api): the exact methods and form fields sent, the updates classified,
the documented errors mapped to the shared ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.parser
import email.policy
import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialogo.core.errors import InvalidInput
from dialogo.providers.base import Credentials, Draft, Media, MessageKind, RemoteRef
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.telegram.client import TelegramClient
from dialogo.providers.telegram.provider import (
    TelegramProvider,
    normalise_chat_id,
    utf16_length,
    utf16_slice,
    webhook_url,
)

DATA = Path(__file__).parent / "data"
TOKEN = "123456789:AAHtest-token_0123456789abcdefghijk"
BASE = "https://api.telegram.org"
CHANNEL = "-1001234567890"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 24


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


ERRORS: dict[str, list[Any]] = load("errors.json")


@dataclasses.dataclass
class Sent:
    method: str
    fields: dict[str, str]
    files: dict[str, tuple[str | None, bytes, str]]
    url: str


def parse(request: httpx.Request) -> Sent:
    prefix = f"{BASE}/bot{TOKEN}/"
    url = str(request.url)
    assert url.startswith(prefix), url
    assert request.method == "POST"
    content_type = request.headers.get("content-type", "")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, bytes, str]] = {}
    body = request.read()
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(name, str) and isinstance(payload, bytes)
            filename = part.get_filename()
            if filename is None:
                fields[name] = payload.decode()
            else:
                files[name] = (filename, payload, part.get_content_type())
    elif body:
        fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    return Sent(url.removeprefix(prefix), fields, files, url)


class Bot:
    """A scripted Bot API: answers per method, every request recorded."""

    def __init__(self, **answers: Any) -> None:
        self.answers: dict[str, Any] = dict(answers)
        self.sent: list[Sent] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        sent = parse(request)
        self.sent.append(sent)
        answer = self.answers.get(sent.method)
        if answer is None:
            return httpx.Response(
                404, json={"ok": False, "error_code": 404, "description": "Not Found"}
            )
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(sent)
        if isinstance(answer, str):
            status, body = ERRORS[answer]
            return httpx.Response(status, json=body)
        return httpx.Response(200, json=answer)

    def provider(
        self, *, chat_id: str = CHANNEL, credentials: Credentials | None = None
    ) -> TelegramProvider:
        return TelegramProvider(
            credentials
            or Credentials(
                access_token=TOKEN,
                account_id="123456789",
                extra={"username": "dialogo_bot", "chat_id": CHANNEL},
            ),
            http=httpx.Client(transport=httpx.MockTransport(self.handle)),
            config={"chat_id": chat_id},
        )


@pytest.fixture
def bot() -> Iterator[Bot]:
    yield Bot()


# -- length rules -----------------------------------------------------------------------------


def test_length_is_counted_in_utf16_code_units() -> None:
    assert utf16_length("ciao") == 4
    assert utf16_length("👍") == 2  # outside the BMP: a surrogate pair
    assert utf16_length("é") == 1
    assert utf16_length("👨‍👩‍👧") == 8  # three emoji (2 each) and two joiners
    assert utf16_slice("🍂 @bot ok", 3, 4) == "@bot"


def test_text_limit_is_4096_utf16_code_units(bot: Bot) -> None:
    provider = bot.provider()
    assert provider.validate(Draft(text="👍" * 2048)) == []
    issues = provider.validate(Draft(text="👍" * 2048 + "a"))
    assert [i.code for i in issues] == ["too_long"]
    assert "4097" in issues[0].message
    # 2100 emoji are 2100 code points, under any code-point limit, but 4200 code units.
    assert provider.validate(Draft(text="🍂" * 2100))


def test_caption_limit_is_1024_and_empty_captions_are_fine(bot: Bot) -> None:
    provider = bot.provider()
    image = Media(PNG, "image/png")
    assert provider.validate(Draft(text="a" * 1024, media=[image])) == []
    assert provider.validate(Draft(text="", media=[image])) == []
    issues = provider.validate(Draft(text="👍" * 513, media=[image]))  # 1026 units
    assert [i.code for i in issues] == ["caption_too_long"]
    # The same text is a fine message without the photo.
    assert provider.validate(Draft(text="👍" * 513)) == []


def test_album_rules(bot: Bot) -> None:
    provider = bot.provider()
    image = Media(JPEG, "image/jpeg")
    assert provider.validate(Draft(text="x", media=[image] * 10)) == []
    assert [i.code for i in provider.validate(Draft(text="x", media=[image] * 11))] == [
        "too_many_media"
    ]
    big = Media(JPEG + b"\0" * (10 * 1024 * 1024), "image/jpeg")
    assert [i.code for i in provider.validate(Draft(text="x", media=[big]))] == ["media_too_large"]
    for mime in ("video/mp4", "image/gif"):
        codes = [i.code for i in provider.validate(Draft(text="x", media=[Media(b"x", mime)]))]
        assert codes == ["media_type"]


def test_no_threads_and_no_empty_messages(bot: Bot) -> None:
    provider = bot.provider()
    assert [i.code for i in provider.validate(Draft(text=" \n"))] == ["empty"]
    assert [i.code for i in provider.validate(Draft(text="a", thread=[Draft(text="b")]))] == [
        "threads"
    ]
    assert [i.code for i in bot.provider(chat_id="").validate(Draft(text="a"))] == ["no_chat"]


def test_publish_refuses_what_validate_rejects_without_a_request(bot: Bot) -> None:
    with pytest.raises(InvalidPayload) as caught:
        bot.provider().publish(Draft(text="x" * 4097))
    assert caught.value.issues == ["too_long"]
    assert bot.sent == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("@bottegarossi", "@bottegarossi"),
        ("bottegarossi", "@bottegarossi"),
        ("https://t.me/bottegarossi", "@bottegarossi"),
        ("t.me/bottegarossi/", "@bottegarossi"),
        (" -1001234567890 ", "-1001234567890"),
    ],
)
def test_chat_ids_are_normalised(typed: str, expected: str) -> None:
    assert normalise_chat_id(typed) == expected


# -- verify ----------------------------------------------------------------------------------


def test_verify_checks_the_bot_and_its_right_to_post(bot: Bot) -> None:
    bot.answers.update(
        getMe=load("getMe.json"),
        getChat=load("getChat_channel.json"),
        getChatMember=load("getChatMember_administrator.json"),
    )
    provider = bot.provider(chat_id="https://t.me/bottegarossi", credentials=Credentials(TOKEN))
    account = provider.verify()
    assert [s.method for s in bot.sent] == ["getMe", "getChat", "getChatMember"]
    assert bot.sent[1].fields == {"chat_id": "@bottegarossi"}
    assert bot.sent[2].fields == {"chat_id": "@bottegarossi", "user_id": "123456789"}
    assert account.remote_id == "123456789"
    assert account.handle == "@dialogo_bot"
    assert account.display_name == "Bottega Rossi"
    assert account.url == "https://t.me/bottegarossi"
    # What the caller stores: the bot's id and name, the chat's numeric id; the token kept.
    assert provider.credentials.access_token == TOKEN
    assert provider.credentials.account_id == "123456789"
    assert provider.credentials.extra == {"username": "dialogo_bot", "chat_id": CHANNEL}


def test_verify_an_admin_that_cannot_post_is_insufficient(bot: Bot) -> None:
    bot.answers.update(
        getMe=load("getMe.json"),
        getChat=load("getChat_channel.json"),
        getChatMember=load("getChatMember_administrator_cannot_post.json"),
    )
    with pytest.raises(InsufficientScopes) as caught:
        bot.provider().verify()
    assert "administrator" in caught.value.message and "post" in caught.value.message
    assert caught.value.missing == ["can_post_messages"]


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        ("not_member", InsufficientScopes, "administrator"),
        ("chat_not_found", Disconnected, "@username"),
    ],
)
def test_verify_a_chat_the_bot_cannot_use(
    bot: Bot, error: str, expected: type[ProviderError], words: str
) -> None:
    bot.answers.update(getMe=load("getMe.json"), getChat=error)
    with pytest.raises(expected) as caught:
        bot.provider().verify()
    assert words in caught.value.message


@pytest.mark.parametrize("error", ["unauthorized", "malformed_token"])
def test_verify_a_wrong_token(bot: Bot, error: str) -> None:
    bot.answers.update(getMe=error)
    with pytest.raises(ReauthRequired) as caught:
        bot.provider().verify()
    assert "@BotFather" in caught.value.message
    assert TOKEN not in caught.value.message  # the token is in the URL: never in messages


# -- publish ---------------------------------------------------------------------------------


def test_publish_text_is_send_message(bot: Bot) -> None:
    bot.answers.update(sendMessage=load("sendMessage.json"))
    result = bot.provider().publish(Draft(text="Nuova collezione autunno 🍂"))
    [sent] = bot.sent
    assert sent.method == "sendMessage"
    assert sent.fields == {"chat_id": CHANNEL, "text": "Nuova collezione autunno 🍂"}
    assert sent.files == {}
    assert result.remote_id == f"{CHANNEL}:42"
    assert result.url == "https://t.me/bottegarossi/42"
    assert not result.pending


def test_publish_one_image_is_send_photo_with_caption(bot: Bot) -> None:
    bot.answers.update(sendPhoto=load("sendPhoto.json"))
    media = Media(JPEG, "image/jpeg", alt_text="la vetrina", filename="vetrina.jpg")
    result = bot.provider().publish(Draft(text="La vetrina di oggi", media=[media]))
    [sent] = bot.sent
    assert sent.method == "sendPhoto"
    assert sent.fields == {"chat_id": CHANNEL, "caption": "La vetrina di oggi"}
    assert sent.files == {"photo": ("vetrina.jpg", JPEG, "image/jpeg")}
    assert result.remote_id == f"{CHANNEL}:43"


def test_publish_several_images_is_an_album(bot: Bot) -> None:
    bot.answers.update(sendMediaGroup=load("sendMediaGroup.json"))
    media = [Media(JPEG, "image/jpeg"), Media(PNG, "image/png"), Media(JPEG, "image/jpeg")]
    result = bot.provider().publish(Draft(text="Tre pezzi unici", media=media))
    [sent] = bot.sent
    assert sent.method == "sendMediaGroup"
    assert set(sent.fields) == {"chat_id", "media"}
    assert json.loads(sent.fields["media"]) == [
        {"type": "photo", "media": "attach://photo0", "caption": "Tre pezzi unici"},
        {"type": "photo", "media": "attach://photo1"},
        {"type": "photo", "media": "attach://photo2"},
    ]
    assert sent.files == {
        "photo0": ("photo0.jpg", JPEG, "image/jpeg"),
        "photo1": ("photo1.png", PNG, "image/png"),
        "photo2": ("photo2.jpg", JPEG, "image/jpeg"),
    }
    assert result.remote_id == f"{CHANNEL}:44"
    assert result.state["message_ids"] == "44,45,46"
    assert result.state["media_group_id"] == "13845562218754091"


def test_reply_goes_to_the_target_chat_with_reply_parameters(bot: Bot) -> None:
    bot.answers.update(sendMessage=load("sendMessage_private_reply.json"))
    target = RemoteRef(remote_id="555000111:977", conversation_id="555000111")
    result = bot.provider().reply(target, Draft(text="Sì, la spediamo domani."))
    [sent] = bot.sent
    assert sent.method == "sendMessage"
    assert sent.fields["chat_id"] == "555000111"
    assert json.loads(sent.fields["reply_parameters"]) == {"message_id": 977}
    assert result.remote_id == "555000111:981"
    assert result.url is None  # private chats have no links


def test_reply_with_a_photo(bot: Bot) -> None:
    bot.answers.update(sendPhoto=load("sendPhoto.json"))
    target = RemoteRef(remote_id=f"{CHANNEL}:42")
    bot.provider().reply(target, Draft(text="", media=[Media(PNG, "image/png")]))
    [sent] = bot.sent
    assert sent.fields == {"chat_id": CHANNEL, "reply_parameters": '{"message_id":42}'}


def test_recent_posts_is_not_faked(bot: Bot) -> None:
    with pytest.raises(NotImplementedError, match="idempotency"):
        bot.provider().recent_posts()
    assert bot.sent == []


# -- inbound ---------------------------------------------------------------------------------


def test_get_updates_classifies_and_advances_the_cursor(bot: Bot) -> None:
    bot.answers.update(getUpdates=load("getUpdates.json"))
    page = bot.provider().fetch_messages("730001")
    [sent] = bot.sent
    assert sent.method == "getUpdates"
    assert sent.fields == {
        "offset": "730001",
        "limit": "100",
        "timeout": "0",
        "allowed_updates": '["message","edited_message","channel_post","edited_channel_post"]',
    }
    assert page.cursor == "730010"  # the last update_id + 1
    by_id = {(m.remote_id, m.raw["edited"]): m for m in page.messages}
    assert [(m.remote_id, m.kind) for m in page.messages] == [
        ("555000111:977", MessageKind.direct),
        ("-1009876543210:3051", MessageKind.reply),
        ("-1009876543210:3052", MessageKind.mention),  # @Dialogo_Bot after an emoji
        ("555000111:977", MessageKind.direct),  # the edit
        ("-1005555555555:512", MessageKind.comment),  # in the channel's discussion group
        ("-1009876543210:3055", MessageKind.mention),  # /orari@dialogo_bot
        (f"{CHANNEL}:47", MessageKind.mention),  # in a photo's caption
    ]
    direct = by_id[("555000111:977", False)]
    assert direct.author.handle == "@giuliab"
    assert direct.author.display_name == "Giulia Bianchi"
    assert direct.author.remote_id == "555000111"
    assert direct.conversation_id == "555000111"
    assert direct.text == "Avete la taglia M?"
    assert direct.created_at == dt.datetime.fromtimestamp(1772442050, dt.UTC)
    assert direct.url is None
    edited = by_id[("555000111:977", True)]
    assert edited.text == "Avete la taglia M o L?"
    assert edited.created_at == dt.datetime.fromtimestamp(1772442095, dt.UTC)
    reply = by_id[("-1009876543210:3051", False)]
    assert reply.in_reply_to == "-1009876543210:3050"
    assert reply.url == "https://t.me/amicibottega/3051"
    assert reply.author.handle == "Marco"  # no username
    comment = by_id[("-1005555555555:512", False)]
    assert comment.in_reply_to == "-1005555555555:510"
    assert comment.url == "https://t.me/c/5555555555/512"
    post = by_id[(f"{CHANNEL}:47", False)]
    assert post.author.handle == "@bottegarossi"
    assert post.text == "Foto di @dialogo_bot"


def test_first_poll_has_no_offset_and_an_empty_answer_keeps_the_cursor(bot: Bot) -> None:
    bot.answers.update(getUpdates={"ok": True, "result": []})
    provider = bot.provider()
    page = provider.fetch_messages(None)
    assert "offset" not in bot.sent[0].fields
    assert page.messages == [] and page.cursor is None
    page = provider.fetch_messages("730010")
    assert bot.sent[1].fields["offset"] == "730010"
    assert page.cursor == "730010"


def test_the_bots_own_messages_are_skipped(bot: Bot) -> None:
    own = load("sendMessage_private_reply.json")["result"]
    bot.answers.update(getUpdates={"ok": True, "result": [{"update_id": 5, "message": own}]})
    page = bot.provider().fetch_messages(None)
    assert page.messages == [] and page.cursor == "6"


def test_without_a_stored_username_get_me_is_asked_once(bot: Bot) -> None:
    bot.answers.update(getMe=load("getMe.json"), getUpdates=load("getUpdates.json"))
    provider = bot.provider(credentials=Credentials(access_token=TOKEN))
    kinds = [m.kind for m in provider.fetch_messages(None).messages]
    provider.fetch_messages("730010")
    assert [s.method for s in bot.sent] == ["getMe", "getUpdates", "getUpdates"]
    assert kinds.count(MessageKind.mention) == 3


# -- errors ----------------------------------------------------------------------------------


def _call(bot: Bot, error: str, method: str = "sendMessage", chat: str = CHANNEL) -> ProviderError:
    bot.answers[method] = error
    provider = bot.provider()
    with pytest.raises(ProviderError) as caught:
        if method == "getUpdates":
            provider.fetch_messages(None)
        elif chat == CHANNEL:
            provider.publish(Draft(text="ciao"))
        else:
            provider.reply(RemoteRef(f"{chat}:1"), Draft(text="ciao"))
    return caught.value


def test_flood_control_waits_retry_after(bot: Bot) -> None:
    error = _call(bot, "flood")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 23.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("unauthorized", ReauthRequired),
        ("malformed_token", ReauthRequired),
        ("not_member", InsufficientScopes),
        ("kicked", InsufficientScopes),
        ("need_admin", InsufficientScopes),
        ("blocked", Disconnected),
        ("chat_not_found", Disconnected),
        ("too_long", InvalidPayload),
        ("caption_too_long", InvalidPayload),
        ("reply_not_found", InvalidPayload),
        ("bad_gateway", TransientError),
    ],
)
def test_documented_errors_in_the_channels_own_chat(
    bot: Bot, error: str, expected: type[ProviderError]
) -> None:
    raised = _call(bot, error)
    assert type(raised) is expected
    assert TOKEN not in raised.message


@pytest.mark.parametrize("error", ["blocked", "kicked", "not_member", "need_admin"])
def test_a_person_blocking_the_bot_does_not_flag_the_channel(bot: Bot, error: str) -> None:
    raised = _call(bot, error, chat="555000111")
    assert type(raised) is InvalidPayload
    assert raised.issues == ["chat_unavailable"]


def test_a_migrated_group_says_its_new_id(bot: Bot) -> None:
    raised = _call(bot, "migrated")
    assert isinstance(raised, InvalidPayload)
    assert raised.details["migrate_to_chat_id"] == "-1001999888777"
    assert "-1001999888777" in raised.message


@pytest.mark.parametrize("error", ["conflict", "webhook_active"])
def test_another_poller_or_a_webhook_is_explained(bot: Bot, error: str) -> None:
    raised = _call(bot, error, method="getUpdates")
    assert raised.code == "telegram_conflict"
    assert not raised.transient
    assert "webhook" in raised.message


def test_ok_false_in_a_200_answer_is_an_error(bot: Bot) -> None:
    bot.answers["sendMessage"] = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message text is empty",
    }
    with pytest.raises(InvalidPayload):
        bot.provider().publish(Draft(text="ciao"))


@pytest.mark.parametrize(
    ("method", "expected"),
    [("sendMessage", OutcomeUnknown), ("getUpdates", TransientError)],
)
def test_a_lost_answer(bot: Bot, method: str, expected: type[ProviderError]) -> None:
    request = httpx.Request("POST", f"{BASE}/bot{TOKEN}/{method}")
    bot.answers[method] = httpx.ReadTimeout("timed out", request=request)
    provider = bot.provider()
    action: Callable[[], object] = (
        (lambda: provider.publish(Draft(text="ciao")))
        if method == "sendMessage"
        else (lambda: provider.fetch_messages(None))
    )
    with pytest.raises(expected) as caught:
        action()
    assert type(caught.value) is expected
    assert caught.value.__cause__ is None  # httpx's exception holds the URL with the token


def test_a_request_that_never_left_is_transient(bot: Bot) -> None:
    bot.answers["sendMessage"] = httpx.ConnectError("refused")
    with pytest.raises(TransientError) as caught:
        bot.provider().publish(Draft(text="ciao"))
    assert not isinstance(caught.value, OutcomeUnknown)


def test_the_base_url_is_configurable() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=load("getMe.json"))

    client = TelegramClient(
        httpx.Client(transport=httpx.MockTransport(handle)), TOKEN, base_url="http://bots.local/"
    )
    assert client.call("getMe")["username"] == "dialogo_bot"
    assert seen == [f"http://bots.local/bot{TOKEN}/getMe"]
    provider = TelegramProvider(
        Credentials(access_token=TOKEN),
        http=httpx.Client(transport=httpx.MockTransport(handle)),
        config={"chat_id": "", "api_url": "http://bots.local"},
    )
    provider.verify()
    assert seen[-1] == f"http://bots.local/bot{TOKEN}/getMe"


# -- webhook mode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public", "ok"),
    [
        ("https://dialogo.example", True),
        ("https://dialogo.example:8443/", True),
        (None, False),
        ("http://dialogo.example", False),
        ("https://localhost", False),
        ("https://10.0.0.5", False),
        ("https://dialogo.example:8000", False),
    ],
)
def test_the_webhook_address_needs_public_https(public: str | None, ok: bool) -> None:
    if ok:
        assert webhook_url(public, 7).endswith("/webhooks/telegram/7")
        assert webhook_url(public, 7).startswith("https://dialogo.example")
    else:
        with pytest.raises(InvalidInput, match="public https address"):
            webhook_url(public, 7)


def test_apply_settings_calls_telegram_only_when_the_mode_changes(bot: Bot) -> None:
    bot.answers.update(
        setWebhook={"ok": True, "result": True}, deleteWebhook={"ok": True, "result": True}
    )
    provider = bot.provider()
    public = "https://dialogo.example"
    assert provider.apply_settings({"chat_id": CHANNEL}, public_url=public, channel_id=3) == {}
    provider.config = {"chat_id": CHANNEL, "updates": "webhook"}
    changes = provider.apply_settings({"chat_id": CHANNEL}, public_url=public, channel_id=3)
    [sent] = bot.sent
    assert sent.method == "setWebhook" and sent.fields["secret_token"] == changes["webhook_secret"]
    assert changes["webhook_url"] == "https://dialogo.example/webhooks/telegram/3"
    assert set(sent.fields) == {"url", "secret_token", "allowed_updates", "drop_pending_updates"}
    provider.config = {"chat_id": CHANNEL, "updates": "polling"}
    changes = provider.apply_settings(
        {"chat_id": CHANNEL, "updates": "webhook"}, public_url=public, channel_id=3
    )
    assert changes == {"webhook_secret": None, "webhook_url": None}
    assert bot.sent[-1].method == "deleteWebhook"
    assert bot.sent[-1].fields == {"drop_pending_updates": "false"}
    with pytest.raises(InvalidInput, match="polling"):
        provider.config = {"updates": "push"}
        provider.apply_settings({}, public_url=public, channel_id=3)
    assert len(bot.sent) == 2


def test_webhook_info_reads_the_documented_fields(bot: Bot) -> None:
    bot.answers["getWebhookInfo"] = {
        "ok": True,
        "result": {
            "url": "https://dialogo.example/webhooks/telegram/3",
            "has_custom_certificate": False,
            "pending_update_count": 4,
            "last_error_date": 1772450000,
            "last_error_message": "Connection timed out",
            "max_connections": 40,
        },
    }
    info = bot.provider().webhook_info()
    assert info.pending_update_count == 4 and info.last_error_message == "Connection timed out"
    assert info.last_error_date == dt.datetime.fromtimestamp(1772450000, dt.UTC)


def test_read_updates_reports_what_it_cannot_read(bot: Bot) -> None:
    updates = load("getUpdates.json")["result"]
    messages, problems, last = bot.provider().read_updates(
        [*updates, {"message": {"message_id": 1}}, {"update_id": 9, "message": "text"}]
    )
    assert len(messages) == 7 and last == 730009
    assert [p.reason for p in problems] == [
        "an update without an update_id",
        "a message without a chat",
    ]
