"""``dialogo audience import|size|export|erase`` and ``dialogo influence rebuild|advocates``:
what they print and change, and the one clear error line (non-zero exit) for bad input, with
nothing written."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import AuditEntry, Workspace
from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.channels.models import Channel
from dialogo.cli.main import app
from dialogo.inbox.models import Contact, ContactIdentity, Message
from dialogo.influence.models import InfluenceEdge
from tests.cli.test_cli import PASSWORD, Cli, clean_env  # noqa: F401 (autouse fixture)

OWNER = "owner@example.com"
MAPS = ("--map", "CRM id=external_id", "--map", "E-mail=email", "--map", "Nome=first_name",
        "--map", "Età=age", "--map", "Interessi=interests", "--map", "Paese=country")  # fmt: skip
CRM = (
    "CRM id,E-mail,Nome,Età,Interessi,Paese,Note\n"
    "c1,Anna.Rossi@Example.com,Anna,29,running;yoga,IT,vip\n"
    "c2,marco@example.com,Marco,31,running,IT,\n"
    "c3,giulia@example.com,Giulia,45,cooking,IT,\n"
)


@pytest.fixture
def cli(fresh_database: str, tmp_path: Path) -> Cli:
    """A migrated database with one user owning one workspace."""
    cli = Cli(fresh_database, tmp_path)
    cli.ok("user", "create", "--email", OWNER, "--password", PASSWORD)
    cli.ok("workspace", "create", "--name", "Caffè Aurora", "--owner", OWNER)
    return cli


def workspace_id(cli: Cli) -> str:
    engine = cli.engine()
    try:
        with Session(engine) as session:
            return str(session.scalars(select(Workspace.id)).one())
    finally:
        engine.dispose()


def count(cli: Cli, model: type, *where: object) -> int:
    engine = cli.engine()
    try:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        engine.dispose()


def audits(cli: Cli, action: str) -> list[AuditEntry]:
    engine = cli.engine()
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    finally:
        engine.dispose()


def crm_file(tmp_path: Path, content: str = CRM, name: str = "crm.csv") -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def imported(cli: Cli, tmp_path: Path) -> str:
    ws = workspace_id(cli)
    cli.ok("audience", "import", crm_file(tmp_path), "--workspace", ws, "--as", OWNER, *MAPS)
    return ws


def contact_of(cli: Cli, external_id: str) -> int:
    engine = cli.engine()
    try:
        with Session(engine) as session:
            return int(
                session.scalars(
                    select(ContactProfile.contact_id).where(
                        ContactProfile.external_id == external_id
                    )
                ).one()
            )
    finally:
        engine.dispose()


def fails_with_lines(cli: Cli, *args: str) -> list[str]:
    """A command that fails cleanly after listing details: its stderr lines, the last one
    being the ``error:`` line."""
    result = cli(*args)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert not any(line.startswith("error: ") for line in lines[:-1])
    return lines


# --- audience import --------------------------------------------------------------------------


def test_import_creates_then_updates_contacts(cli: Cli, tmp_path: Path) -> None:
    ws = workspace_id(cli)
    args = ("audience", "import", crm_file(tmp_path), "--workspace", ws, "--as", OWNER, *MAPS)
    assert cli.ok(*args).stdout.strip() == "imported: 3 new, 0 updated"
    assert count(cli, Contact) == 3
    assert count(cli, ContactProfile, ContactProfile.email == "anna.rossi@example.com") == 1
    assert count(cli, ContactInterest) == 4
    assert cli.ok(*args).stdout.strip() == "imported: 0 new, 3 updated"
    assert count(cli, Contact) == 3
    [first, _] = audits(cli, "audience.imported")
    assert first.actor_label == f"cli as {OWNER}"


def test_import_lists_every_bad_line_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    ws = workspace_id(cli)
    content = (
        "CRM id,E-mail,Nome,Età,Interessi,Paese,Note\n"
        "c1,anna@example.com,Anna,29,running,IT,\n"
        "c2,not-an-address,Marco,31,running,IT,\n"
        "c3,giulia@example.com,Giulia,45,cooking,Italy,\n"
        "c4,luca@example.com,Luca\n"
    )
    lines = fails_with_lines(
        cli, "audience", "import", crm_file(tmp_path, content), "--workspace", ws, "--as", OWNER,
        *MAPS,
    )  # fmt: skip
    assert lines == [
        "line 3: email 'not-an-address' is not an e-mail address",
        "line 4: country 'Italy' is not a two-letter ISO code",
        "line 5: 3 fields, the header has 7",
        "error: 3 bad row(s) (lines 3, 4, 5); nothing was imported",
    ]
    assert count(cli, Contact) == 0
    assert audits(cli, "audience.imported") == []


def test_import_refuses_bad_mappings_and_unreadable_files(cli: Cli, tmp_path: Path) -> None:
    ws = workspace_id(cli)
    good = crm_file(tmp_path)
    common = ("--workspace", ws, "--as", OWNER)
    message = cli.fails("audience", "import", good, *common, "--map", "E-mail")
    assert message == "error: --map 'E-mail' is not 'CSV column=field'"
    message = cli.fails("audience", "import", good, *common, "--map", "E-mail=shoe_size")
    assert message == "error: unknown field(s): shoe_size"
    lines = fails_with_lines(cli, "audience", "import", good, *common, "--map", "Mail=email")
    assert lines[-1] == "error: column(s) not in the file: Mail"
    missing = str(tmp_path / "missing.csv")
    message = cli.fails("audience", "import", missing, *common, *MAPS)
    assert message == f"error: cannot read {missing}: No such file or directory"
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("CRM id,E-mail\nc1,caffè@example.com\n".encode("latin-1"))
    message = cli.fails("audience", "import", str(latin1), *common, "--map", "E-mail=email")
    assert message == f"error: {latin1} is not UTF-8 text"
    assert count(cli, Contact) == 0


def test_unknown_workspace_and_unknown_user(cli: Cli, tmp_path: Path) -> None:
    ws = workspace_id(cli)
    other = str(int(ws) + 1000)
    file = crm_file(tmp_path)
    assert cli.fails("audience", "import", file, "--workspace", other, "--as", OWNER, *MAPS) == (
        "error: workspace not found"
    )
    for command in (
        ("audience", "size", "age 25-34"),
        ("audience", "export", "age 25-34"),
        ("audience", "erase", "1", "--yes"),
        ("influence", "rebuild"),
        ("influence", "advocates"),
    ):
        message = cli.fails(*command, "--workspace", other, "--as", OWNER)
        assert message == "error: workspace not found", command
    message = cli.fails("audience", "size", "age 25-34", "--workspace", ws, "--as", "x@example.com")
    assert message == "error: no user with e-mail x@example.com"
    assert count(cli, Contact) == 0


# --- audience size ----------------------------------------------------------------------------


def test_size_counts_the_contacts_an_expression_selects(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    common = ("--workspace", ws, "--as", OWNER)
    assert cli.ok("audience", "size", "interest:running", *common).stdout == "2\n"
    assert cli.ok("audience", "size", "age 25-34 AND interest:running", *common).stdout == "2\n"
    assert cli.ok("audience", "size", "age 35+ OR interest:yoga", *common).stdout == "2\n"
    assert cli.ok("audience", "size", "country = FR", *common).stdout == "0\n"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("age 25-34 AND AND interest:running", "error: column 15: unexpected 'AND'"),
        ("age 25-34 AND (interest:running", "error: column 32: unexpected 'end of expression'"),
        ("age 40-30", "error: column 5: age range 40-30 is reversed"),
        ("shoe = 42", "error: column 1: unexpected 'shoe'"),
        ("   ", "error: column 1: the expression is empty"),
    ],
)
def test_size_reports_where_an_expression_is_wrong(
    cli: Cli, expression: str, expected: str
) -> None:
    ws = workspace_id(cli)
    assert cli.fails("audience", "size", expression, "--workspace", ws, "--as", OWNER) == expected


# --- audience export --------------------------------------------------------------------------


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_export_writes_hashed_identifiers(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    common = ("--workspace", ws, "--as", OWNER)
    shown = cli.ok("audience", "export", "interest:running", *common).stdout
    table = list(csv.DictReader(io.StringIO(shown)))
    assert [row["email"] for row in table] == [
        _sha("anna.rossi@example.com"),
        _sha("marco@example.com"),
    ]
    assert "anna" not in shown.lower()
    out = tmp_path / "google.csv"
    result = cli.ok("audience", "export", "interest:cooking", *common, "--format", "google",
                    "--out", str(out))  # fmt: skip
    assert result.stdout.strip() == f"1 rows written to {out}"
    [row] = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert row["Email"] == _sha("giulia@example.com")
    assert [a.after for a in audits(cli, "audience.exported")] == [
        {"format": "meta", "expression": "interest:running", "rows": 2},
        {"format": "google", "expression": "interest:cooking", "rows": 1},
    ]


def test_export_of_a_saved_segment_by_name_and_id(cli: Cli, tmp_path: Path) -> None:
    from dialogo.accounts import service as accounts
    from dialogo.accounts.models import User
    from dialogo.audience import service as audience

    ws = imported(cli, tmp_path)
    engine = cli.engine()
    try:
        with Session(engine) as session:
            user = session.scalars(select(User)).one()
            principal = accounts.Principal.for_user(user)
            segment = audience.create_segment(
                session, principal, int(ws), name="Yoga lovers", expression="interest:yoga"
            )
            segment_id = str(segment.id)
            session.commit()
    finally:
        engine.dispose()
    common = ("--workspace", ws, "--as", OWNER)
    for chosen in ("Yoga lovers", segment_id):
        table = list(
            csv.DictReader(io.StringIO(cli.ok("audience", "export", chosen, *common).stdout))
        )
        assert [row["email"] for row in table] == [_sha("anna.rossi@example.com")]


def test_export_errors_leave_no_export_behind(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    common = ("--workspace", ws, "--as", OWNER)
    message = cli.fails("audience", "export", "interest:running", *common, "--format", "tiktok")
    assert message == "error: unknown export format 'tiktok': use meta or google"
    message = cli.fails("audience", "export", "interest:running AND", *common)
    assert message == "error: column 21: unexpected 'end of expression'"
    unwritable = tmp_path / "no-such-dir" / "out.csv"
    message = cli.fails("audience", "export", "interest:running", *common, "--out", str(unwritable))
    assert message == f"error: cannot write {unwritable}: No such file or directory"
    assert audits(cli, "audience.exported") == []


# --- audience erase ---------------------------------------------------------------------------


def test_erase_removes_the_person_after_confirmation(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    anna = contact_of(cli, "c1")
    common = ("--workspace", ws, "--as", OWNER)
    result = cli.runner.invoke(
        app,
        ["audience", "erase", str(anna), *common],
        env=cli.env,
        input="n\n",
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == "error: nothing erased"
    assert count(cli, Contact, Contact.id == anna) == 1

    result = cli.ok("audience", "erase", str(anna), *common, "--yes")
    assert result.stdout.strip() == (
        f"contact {anna} erased: 0 messages, 0 conversations, 0 identities, 2 interests, 1 profile"
    )
    assert count(cli, Contact, Contact.id == anna) == 0
    assert count(cli, Contact) == 2
    [entry] = audits(cli, "contact.erased")
    assert entry.entity_id == str(anna)
    assert cli.fails("audience", "erase", str(anna), *common, "--yes") == ("error: no such contact")


# --- influence --------------------------------------------------------------------------------


def _conversations(cli: Cli, ws: str) -> None:
    """Replies and a mention between the imported contacts, on a (non-sandbox) channel: Marco
    and Giulia answer Anna's messages, and Giulia mentions Marco."""
    anna, marco, giulia = (contact_of(cli, c) for c in ("c1", "c2", "c3"))
    engine = cli.engine()
    try:
        with Session(engine) as session:
            channel = Channel(
                workspace_id=int(ws),
                network="bluesky",
                name="Brand",
                account_remote_id="did:brand",
                account_handle="brand.test",
                credentials="x",
            )
            session.add(channel)
            session.flush()
            session.add(
                ContactIdentity(
                    contact_id=marco,
                    workspace_id=int(ws),
                    network="bluesky",
                    remote_id="did:m",
                    handle="marco.test",
                )
            )
            written = [
                ("a1", None, anna, "Il nuovo espresso è ottimo"),
                ("m1", "a1", marco, "Vero!"),
                ("g1", "a1", giulia, "Lo provo domani"),
                ("a2", None, anna, "Miscela dell'anno"),
                ("m2", "a2", marco, "Concordo"),
                ("g2", None, giulia, "Chiedete a @marco.test"),
            ]
            for remote_id, parent, contact, text in written:
                session.add(
                    Message(
                        workspace_id=int(ws),
                        channel_id=channel.id,
                        remote_id=remote_id,
                        kind="mention" if parent is None else "comment",
                        in_reply_to=parent,
                        contact_id=contact,
                        text=text,
                    )
                )
            session.commit()
    finally:
        engine.dispose()


def test_influence_rebuild_then_advocates(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    _conversations(cli, ws)
    common = ("--workspace", ws, "--as", OWNER)
    result = cli.ok("influence", "rebuild", *common)
    assert result.stdout.strip() == (
        "3 contacts, 3 arcs (3 observed): 0 follows, 3 replies, 1 mentions, 0 propagations"
    )
    assert count(cli, InfluenceEdge) == 3
    [entry] = audits(cli, "influence.rebuilt")
    assert entry.after == {"nodes": 3, "arcs": 3}

    anna = contact_of(cli, "c1")
    result = cli.ok("influence", "advocates", *common, "--k", "1", "--runs", "200")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("IC over 3 contacts: expected spread ")
    assert lines[0].endswith("(200 runs)")
    assert len(lines) == 2
    assert lines[1].startswith(f"  1. Anna (contact {anna})  alone ")

    result = cli.ok("influence", "advocates", *common, "--k", "1", "--runs", "200",
                    "--exclude", str(anna), "--model", "lt")  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("LT over 3 contacts")
    assert f"contact {anna})" not in lines[1]


def test_influence_errors(cli: Cli, tmp_path: Path) -> None:
    ws = imported(cli, tmp_path)
    common = ("--workspace", ws, "--as", OWNER)
    assert cli.fails("influence", "advocates", *common) == (
        "error: no interaction graph yet: build it first"
    )
    cli.ok("influence", "rebuild", *common)
    assert cli.fails("influence", "advocates", *common, "--model", "sir") == (
        "error: unknown model 'sir': use ic or lt"
    )
    message = cli.fails("influence", "advocates", *common, "--k", "0")
    assert message.startswith("error: the budget k must lie in 1 … ")
    assert cli.fails("influence", "advocates", *common, "--exclude", "999999") == (
        "error: contact(s) not in the interaction graph: 999999"
    )
