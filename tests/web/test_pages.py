"""Every page: status, key content, permission hiding, forms (plain and htmx)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import ApiToken, User, WebSession, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import WorkspaceUpdate
from dialogo.jobs import service as jobs
from tests.factories import PASSWORD, add_member, make_user, make_workspace
from tests.web.conftest import Browser

DOMAINS = [
    "Publishing",
    "Inbox",
    "Listening",
    "Audience",
    "Word of mouth",
    "Measurement",
]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def nav_links(html: str) -> dict[str, str]:
    """{label: href} of the working links in the sidebar (a count badge is not the label)."""
    sidebar = html.split('<aside class="sidebar">', 1)[1].split("</aside>", 1)[0]
    return {
        m.group(2).strip(): m.group(1)
        for m in re.finditer(
            r'<a href="([^"]+)"(?: aria-current="page")?>([^<]+)(?:<span [^>]*>.*?</span>)?</a>',
            sidebar,
        )
    }


# --- home and switching ----------------------------------------------------------------------


def test_workspace_home(signed_in: Browser, workspace: Workspace) -> None:
    r = signed_in.get(f"/w/{workspace.id}")
    assert r.status_code == 200
    html = r.text
    assert "<h1>Caffè Aurora</h1>" in html
    assert "Europe/Rome" in html
    assert "<dd>Italian</dd>" in html  # the workspace's language, named in the UI language
    assert "1 person works in this workspace." in html
    assert "Workers running" in html and "Jobs waiting" in html and "Queue delay" in html
    assert f'<a href="/w/{workspace.id}" aria-current="page">Overview</a>' in html
    assert 'class="logo"' not in html
    # Landmarks and CSRF for htmx.
    for landmark in ('<header class="app-header">', "<nav ", '<main id="main"'):
        assert landmark in html
    assert f'hx-headers=\'{{"X-CSRF-Token": "{signed_in.csrf}"}}\'' in html


def test_every_domain_is_a_working_nav_item(signed_in: Browser, workspace: Workspace) -> None:
    html = signed_in.get(f"/w/{workspace.id}").text
    assert "coming soon" not in html and 'aria-disabled="true"' not in html
    links = nav_links(html)
    for label in DOMAINS:
        assert links[label].startswith(f"/w/{workspace.id}/"), label
    assert {k: v for k, v in links.items() if k not in DOMAINS} == {
        "Overview": f"/w/{workspace.id}",
        "What-if": f"/w/{workspace.id}/whatif",
        "Channels": f"/w/{workspace.id}/channels",
        "Members": f"/w/{workspace.id}/members",
        "Activity log": f"/w/{workspace.id}/audit",
        "Settings": f"/w/{workspace.id}/settings",
        "Profile": "/profile",
        "API tokens": "/tokens",
        "System health": "/system",
    }


def test_switcher_lists_only_my_workspaces_and_root_remembers(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace
) -> None:
    second = make_workspace(db, owner, "Birrificio Lume")
    stranger = make_user(db)
    make_workspace(db, stranger, "Not Mine")
    db.commit()
    html = signed_in.get(f"/w/{second.id}").text
    switcher = html.split('<details class="dropdown switcher">', 1)[1].split("</details>", 1)[0]
    assert "Birrificio Lume" in switcher and "Caffè Aurora" in switcher
    assert "Not Mine" not in switcher
    assert f'<a href="/w/{second.id}" aria-current="true">' in switcher
    assert 'href="/workspaces/new"' in switcher
    # "/" goes back to the workspace visited last.
    assert signed_in.get("/").headers["location"] == f"/w/{second.id}"
    signed_in.get(f"/w/{workspace.id}")
    assert signed_in.get("/").headers["location"] == f"/w/{workspace.id}"


def test_non_member_gets_a_404_page(db: Session, signed_in: Browser, workspace: Workspace) -> None:
    other = make_workspace(db, make_user(db), "Someone Else")
    db.commit()
    for path in ("", "/members", "/settings", "/audit", "/logo"):
        r = signed_in.get(f"/w/{other.id}{path}")
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "Page not found" in r.text
        assert "Someone Else" not in r.text
        assert "Traceback" not in r.text
    assert signed_in.get("/w/999999").status_code == 404
    assert signed_in.get("/w/not-a-number").status_code == 404


def test_first_workspace_form(db: Session, browser: Browser) -> None:
    user = make_user(db)
    db.commit()
    browser.sign_in(user.email)
    r = browser.get("/")
    assert r.headers["location"] == "/workspaces/new"
    page = browser.get("/workspaces/new")
    assert page.status_code == 200
    assert "<h1>Create your first workspace</h1>" in page.text
    assert '<label for="ws-timezone">Time zone</label>' in page.text
    bad = browser.post("/workspaces", {"name": "", "timezone": "Mars/Olympus", "language": "en"})
    assert bad.status_code == 422
    assert 'aria-describedby="ws-name-error"' in bad.text
    assert "Choose a time zone from the list." in bad.text
    ok = browser.post(
        "/workspaces", {"name": "Pasticceria Rosa", "timezone": "Europe/London", "language": "en"}
    )
    assert ok.status_code == 303
    home = browser.get(ok.headers["location"])
    assert "<h1>Pasticceria Rosa</h1>" in home.text
    assert "Workspace Pasticceria Rosa created." in home.text
    assert "Europe/London" in home.text


# --- permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.viewer, ["Members"], ["Settings", "Activity log"]),
        (Role.editor, ["Members"], ["Settings", "Activity log"]),
        (Role.admin, ["Members", "Settings", "Activity log"], []),
    ],
)
def test_nav_hides_what_the_role_cannot_use(
    db: Session,
    sign_in_as,
    owner: User,
    workspace: Workspace,
    role: Role,
    visible: list[str],
    hidden: list[str],
) -> None:
    member = add_member(db, workspace, owner, role)
    db.commit()
    browser = sign_in_as(member)
    html = browser.get(f"/w/{workspace.id}").text
    links = nav_links(html)
    for label in visible:
        assert label in links
    for label in hidden:
        assert label not in links
        assert f">{label}<" not in html.split("<main", 1)[0]
    for path in ("/settings", "/audit"):
        expected = 200 if "Settings" in visible else 403
        r = browser.get(f"/w/{workspace.id}{path}")
        assert r.status_code == expected, path
        if expected == 403:
            assert "You cannot do this" in r.text
            assert "Your role does not allow this." in r.text


def test_viewer_sees_members_without_forms(
    db: Session,
    sign_in_as,
    owner: User,
    workspace: Workspace,
) -> None:
    viewer = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    browser = sign_in_as(viewer)
    html = browser.get(f"/w/{workspace.id}/members").text
    assert owner.email in html and viewer.email in html
    assert "Add a member" not in html
    assert "/remove" not in html
    # The service refuses, and the refusal is a message, not a stack trace.
    r = browser.htmx(f"/w/{workspace.id}/members", {"email": viewer.email, "role": "admin"})
    assert r.status_code == 403
    assert "Your role does not allow this." in r.text


# --- settings --------------------------------------------------------------------------------


def test_settings_edit(signed_in: Browser, workspace: Workspace) -> None:
    page = signed_in.get(f"/w/{workspace.id}/settings")
    assert page.status_code == 200
    assert '<option value="Europe/Rome" selected>' in page.text
    assert f'<a href="/w/{workspace.id}/settings" aria-current="page">Settings</a>' in page.text
    bad = signed_in.post(
        f"/w/{workspace.id}/settings", {"name": "x" * 300, "timezone": "Nowhere", "language": "fr"}
    )
    assert bad.status_code == 422
    for field in ("ws-name", "ws-timezone", "ws-language"):
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in bad.text
    ok = signed_in.post(
        f"/w/{workspace.id}/settings",
        {"name": "Caffè Aurora Milano", "timezone": "America/New_York", "language": "en"},
    )
    assert ok.status_code == 303
    after = signed_in.get(ok.headers["location"])
    assert "Settings saved." in after.text
    assert '<option value="America/New_York" selected>' in after.text
    home = signed_in.get(f"/w/{workspace.id}").text
    assert "<h1>Caffè Aurora Milano</h1>" in home and "America/New_York" in home
    assert "<dd>English</dd>" in home


def test_logo_upload(signed_in: Browser, workspace: Workspace) -> None:
    url = f"/w/{workspace.id}/settings/logo"
    wrong = signed_in.post(url, files={"logo": ("logo.txt", b"hello", "text/plain")})
    assert wrong.status_code == 422
    assert "The logo must be a PNG, JPEG, WebP, GIF or SVG image." in wrong.text
    assert 'aria-describedby="logo-error"' in wrong.text
    ok = signed_in.post(url, files={"logo": ("logo.png", PNG, "image/png")})
    assert ok.status_code == 303
    assert "Logo updated." in signed_in.get(ok.headers["location"]).text
    home = signed_in.get(f"/w/{workspace.id}").text
    assert f'<img src="/w/{workspace.id}/logo" alt="" class="logo"' in home
    logo = signed_in.get(f"/w/{workspace.id}/logo")
    assert logo.content == PNG
    assert logo.headers["content-type"] == "image/png"
    assert "sandbox" in logo.headers["content-security-policy"]


# --- members ---------------------------------------------------------------------------------


def test_members_add_change_remove_without_javascript(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    colleague = make_user(db)
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/members")
    assert page.status_code == 200
    assert '<label for="member-email">E-mail</label>' in page.text
    r = signed_in.post(
        f"/w/{workspace.id}/members", {"email": colleague.email.upper(), "role": "editor"}
    )
    assert r.status_code == 303
    page = signed_in.get(r.headers["location"])
    assert f"{colleague.email} was added as Editor." in page.text
    member_id = next(
        m.id
        for m in accounts.list_members(db, accounts.Principal.for_user(colleague), workspace.id)
        if m.user_id == colleague.id
    )
    r = signed_in.post(f"/w/{workspace.id}/members/{member_id}/role", {"role": "approver"})
    assert r.status_code == 303
    assert f"{colleague.email} is now Approver." in signed_in.get(r.headers["location"]).text
    r = signed_in.post(f"/w/{workspace.id}/members/{member_id}/remove")
    assert r.status_code == 303
    page = signed_in.get(r.headers["location"]).text
    assert f"{colleague.email} was removed from the workspace." in page
    assert colleague.email not in page.split("</div>", 1)[1].split('role="alert"')[0]


def test_members_with_htmx(db: Session, signed_in: Browser, workspace: Workspace) -> None:
    colleague = make_user(db)
    db.commit()
    url = f"/w/{workspace.id}/members"
    r = signed_in.htmx(url, {"email": colleague.email, "role": "agent"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="members"')  # a fragment, not a page
    assert "<html" not in r.text
    assert f"{colleague.email} was added as Agent." in r.text and 'role="alert"' in r.text
    # An unknown e-mail: the error is tied to the field.
    r = signed_in.htmx(url, {"email": "nobody@example.com", "role": "agent"})
    assert r.status_code == 404
    assert 'aria-invalid="true" aria-describedby="member-email-error"' in r.text
    assert "Nobody has an account with this e-mail address" in r.text
    assert 'value="nobody@example.com"' in r.text
    # Already a member.
    r = signed_in.htmx(url, {"email": colleague.email, "role": "agent"})
    assert r.status_code == 409
    assert "This person is already a member of the workspace." in r.text
    # Invalid input.
    r = signed_in.htmx(url, {"email": "not-an-email", "role": "king"})
    assert r.status_code == 422
    assert "Enter a valid e-mail address." in r.text and "Choose a role." in r.text


def test_last_owner_and_grant_rules_are_messages(
    db: Session,
    signed_in: Browser,
    sign_in_as,
    owner: User,
    workspace: Workspace,
) -> None:
    own_id = next(
        m.id
        for m in accounts.list_members(db, accounts.Principal.for_user(owner), workspace.id)
        if m.user_id == owner.id
    )
    r = signed_in.htmx(f"/w/{workspace.id}/members/{own_id}/role", {"role": "viewer"})
    assert r.status_code == 409
    assert "A workspace needs at least one owner." in r.text
    r = signed_in.htmx(f"/w/{workspace.id}/members/{own_id}/remove")
    assert r.status_code == 409
    # An admin cannot touch owners.
    admin = add_member(db, workspace, owner, Role.admin)
    db.commit()
    browser = sign_in_as(admin)
    r = browser.htmx(f"/w/{workspace.id}/members/{own_id}/remove")
    assert r.status_code == 403
    assert "Your role does not allow this." in r.text
    assert browser.get(f"/w/{workspace.id}/members").text.count(owner.email) >= 1


def test_removing_myself_leaves_the_workspace(
    db: Session,
    sign_in_as,
    owner: User,
    workspace: Workspace,
) -> None:
    admin = add_member(db, workspace, owner, Role.admin)
    db.commit()
    browser = sign_in_as(admin)
    mine = next(
        m.id
        for m in accounts.list_members(db, accounts.Principal.for_user(owner), workspace.id)
        if m.user_id == admin.id
    )
    r = browser.htmx(f"/w/{workspace.id}/members/{mine}/remove")
    assert r.headers["hx-redirect"] == "/"
    assert browser.get(f"/w/{workspace.id}").status_code == 404


# --- tokens ----------------------------------------------------------------------------------


def test_tokens_create_shown_once_and_revoke(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    page = signed_in.get("/tokens")
    assert page.status_code == 200
    assert "You have no API tokens yet." in page.text
    assert "<legend>Scopes</legend>" in page.text
    bad = signed_in.post("/tokens", {"name": "", "expires": "90"})
    assert bad.status_code == 422
    assert "Choose at least one scope." in bad.text
    r = signed_in.post(
        "/tokens",
        {
            "name": "weekly report",
            "scopes": ["read", "write"],
            "workspace_id": str(workspace.id),
            "expires": "30",
        },
    )
    assert r.status_code == 201
    token = re.search(r'id="new-token" type="text" readonly value="(dlg_[^"]+)"', r.text)
    assert token, r.text
    assert "Copy it now: it is shown only once" in r.text
    # The token works against the API, and is never shown again.
    api = signed_in.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.status_code == 200
    again = signed_in.get("/tokens").text
    assert token.group(1) not in again
    assert "weekly report" in again and "Read, Write" in again and "Caffè Aurora" in again
    row = db.query(ApiToken).filter_by(name="weekly report").one()
    assert row.expires_at is not None
    # Revoke with htmx.
    r = signed_in.htmx(f"/tokens/{row.id}/revoke")
    assert r.status_code == 200
    assert "Token weekly report revoked." in r.text
    assert ">Revoked<" in r.text
    assert (
        signed_in.client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 401
    )


def test_token_creation_with_htmx_returns_the_section(signed_in: Browser) -> None:
    r = signed_in.htmx("/tokens", {"name": "ci", "scopes": "read", "expires": "never"})
    assert r.status_code == 201
    assert r.text.lstrip().startswith('<section id="tokens"')
    assert "dlg_" in r.text and "never" in r.text


# --- audit -----------------------------------------------------------------------------------


def test_audit_log(signed_in: Browser, workspace: Workspace) -> None:
    signed_in.get(f"/w/{workspace.id}/settings")
    signed_in.post(
        f"/w/{workspace.id}/settings",
        {"name": "Aurora Due", "timezone": "Europe/Rome", "language": "it"},
    )
    r = signed_in.get(f"/w/{workspace.id}/audit")
    assert r.status_code == 200
    html = r.text
    assert "<h1>Activity log</h1>" in html
    assert "Changed: Workspace" in html
    assert "Caffè Aurora → Aurora Due" in html
    assert "Added: Member" in html
    assert "Older entries" not in html


def test_audit_pagination(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace
) -> None:
    principal = accounts.Principal.for_user(owner)
    for i in range(55):
        accounts.update_workspace(db, principal, workspace.id, WorkspaceUpdate(name=f"Name {i}"))
    db.commit()
    first = signed_in.get(f"/w/{workspace.id}/audit").text
    assert "Older entries" in first
    older = re.search(r'href="(/w/\d+/audit\?before=\d+)"', first)
    assert older
    second = signed_in.get(older.group(1))
    assert second.status_code == 200
    assert "Newest entries" in second.text
    assert "Name 0" in second.text


# --- system ----------------------------------------------------------------------------------


def test_system_health(db: Session, signed_in: Browser) -> None:
    now = dt.datetime.now(dt.UTC)
    jobs.heartbeat(db, "host-a:101:aaaa", now=now, done=3)
    jobs.heartbeat(db, "host-b:202:bbbb", now=now - dt.timedelta(minutes=10), failed=1)
    jobs.enqueue(db, "demo.task", run_at=now - dt.timedelta(minutes=5))
    db.commit()
    r = signed_in.get("/system")
    assert r.status_code == 200
    html = r.text
    assert "<h1>System health</h1>" in html
    assert '<span class="badge badge-ok">alive</span>' in html
    assert '<span class="badge badge-bad">stale</span>' in html
    assert "host-a" in html and "host-b" in html
    assert '<th scope="row">Queued</th><td class="num">1</td>' in html
    assert "5 minutes" in html  # queue delay
    assert "10 minutes ago" in html
    assert '<a href="/system" aria-current="page">System health</a>' in html


# --- profile and language --------------------------------------------------------------------


def test_profile_and_language(db: Session, signed_in: Browser, owner: User) -> None:
    page = signed_in.get("/profile")
    assert page.status_code == 200
    assert f'value="{owner.email}"' in page.text
    r = signed_in.post("/profile", {"name": "Giulia Rossi", "language": "it"})
    assert r.status_code == 303
    page = signed_in.get("/profile")
    assert '<html lang="it"' in page.text
    assert "Profilo salvato." in page.text
    assert 'value="Giulia Rossi"' in page.text
    assert "<h1>Profilo</h1>" in page.text
    bad = signed_in.post("/profile", {"name": "x", "language": "de"})
    assert bad.status_code == 422
    assert "Scegli italiano o inglese." in bad.text


def test_language_toggle_in_the_header(signed_in: Browser, workspace: Workspace) -> None:
    english = signed_in.get(f"/w/{workspace.id}/members").text
    assert '<html lang="en"' in english
    assert 'aria-pressed="true" class="">EN</button>' in english
    r = signed_in.post("/language", {"language": "it", "next": f"/w/{workspace.id}/members"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/w/{workspace.id}/members"
    italian = signed_in.get(r.headers["location"]).text
    assert '<html lang="it"' in italian
    for word in (
        "Pubblicazione",
        "Posta in arrivo",
        "Ascolto",
        "Pubblico",
        "Passaparola",
        "Misurazione",
        "Canali",
        "Impostazioni",
        "Membri",
        "Registro attività",
        "Esci",
    ):
        assert word in italian, word
    assert "Publishing" not in italian and "coming soon" not in italian
    # Never off-site.
    r = signed_in.post("/language", {"language": "en", "next": "https://evil.example/"})
    assert r.headers["location"] == "/"


def test_change_password(db: Session, signed_in: Browser, owner: User) -> None:
    other_device = accounts.create_web_session(db, owner, ttl=dt.timedelta(hours=1))[1].id
    db.commit()
    wrong = signed_in.post(
        "/profile/password",
        {
            "current_password": "nope",
            "new_password": "a new password",
            "confirm_password": "a new password",
        },
    )
    assert wrong.status_code == 422
    assert "The current password is not correct." in wrong.text
    assert 'aria-describedby="current-password-error"' in wrong.text
    mismatch = signed_in.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "new_password": "a new password",
            "confirm_password": "other",
        },
    )
    assert "The two new passwords do not match." in mismatch.text
    short = signed_in.post(
        "/profile/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert "at least 10 characters" in short.text
    ok = signed_in.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "new_password": "a new password",
            "confirm_password": "a new password",
        },
    )
    assert ok.status_code == 303
    after = signed_in.get("/profile")
    assert after.status_code == 200  # this browser stays signed in
    assert "Password changed. Other devices have been signed out." in after.text
    db.expire_all()
    assert db.get(WebSession, other_device) is None
    signed_in.client.cookies.clear()
    assert signed_in.sign_in(owner.email, "a new password").status_code == 303


# --- CSRF on every form ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/logout",
        "/language",
        "/profile",
        "/profile/password",
        "/tokens",
        "/tokens/1/revoke",
        "/workspaces",
        "/w/{ws}/settings",
        "/w/{ws}/settings/logo",
        "/w/{ws}/members",
        "/w/{ws}/members/1/role",
        "/w/{ws}/members/1/remove",
    ],
)
def test_posts_without_the_csrf_token_are_refused(
    signed_in: Browser, workspace: Workspace, path: str
) -> None:
    url = path.format(ws=workspace.id)
    r = signed_in.client.post(url, data={"name": "x", "language": "it", "role": "viewer"})
    assert r.status_code == 403, url
    assert r.headers["content-type"].startswith("text/html")
    assert "This form expired or did not come from Dialogo" in r.text
    wrong = signed_in.client.post(url, data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    htmx = signed_in.client.post(url, headers={"HX-Request": "true", "X-CSRF-Token": "forged"})
    assert htmx.status_code == 403
    assert htmx.headers["hx-retarget"] == "#flash"
    assert 'role="alert"' in htmx.text and "<html" not in htmx.text
