"""Inbox: the list of conversations with filters, a conversation with its messages, notes and
tags, and the forms that assign, change the status, and reply (htmx, and plain forms without
JavaScript). The reply form polls ``…/presence`` to warn when someone else is replying."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Iterable

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dialogo.accounts.models import User
from dialogo.accounts.permissions import Permission
from dialogo.channels import service as channels
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import DomainError, InvalidInput
from dialogo.core.i18n import N_
from dialogo.inbox import customer, mentions
from dialogo.inbox import service as inbox
from dialogo.inbox import tasks as inbox_tasks
from dialogo.inbox.models import Conversation, ConversationNote, ConversationStatus
from dialogo.inbox.schemas import ConversationFilters
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

STATUS_LABELS = {
    "open": N_("Open"),
    "pending": N_("Pending"),
    "snoozed": N_("Snoozed"),
    "closed": N_("Closed"),
}
REASON_LABELS = {
    "question": N_("a question"),
    "complaint": N_("a complaint"),
    "negative": N_("negative tone"),
    "reach": N_("large audience"),
    "waiting": N_("waiting long"),
    "rule": N_("a rule"),
}
KIND_LABELS = {
    "mention": N_("Mention"),
    "comment": N_("Comment"),
    "reply": N_("Reply"),
    "direct": N_("Direct message"),
    "post": N_("Post"),
}
REPLY_STATUS_LABELS = {
    "queued": N_("sending…"),
    "sent": N_("sent"),
    "unconfirmed": N_("not confirmed"),
    "failed": N_("failed"),
}
ERRORS = {
    "reply_empty": N_("A reply needs some text."),
    "reply_too_long": N_("A reply has at most 10,000 characters."),
    "note_empty": N_("A note needs some text."),
    "note_too_long": N_("A note has at most 10,000 characters."),
    "tag_invalid": N_("A tag has up to 60 letters, digits, spaces or . : / + -"),
    "assignee_invalid": N_("Choose a member of the workspace who may reply in the inbox."),
    "snooze_invalid": N_("Snooze for 1 to 720 hours."),
    "status_invalid": N_("Choose a status."),
    "nothing_to_answer": N_("This conversation has no message to answer."),
    "reply_canned": N_(
        "This reply is nearly the same as several recent replies and may read as canned. "
        'Make it personal, or tick "Send it anyway".'
    ),
    "saved_empty": N_("A saved reply needs a name and a text."),
    "saved_variables": N_("Use only the variables {name}, {handle}, {agent} and {brand}."),
    "saved_name_taken": N_("A saved reply with this name exists."),
    "rule_number": N_("Position, sentiment, followers and priority are numbers."),
    "rule_invalid": N_("This rule cannot be saved: %(reason)s."),
    "rule_ack_invalid": N_("Choose one of this workspace's saved replies as the acknowledgement."),
    "rule_ack_agent": N_(
        "An automated acknowledgement has no agent: choose a saved reply without {agent}."
    ),
    "ack_disclosure_too_long": N_("The disclosure has at most 300 characters."),
}
#: Why the rule check refused (``rule_invalid``'s ``reason``, see ``dialogo.inbox.rules``); a
#: refusal without one (a shape only an API client can send) is shown as the service wrote it.
RULE_REASONS = {
    "no_name": N_("it needs a name"),
    "no_action": N_("it needs at least one action"),
    "unknown_channel": N_("the channel is not one of this workspace's"),
}
#: The same text as ``dialogo.inbox.acknowledge.DEFAULT_DISCLOSURE``, marked here so that it is
#: extracted for translation (the worker reads the catalogue to send it in Italian).
ACK_DISCLOSURE_DEFAULT = N_("Automated message — a person will answer soon.")
#: The manual "fetch now" groups clicks within this period into one ingest job per channel.
FETCH_PERIOD = dt.timedelta(seconds=10)


@dataclasses.dataclass(frozen=True)
class Row:
    conversation: Conversation
    score: int
    reasons: list[str]
    tags: list[str]
    assignee: str | None
    channel: str


def _names(viewer: Viewer, workspace_id: int) -> dict[int, str]:
    return {
        u.id: (u.name or u.email) for u, _ in inbox.assignable_members(viewer.session, workspace_id)
    }


def _filters(
    status: str | None, assignee: str | None, tag: str | None, channel: int | None, q: str | None
) -> ConversationFilters:
    try:
        return ConversationFilters(
            status=status
            if status in ("open", "pending", "snoozed", "closed")
            else (None if status == "all" else "active"),
            assignee=assignee if assignee in ("me", "unassigned") else None,
            tag=(tag or "").strip().lower() or None,
            channel_id=channel,
            q=(q or "").strip() or None,
        )
    except ValidationError:
        return ConversationFilters()


@router.get("/w/{workspace_id}/inbox")
def inbox_page(
    workspace_id: int,
    viewer: CurrentViewer,
    status: str | None = None,
    assignee: str | None = None,
    tag: str | None = None,
    channel: int | None = None,
    q: str | None = None,
) -> Response:
    return _list(
        viewer, workspace_id, _filters(status, assignee, tag, channel, q), status or "active"
    )


def _list(
    viewer: Viewer,
    workspace_id: int,
    filters: ConversationFilters,
    status_choice: str,
    message: Flash | None = None,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    now = viewer.ctx.clock.now()
    listed = inbox.list_conversations(
        viewer.session, viewer.principal, workspace_id, filters, now=now
    )
    tags = inbox.tags_of(viewer.session, [c.id for c in listed])
    names = _names(viewer, workspace_id)
    connected = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    channel_names = {c.id: c.name for c in connected}
    rows = []
    for c in listed:
        p = inbox.effective_priority(c, now)
        rows.append(
            Row(
                conversation=c,
                score=p.score,
                reasons=list(p.reasons),
                tags=tags.get(c.id, []),
                assignee=names.get(c.assignee_id) if c.assignee_id else None,
                channel=channel_names.get(c.channel_id, ""),
            )
        )
    template = "_inbox_list.html" if templating.is_htmx(viewer.request) else "inbox.html"
    return viewer.render(
        template,
        active="inbox",
        workspace=workspace,
        role=role,
        rows=rows,
        filters=filters,
        status_choice=status_choice,
        channels=connected,
        can_reply=viewer.can(role, Permission.inbox_reply),
        can_admin=viewer.can(role, Permission.channels_manage),
        counts=inbox.counts(viewer.session, viewer.principal, workspace_id),
        agents=inbox.personal_shares(viewer.session, viewer.principal, workspace_id),
        status_labels=STATUS_LABELS,
        reason_labels=REASON_LABELS,
        kind_labels=KIND_LABELS,
        now=now,
        message=message,
    )


@router.post("/w/{workspace_id}/inbox/fetch")
def fetch_now(workspace_id: int, viewer: FormViewer) -> Response:
    """Ask the worker to poll every working channel of the workspace now."""
    viewer.workspace(workspace_id, Permission.inbox_reply)
    now = viewer.ctx.clock.now()
    listed = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    queued = 0
    for channel in listed:
        if channel.status == "ok":
            inbox_tasks.enqueue_ingest(viewer.session, channel, now=now, every=FETCH_PERIOD)
            queued += 1
    text_ = viewer.tr.ngettext(
        "Fetching new messages from %(num)d channel…",
        "Fetching new messages from %(num)d channels…",
        queued,
    ) % {"num": queued}
    response = RedirectResponse(f"/w/{workspace_id}/inbox", status_code=303)
    viewer.flash(response, "success", text_)
    return response


# --- one conversation -----------------------------------------------------------------------


def _note_mentions(
    session: Session, notes: Iterable[ConversationNote]
) -> tuple[dict[int, list[mentions.Segment]], dict[int, str]]:
    """Each note cut into text and the mentions stored with it (highlighted by
    ``_inbox_note_body.html``; other @words stay plain text), and the mentioned members' names."""
    note_parts = {n.id: mentions.segments(n.body, n.mentions or []) for n in notes}
    mentioned = {
        seg.user_id: (u.name or u.email)
        for parts in note_parts.values()
        for seg in parts
        if seg.user_id and (u := session.get(User, seg.user_id)) is not None
    }
    return note_parts, mentioned


def _conversation_page(
    viewer: Viewer,
    workspace_id: int,
    conversation_id: int,
    *,
    message: Flash | None = None,
    draft: str = "",
    status: int = 200,
    saved: int | None = None,
    suggestion: int | None = None,
    canned: bool = False,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    session = viewer.session
    conversation = inbox.get_conversation(session, viewer.principal, workspace_id, conversation_id)
    suggested = inbox.suggestions(session, viewer.principal, workspace_id, conversation)
    if saved is not None and not draft:
        try:
            draft = inbox.render_saved_reply(
                session, viewer.principal, workspace_id, saved, conversation
            )
        except DomainError:
            draft = ""
    if suggestion is not None and not draft and 0 <= suggestion < len(suggested):
        draft = suggested[suggestion].answer
    now = viewer.ctx.clock.now()
    contact, identities = inbox.contact_of(session, conversation)
    names = _names(viewer, workspace_id)
    notes = inbox.notes_of(session, conversation)
    note_authors = {
        n.author_id: (u.name or u.email)
        for n in notes
        if n.author_id and (u := session.get(User, n.author_id)) is not None
    }
    note_parts, mentioned = _note_mentions(session, notes)
    priority = inbox.effective_priority(conversation, now)
    can_reply = viewer.can(role, Permission.inbox_reply)
    others: list[User] = []
    if can_reply:
        others = inbox.others_replying(session, conversation.id, viewer.user.id, now=now)
    return viewer.render(
        "inbox_conversation.html",
        active="inbox",
        workspace=workspace,
        role=role,
        conversation=conversation,
        messages_=inbox.messages_of(session, conversation),
        notes=notes,
        note_authors=note_authors,
        note_parts=note_parts,
        mentioned=mentioned,
        handles=[h for _, h in inbox.mentionable_members(session, workspace_id)]
        if can_reply
        else [],
        replies=inbox.replies_of(session, conversation),
        tags=inbox.tags_of(session, [conversation.id])[conversation.id],
        contact=contact,
        identities=identities,
        members=names,
        priority=priority,
        target=inbox.first_response_target(session, conversation, now=now),
        can_reply=can_reply,
        can_assign=viewer.can(role, Permission.inbox_assign),
        others=others,
        status_labels=STATUS_LABELS,
        reason_labels=REASON_LABELS,
        kind_labels=KIND_LABELS,
        reply_status_labels=REPLY_STATUS_LABELS,
        reply_key=secrets.token_urlsafe(12),
        draft=draft,
        canned=canned,
        suggestions=suggested,
        saved_replies=inbox.list_saved_replies(session, viewer.principal, workspace_id),
        message=message,
        now=now,
        status=status,
    )


@router.get("/w/{workspace_id}/inbox/{conversation_id}")
def conversation_page(
    workspace_id: int,
    conversation_id: int,
    viewer: CurrentViewer,
    saved: int | None = None,
    suggestion: int | None = None,
) -> Response:
    """``saved``: start the reply from a saved reply (variables filled); ``suggestion``: from
    the answer of a similar past conversation. The person edits it before sending."""
    return _conversation_page(
        viewer, workspace_id, conversation_id, saved=saved, suggestion=suggestion
    )


def _after(
    viewer: Viewer, workspace_id: int, conversation_id: int, level: str, text_: str
) -> Response:
    if templating.is_htmx(viewer.request):
        return _conversation_page(
            viewer, workspace_id, conversation_id, message=Flash(level, text_)
        )
    response = RedirectResponse(f"/w/{workspace_id}/inbox/{conversation_id}", status_code=303)
    viewer.flash(response, level, text_)
    return response


def _refused(
    viewer: Viewer, workspace_id: int, conversation_id: int, exc: DomainError, draft: str = ""
) -> Response:
    viewer.session.rollback()
    return _conversation_page(
        viewer,
        workspace_id,
        conversation_id,
        canned=exc.code == "reply_canned",
        message=Flash(
            "error",
            viewer.gettext(ERRORS[exc.code])
            if exc.code in ERRORS
            else messages.domain_error(viewer.tr, exc),
        ),
        draft=draft,
        status=exc.status,
    )


@router.post("/w/{workspace_id}/inbox/{conversation_id}/assign")
async def assign(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    choice = text(form, "assignee")
    try:
        if choice == "round_robin":
            conv = inbox.assign_round_robin(
                viewer.session, viewer.principal, workspace_id, conversation_id
            )
        else:
            target = (
                viewer.user.id
                if choice == "me"
                else (int(choice) if choice.isdigit() and len(choice) < 19 else None)
            )
            conv = inbox.assign(
                viewer.session, viewer.principal, workspace_id, conversation_id, target
            )
    except DomainError as exc:
        return _refused(viewer, workspace_id, conversation_id, exc)
    names = _names(viewer, workspace_id)
    if conv.assignee_id is None:
        done = viewer.gettext("The conversation is unassigned.")
    else:
        done = viewer.gettext("Assigned to %(name)s.") % {"name": names.get(conv.assignee_id, "")}
    return _after(viewer, workspace_id, conversation_id, "success", done)


@router.post("/w/{workspace_id}/inbox/{conversation_id}/status")
async def set_status(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    raw = text(form, "status")
    hours = text(form, "snooze_hours")
    now = viewer.ctx.clock.now()
    try:
        status = ConversationStatus(raw)
    except ValueError:
        return _refused(
            viewer,
            workspace_id,
            conversation_id,
            DomainError("choose a status", code="status_invalid"),
        )
    until = None
    if status is ConversationStatus.snoozed:
        until = (
            now + dt.timedelta(hours=int(hours))
            if hours.isdigit() and 0 < int(hours) <= 24 * 30
            else None
        )
    try:
        inbox.set_status(
            viewer.session,
            viewer.principal,
            workspace_id,
            conversation_id,
            status,
            snoozed_until=until,
            now=now,
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, conversation_id, exc)
    label = viewer.gettext(STATUS_LABELS[status.value])
    return _after(
        viewer,
        workspace_id,
        conversation_id,
        "success",
        viewer.gettext("Status: %(status)s.") % {"status": label},
    )


@router.post("/w/{workspace_id}/inbox/{conversation_id}/tags")
async def add_tag(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        if text(form, "remove"):
            inbox.remove_tag(
                viewer.session,
                viewer.principal,
                workspace_id,
                conversation_id,
                text(form, "remove"),
            )
        else:
            inbox.add_tag(
                viewer.session, viewer.principal, workspace_id, conversation_id, text(form, "tag")
            )
    except DomainError as exc:
        return _refused(viewer, workspace_id, conversation_id, exc)
    return _after(viewer, workspace_id, conversation_id, "success", viewer.gettext("Tags saved."))


@router.post("/w/{workspace_id}/inbox/{conversation_id}/notes")
async def add_note(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        inbox.add_note(
            viewer.session, viewer.principal, workspace_id, conversation_id, text(form, "body")
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, conversation_id, exc)
    return _after(viewer, workspace_id, conversation_id, "success", viewer.gettext("Note added."))


#: ``@`` and the start of a handle at the end of what is being typed.
_TYPING_MENTION = re.compile(r"(?:^|\s)@([\w.+-]{0,60})$")


@router.get("/w/{workspace_id}/inbox-mentionable")
def mentionable(workspace_id: int, viewer: CurrentViewer, body: str = "", q: str = "") -> Response:
    """Autocomplete for the note box (htmx): the members matching the ``@word`` being typed at
    the end of ``body`` (or ``q``); nothing when no mention is being typed."""
    workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    typing = _TYPING_MENTION.search(body[-200:]) if body else None
    prefix = typing.group(1) if typing else q.strip()
    found = (
        inbox.mentionable(viewer.session, viewer.principal, workspace_id, prefix)
        if typing or prefix
        else []
    )
    return viewer.render(
        "_inbox_mentionable.html",
        active="inbox",
        workspace=workspace,
        role=role,
        found=found,
    )


@router.post("/w/{workspace_id}/inbox/{conversation_id}/reply")
async def reply(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    body = text(form, "text")
    key = text(form, "reply_key") or None
    try:
        inbox.create_reply(
            viewer.session,
            viewer.principal,
            workspace_id,
            conversation_id,
            body,
            idempotency_key=key,
            allow_canned=bool(text(form, "send_anyway")),
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, conversation_id, exc, draft=body)
    return _after(
        viewer,
        workspace_id,
        conversation_id,
        "success",
        viewer.gettext("Your reply is on its way."),
    )


@router.post("/w/{workspace_id}/inbox/{conversation_id}/presence")
def presence(workspace_id: int, conversation_id: int, viewer: FormViewer) -> Response:
    """The reply form's heartbeat: records that this person is writing, and answers with the
    warning when someone else is too."""
    _workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    others: list[User] = []
    if viewer.can(role, Permission.inbox_reply):
        others = inbox.touch_presence(
            viewer.session,
            viewer.principal,
            workspace_id,
            conversation_id,
            now=viewer.ctx.clock.now(),
        )
    return viewer.render("_inbox_presence.html", active="inbox", others=others)


@router.get("/w/{workspace_id}/inbox-quarantine")
def quarantine_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.channels_manage)
    items = inbox.list_quarantine(viewer.session, viewer.principal, workspace_id)
    return viewer.render(
        "inbox_quarantine.html", active="inbox", workspace=workspace, role=role, items=items
    )


def waiting_for(conversation: Conversation, now: dt.datetime) -> float | None:
    if conversation.waiting_since is None:
        return None
    return (now - ensure_aware(conversation.waiting_since)).total_seconds()


@router.post("/w/{workspace_id}/inbox-saved-replies")
async def create_saved_reply(workspace_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    back = text(form, "back")
    back_to = back if back.startswith(f"/w/{workspace_id}/inbox") else f"/w/{workspace_id}/inbox"
    try:
        inbox.create_saved_reply(
            viewer.session, viewer.principal, workspace_id, text(form, "name"), text(form, "body")
        )
    except DomainError as exc:
        viewer.session.rollback()
        level, note = (
            "error",
            (
                viewer.gettext(ERRORS[exc.code])
                if exc.code in ERRORS
                else messages.domain_error(viewer.tr, exc)
            ),
        )
    else:
        level, note = "success", viewer.gettext("Saved reply added.")
    response = RedirectResponse(back_to, status_code=303)
    viewer.flash(response, level, note)
    return response


# --- the customer view ----------------------------------------------------------------------


@router.get("/w/{workspace_id}/inbox-contacts/{contact_id}")
def customer_page(workspace_id: int, contact_id: int, viewer: CurrentViewer) -> Response:
    """One person across channels: conversations, messages, notes, tags, sentiment over time."""
    workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    found = customer.customer_history(viewer.session, viewer.principal, workspace_id, contact_id)
    connected = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    note_authors = {
        n.author_id: (u.name or u.email)
        for n in found.notes
        if n.author_id and (u := viewer.session.get(User, n.author_id)) is not None
    }
    note_parts, mentioned = _note_mentions(viewer.session, found.notes)
    return viewer.render(
        "inbox_customer.html",
        active="inbox",
        workspace=workspace,
        role=role,
        history=found,
        chart=customer.sentiment_chart(found.sentiment),
        channel_names={c.id: c.name for c in connected},
        note_authors=note_authors,
        note_parts=note_parts,
        mentioned=mentioned,
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    )


# --- rules ----------------------------------------------------------------------------------

RULE_KINDS = ("mention", "comment", "reply", "direct", "post")


@dataclasses.dataclass
class RuleForm:
    """The rule form's values as typed (kept when the rule is refused)."""

    name: str = ""
    position: str = "0"
    enabled: bool = True
    stop: bool = False
    channel_id: str = ""
    kind: str = ""
    language: str = ""
    words: str = ""
    sentiment_below: str = ""
    followers_at_least: str = ""
    question: bool = False
    complaint: bool = False
    tag: str = ""
    assign_to: str = ""
    priority: str = ""
    close: bool = False
    acknowledge: str = ""  # a saved reply's id

    @classmethod
    def of(cls, rule: object) -> RuleForm:
        c: dict[str, object] = dict(getattr(rule, "conditions", {}) or {})
        a: dict[str, object] = dict(getattr(rule, "actions", {}) or {})

        def s(value: object) -> str:
            return "" if value is None else str(value)

        words = c.get("words")
        return cls(
            name=s(getattr(rule, "name", "")),
            position=s(getattr(rule, "position", 0)),
            enabled=bool(getattr(rule, "enabled", True)),
            stop=bool(getattr(rule, "stop", False)),
            channel_id=s(c.get("channel_id")),
            kind=s(c.get("kind")),
            language=s(c.get("language")),
            words=", ".join(str(w) for w in words) if isinstance(words, list) else "",
            sentiment_below=s(c.get("sentiment_below")),
            followers_at_least=s(c.get("followers_at_least")),
            question=bool(c.get("question")),
            complaint=bool(c.get("complaint")),
            tag=s(a.get("tag")),
            assign_to=s(a.get("assign_to")),
            priority=s(a.get("priority")),
            close=bool(a.get("close")),
            acknowledge=s(a.get("acknowledge")),
        )

    @classmethod
    def read(cls, form: FormData) -> RuleForm:
        return cls(
            name=text(form, "name"),
            position=text(form, "position") or "0",
            enabled=bool(text(form, "enabled")),
            stop=bool(text(form, "stop")),
            channel_id=text(form, "channel_id"),
            kind=text(form, "kind"),
            language=text(form, "language").lower(),
            words=text(form, "words"),
            sentiment_below=text(form, "sentiment_below"),
            followers_at_least=text(form, "followers_at_least"),
            question=bool(text(form, "question")),
            complaint=bool(text(form, "complaint")),
            tag=text(form, "tag"),
            assign_to=text(form, "assign_to"),
            priority=text(form, "priority"),
            close=bool(text(form, "close")),
            acknowledge=text(form, "acknowledge"),
        )

    def parsed(self) -> tuple[int, dict[str, object], dict[str, object]]:
        """(position, conditions, actions); :class:`InvalidInput` for a number that is not."""

        def whole(value: str) -> int:
            if not re.fullmatch(r"-?\d{1,9}", value):
                raise InvalidInput("not a whole number", code="rule_number")
            return int(value)

        conditions: dict[str, object] = {}
        actions: dict[str, object] = {}
        if self.channel_id:
            conditions["channel_id"] = whole(self.channel_id)
        if self.kind:
            conditions["kind"] = self.kind
        if self.language:
            conditions["language"] = self.language
        words = [w.strip() for w in self.words.split(",") if w.strip()]
        if words:
            conditions["words"] = words
        if self.sentiment_below:
            try:
                conditions["sentiment_below"] = float(self.sentiment_below.replace(",", "."))
            except ValueError:
                raise InvalidInput("not a number", code="rule_number") from None
        if self.followers_at_least:
            conditions["followers_at_least"] = whole(self.followers_at_least)
        if self.question:
            conditions["question"] = True
        if self.complaint:
            conditions["complaint"] = True
        if self.tag:
            actions["tag"] = self.tag
        if self.assign_to:
            actions["assign_to"] = whole(self.assign_to)
        if self.priority:
            actions["priority"] = whole(self.priority)
        if self.close:
            actions["close"] = True
        if self.acknowledge:
            actions["acknowledge"] = whole(self.acknowledge)
        return whole(self.position), conditions, actions


def _rules_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    form: RuleForm | None = None,
    editing: int | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.inbox_read)
    listed = inbox.list_rules(viewer.session, viewer.principal, workspace_id)
    connected = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    members = {
        u.id: (u.name or u.email) for u, _ in inbox.assignable_members(viewer.session, workspace_id)
    }
    saved = inbox.list_saved_replies(viewer.session, viewer.principal, workspace_id)
    settings = inbox.get_settings(viewer.session, viewer.principal, workspace_id)
    return viewer.render(
        "inbox_rules.html",
        saved_replies=saved,
        saved_names={r.id: r.name for r in saved},
        ack_enabled=settings.auto_ack_enabled,
        ack_disclosure=settings.ack_disclosure or "",
        # Sent in the workspace's language, whatever the viewer's.
        ack_default=templating.tr(workspace.language).gettext(ACK_DISCLOSURE_DEFAULT),
        active="inbox",
        workspace=workspace,
        role=role,
        rules=listed,
        can_edit=viewer.can(role, Permission.workspace_update),
        form=form or RuleForm(),
        editing=editing,
        channels=connected,
        channel_names={c.id: c.name for c in connected},
        members=members,
        kinds=RULE_KINDS,
        kind_labels=KIND_LABELS,
        message=message,
        status=status,
    )


@router.get("/w/{workspace_id}/inbox-rules")
def rules_page(workspace_id: int, viewer: CurrentViewer, edit: int | None = None) -> Response:
    """The workspace's inbox rules in evaluation order, and the form to add or edit one."""
    form = None
    if edit is not None:
        form = RuleForm.of(inbox.get_rule(viewer.session, viewer.principal, workspace_id, edit))
    return _rules_page(viewer, workspace_id, form=form, editing=edit)


def _rule_refused(
    viewer: Viewer, workspace_id: int, form: RuleForm, editing: int | None, exc: DomainError
) -> Response:
    viewer.session.rollback()
    if exc.code == "rule_invalid":  # the rule check's reason, in words when it has a name
        reason = RULE_REASONS.get(str(exc.details.get("reason", "")))
        note = viewer.gettext(ERRORS[exc.code]) % {
            "reason": viewer.gettext(reason) if reason else str(exc)
        }
    elif exc.code in ERRORS:
        note = viewer.gettext(ERRORS[exc.code])
    else:
        note = messages.domain_error(viewer.tr, exc)
    return _rules_page(
        viewer,
        workspace_id,
        form=form,
        editing=editing,
        message=Flash("error", note),
        status=exc.status,
    )


async def _save_rule(viewer: Viewer, workspace_id: int, rule_id: int | None) -> Response:
    form = RuleForm.read(await read_form(viewer.request))
    try:
        position, conditions, actions = form.parsed()
        if rule_id is None:
            inbox.create_rule(
                viewer.session,
                viewer.principal,
                workspace_id,
                name=form.name,
                conditions=conditions,
                actions=actions,
                position=position,
                stop=form.stop,
                enabled=form.enabled,
            )
        else:
            inbox.update_rule(
                viewer.session,
                viewer.principal,
                workspace_id,
                rule_id,
                name=form.name,
                conditions=conditions,
                actions=actions,
                position=position,
                stop=form.stop,
                enabled=form.enabled,
            )
    except DomainError as exc:
        return _rule_refused(viewer, workspace_id, form, rule_id, exc)
    response = RedirectResponse(f"/w/{workspace_id}/inbox-rules", status_code=303)
    viewer.flash(response, "success", viewer.gettext("Rule saved."))
    return response


@router.post("/w/{workspace_id}/inbox-rules")
async def create_rule(workspace_id: int, viewer: FormViewer) -> Response:
    return await _save_rule(viewer, workspace_id, None)


@router.post("/w/{workspace_id}/inbox-rules/{rule_id}")
async def update_rule(workspace_id: int, rule_id: int, viewer: FormViewer) -> Response:
    return await _save_rule(viewer, workspace_id, rule_id)


@router.post("/w/{workspace_id}/inbox-acknowledgements")
async def save_acknowledgements(workspace_id: int, viewer: FormViewer) -> Response:
    """Turn automated acknowledgements on or off (admins), with the disclosure they carry."""
    form = await read_form(viewer.request)
    enabled = bool(text(form, "enabled"))
    try:
        inbox.set_acknowledgements(
            viewer.session,
            viewer.principal,
            workspace_id,
            enabled=enabled,
            disclosure=text(form, "disclosure"),
        )
    except DomainError as exc:
        return _rule_refused(viewer, workspace_id, RuleForm(), None, exc)
    response = RedirectResponse(f"/w/{workspace_id}/inbox-rules#acknowledgements", status_code=303)
    viewer.flash(
        response,
        "success",
        viewer.gettext("Automated acknowledgements are on.")
        if enabled
        else viewer.gettext("Automated acknowledgements are off: nothing is sent automatically."),
    )
    return response


@router.post("/w/{workspace_id}/inbox-rules/{rule_id}/delete")
def delete_rule(workspace_id: int, rule_id: int, viewer: FormViewer) -> Response:
    inbox.delete_rule(viewer.session, viewer.principal, workspace_id, rule_id)
    response = RedirectResponse(f"/w/{workspace_id}/inbox-rules", status_code=303)
    viewer.flash(response, "success", viewer.gettext("Rule deleted."))
    return response
