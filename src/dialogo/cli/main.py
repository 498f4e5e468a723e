"""The ``dialogo`` command: serve, worker, database, users and workspaces."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from dialogo import __version__
from dialogo.accounts import service as accounts
from dialogo.accounts.audit import Actor, install, set_actor
from dialogo.accounts.schemas import UserCreate, WorkspaceCreate
from dialogo.core.config import ConfigError, Settings, load_settings
from dialogo.core.context import AppContext
from dialogo.core.db import transaction
from dialogo.core.errors import DomainError
from dialogo.db import migrate

app = typer.Typer(
    name="dialogo",
    help="Dialogo: algorithms serve the conversation, people decide and speak.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (one per brand).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(workspace_app, name="workspace")
channels_app = typer.Typer(help="Connected network accounts.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")

F = TypeVar("F", bound=Callable[..., Any])
CLI_ACTOR = Actor(label="cli")


def fail(message: str, code: int = 1) -> typer.Exit:
    one_line = " ".join(message.split())  # driver messages can span several lines
    typer.secho(f"error: {one_line}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def friendly(func: F) -> F:
    """Print domain and configuration errors as one clear line and exit non-zero."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DomainError, ConfigError) as exc:
            raise fail(str(exc)) from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise fail(problems) from None
        except OperationalError as exc:
            raise fail(f"the database is not reachable or not ready: {exc.orig}") from None
        except NoSuchModuleError as exc:
            raise fail(f"DIALOGO_DATABASE_URL names an unknown database driver ({exc})") from None
        except ArgumentError:  # the message would repeat the URL, password included
            raise fail("DIALOGO_DATABASE_URL is not a valid database URL") from None
        except OSError as exc:  # e.g. a data directory that cannot be created
            raise fail(f"{exc.strerror or exc}: {exc.filename or ''}") from None

    return wrapper  # type: ignore[return-value]


def _context(upgrade: bool = False) -> AppContext:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install()
    ctx = AppContext.build(settings)
    if upgrade:
        migrate.upgrade(ctx.engine)
    elif not migrate.is_up_to_date(ctx.engine):
        ctx.dispose()
        raise ConfigError("the database schema is not current: run `dialogo db upgrade` first")
    return ctx


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dialogo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Dialogo command line."""


# --- serve and worker ------------------------------------------------------------------------


def bootstrap_first_user(ctx: AppContext) -> None:
    """With DIALOGO_FIRST_USER_EMAIL/PASSWORD set and no user yet, create the first owner."""
    settings: Settings = ctx.settings
    if not settings.first_user_email or settings.first_user_password is None:
        return
    with transaction(ctx.session_factory) as session:
        set_actor(session, CLI_ACTOR)
        if accounts.count_users(session) > 0:
            return
        user = accounts.create_user(
            session,
            UserCreate(
                email=settings.first_user_email,
                password=settings.first_user_password.get_secret_value(),
                name="Administrator",
                language=settings.default_language,
                is_superuser=True,
            ),
        )
        principal = accounts.Principal.for_user(user)
        set_actor(session, principal.actor)
        accounts.create_workspace(session, principal, WorkspaceCreate(name="My brand"))
    typer.echo(f"Created the first user {settings.first_user_email} with a workspace 'My brand'.")


@app.command()
@friendly
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    worker: Annotated[bool, typer.Option(help="Run a worker in the same process.")] = True,
) -> None:
    """Run the web app and API (and an in-process worker), upgrading the database first."""
    import uvicorn

    from dialogo.server import create_app

    settings = load_settings()
    ctx = _context(upgrade=settings.auto_migrate)
    bootstrap_first_user(ctx)
    bind_host = host or settings.host
    bind_port = port or settings.port
    typer.echo(
        f"Dialogo {__version__} on http://{bind_host}:{bind_port} "
        f"(database: {ctx.engine.url.render_as_string()})"
    )
    application = create_app(ctx, run_worker=worker and settings.worker_in_process)
    uvicorn.run(
        application,
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command("worker")
@friendly
def worker_command(
    max_jobs: Annotated[int | None, typer.Option(help="Stop after this many jobs.")] = None,
    burst: Annotated[bool, typer.Option(help="Stop when no job is due.")] = False,
    tasks_module: Annotated[
        list[str] | None, typer.Option(help="Extra module registering tasks (repeatable).")
    ] = None,
    streams: Annotated[
        bool,
        typer.Option(
            help="Also run the inbox's streams (networks that push news); in one worker only."
        ),
    ] = False,
) -> None:
    """Run a worker process; start several for more throughput."""
    from dialogo.jobs.registry import registry
    from dialogo.web import report_render
    from dialogo.worker.runner import Worker

    ctx = _context()
    registry.load(tasks_module or ())
    report_render.install()  # the scheduled reports' renderer: the Measurement page's own
    runner = Worker(ctx.settings, ctx.session_factory, registry, clock=ctx.clock)

    def _stop(signum: int, _frame: object) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"worker {runner.worker_id}: tasks {', '.join(registry.names())}")
    stream_runner = None
    if streams and not burst:
        from dialogo.inbox.streams import start_streams

        stream_runner = start_streams(ctx.settings, ctx.session_factory, clock=ctx.clock)
    try:
        handled = runner.run(max_jobs=max_jobs, idle_exit=burst)
    finally:
        if stream_runner is not None:
            stream_runner.stop()
            stream_runner.join(15.0)
    typer.echo(f"worker {runner.worker_id} stopped after {handled} jobs")


# --- db --------------------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    settings = load_settings()
    ctx = AppContext.build(settings)
    migrate.upgrade(ctx.engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(ctx.engine)}")


@db_app.command("current")
@friendly
def db_current() -> None:
    """Print the schema revision and whether it is the newest."""
    ctx = AppContext.build(load_settings())
    current, head = migrate.current_revision(ctx.engine), migrate.head_revision(ctx.engine)
    typer.echo(f"current: {current or 'empty'}  newest: {head}")
    if current != head:
        raise typer.Exit(1)


# --- users and workspaces --------------------------------------------------------------------


@user_app.command("create")
@friendly
def user_create(
    email: Annotated[str, typer.Option(help="E-mail address (the login).")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="DIALOGO_NEW_USER_PASSWORD",
            help="At least 10 characters; prompted when not given.",
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    language: Annotated[str, typer.Option(help="en or it.")] = "en",
    superuser: Annotated[bool, typer.Option(help="Instance administrator.")] = False,
) -> None:
    """Create a user account."""
    ctx = _context()
    with transaction(ctx.session_factory) as session:
        set_actor(session, CLI_ACTOR)
        user = accounts.create_user(
            session,
            UserCreate(
                email=email, password=password, name=name, language=language, is_superuser=superuser
            ),
        )
        typer.echo(f"created user {user.id} {user.email}")


@workspace_app.command("create")
@friendly
def workspace_create(
    name: Annotated[str, typer.Option(help="Brand name.")],
    owner: Annotated[str, typer.Option(help="E-mail of the user who will own it.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "Europe/Rome",
    language: Annotated[str, typer.Option(help="en or it.")] = "it",
    slug: Annotated[str | None, typer.Option(help="Short address (a-z, 0-9, -).")] = None,
) -> None:
    """Create a workspace owned by an existing user."""
    ctx = _context()
    with transaction(ctx.session_factory) as session:
        user = accounts.get_user_by_email(session, owner)
        if user is None:
            raise DomainError(f"no user with e-mail {owner}; create it with `dialogo user create`")
        principal = accounts.Principal.for_user(user)
        set_actor(session, Actor(label=f"cli as {user.email}", user_id=user.id))
        workspace = accounts.create_workspace(
            session,
            principal,
            WorkspaceCreate(name=name, timezone=timezone, language=language, slug=slug),
        )
        typer.echo(f"created workspace {workspace.id} {workspace.slug} owned by {user.email}")


# --- channels --------------------------------------------------------------------------------


@channels_app.command("generate-key")
def channels_generate_key() -> None:
    """Print a new credentials key (put it first in DIALOGO_CREDENTIALS_KEYS, then rotate)."""
    from dialogo.channels.crypto import generate_key

    typer.echo(generate_key())


@channels_app.command("rotate-key")
@friendly
def channels_rotate_key() -> None:
    """Re-encrypt every channel's credentials with the first key of DIALOGO_CREDENTIALS_KEYS."""
    from dialogo.channels.crypto import CredentialCipher
    from dialogo.channels.service import rotate_credentials_key

    ctx = _context()
    with transaction(ctx.session_factory) as session:
        set_actor(session, CLI_ACTOR)
        count = rotate_credentials_key(session, CredentialCipher.from_settings(ctx.settings))
    typer.echo(f"re-encrypted the credentials of {count} channels with the first key")


# --- demo and sandbox ------------------------------------------------------------------------

sandbox_app = typer.Typer(help="The sandbox network (simulated world).", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


def _instant(value: str | None, option: str) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not an ISO 8601 date or instant") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


@app.command("demo")
@friendly
def demo_command(
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 42,
    population: Annotated[int, typer.Option(help="Simulated people.")] = 20_000,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")
    ] = True,
    end: Annotated[
        str | None,
        typer.Option(help="When the 90-day history ends (ISO 8601; default: this hour)."),
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second once it runs.")
    ] = 30.0,
) -> None:
    """Create the demo workspace (once) with 90 days of simulated history, then serve it."""
    import time

    from dialogo.demo.service import DemoOptions, build_demo, start_clock

    started = time.perf_counter()
    options = DemoOptions(seed=seed, population=population, end=_instant(end, "--end"), speed=speed)
    settings = load_settings()
    ctx = _context(upgrade=True)
    typer.echo(f"Building the demo: {population:,} simulated people, seed {seed}…")
    result = build_demo(ctx, options)
    if result.created:
        start_clock(ctx, result.workspace_id)
    elapsed = time.perf_counter() - started
    what = "created" if result.created else "already there, brought up to date"
    typer.echo(f"Demo workspace '{result.workspace_slug}' {what} in {elapsed:.1f} s.")
    for name, value in sorted(result.counts.items()):
        typer.echo(f"  {name}: {value}")
    for step, seconds in result.timings.items():
        typer.echo(f"  {step}: {seconds:.1f} s")
    password = result.password or f"{options.password} (unless you changed it)"
    bind_host = host or settings.host
    bind_port = port or settings.port
    # "Sign in as <login> / <password> " is what the README's run test reads.
    typer.echo(f"Sign in as {result.email} / {password} at http://{bind_host}:{bind_port}/")
    ctx.dispose()
    if serve_after:
        serve(host=host, port=port, worker=True)


@sandbox_app.command("truth")
@friendly
def sandbox_truth(
    out: Annotated[Path, typer.Option(help="Folder to write the ground-truth files into.")],
    workspace: Annotated[
        str | None,
        typer.Option(help="Take the world of this workspace's sandbox channel (its address)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed (without --workspace).")] = 42,
    population: Annotated[int, typer.Option(help="People (without --workspace).")] = 20_000,
    start: Annotated[
        str, typer.Option(help="First day of the history (without --workspace).")
    ] = "2026-01-01",
    days: Annotated[int, typer.Option(help="Days of history (without --workspace).")] = 90,
) -> None:
    """Write the ground truth of a sandbox world (segments, best hours, influence, messages)."""
    import datetime as dt

    from dialogo.providers.sandbox.provider import world_for
    from dialogo.simulation.truthfiles import export_truth

    if workspace is not None:
        from sqlalchemy import select

        from dialogo.accounts.models import Workspace
        from dialogo.demo.service import sandbox_channel

        ctx = _context()
        with ctx.session_factory() as session:
            found = session.scalar(select(Workspace).where(Workspace.slug == workspace))
            channel = sandbox_channel(session, found.id) if found is not None else None
            if channel is None:
                raise DomainError(f"no workspace {workspace!r} with a sandbox channel")
            config = dict(channel.config or {})
        ctx.dispose()
        seed = int(config.get("seed", seed))
        population = int(config.get("population", population))
        start = str(config.get("start", start))
        days = int(config.get("history_days", days))
    if population < 200 or days < 1:
        raise ConfigError("a world needs at least 200 people and one day of history")
    begin = _instant(start, "--start")
    assert isinstance(begin, dt.datetime)
    world = world_for(seed, population, begin, days)
    counts = export_truth(world, out)
    for name, rows in counts.items():
        typer.echo(f"{out / name}: {rows} rows")
    typer.echo(f"{out / 'README.md'}: what each file holds")


# --- posts (publishing: bulk import) -------------------------------------------------------

posts_app = typer.Typer(help="Posts: bulk import.", no_args_is_help=True)
app.add_typer(posts_app, name="posts")


@posts_app.command("import")
@friendly
def posts_import(
    file: Annotated[str, typer.Argument(help="A .csv (with a header line) or .json file.")],
    workspace: Annotated[int, typer.Option(help="Workspace id.")],
    as_user: Annotated[str, typer.Option("--as", help="E-mail of the member importing.")],
    dry_run: Annotated[bool, typer.Option(help="Check every row, write nothing.")] = False,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or json (default: from the name).")
    ] = None,
) -> None:
    """Import posts from CSV or JSON: all rows or none; every error with its row number."""
    from pathlib import Path as _Path

    from dialogo.channels.crypto import CredentialCipher
    from dialogo.publishing import imports

    try:
        data = _Path(file).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    fmt = file_format or imports.detect_format(file, None)
    ctx = _context()
    with transaction(ctx.session_factory) as session:
        user = accounts.get_user_by_email(session, as_user)
        if user is None:
            raise DomainError(f"no user with e-mail {as_user}")
        set_actor(session, Actor(label=f"cli as {user.email}", user_id=user.id))
        try:
            report = imports.import_posts(
                session,
                accounts.Principal.for_user(user),
                workspace,
                data,
                fmt,
                registry=ctx.providers,
                cipher=CredentialCipher.from_settings(ctx.settings),
                dry_run=dry_run,
                now=ctx.clock.now(),
            )
        except imports.ImportRejected as exc:
            for error in exc.errors:
                where = "file" if error.row == 0 else f"row {error.row}"
                typer.echo(f"{where}: {error.field}: {error.message}", err=True)
            raise fail(exc.message) from None
    verb = "would import" if report.dry_run else "imported"
    typer.echo(
        f"{verb} {report.posts} posts ({report.scheduled} scheduled) from {report.rows} rows"
    )


# --- measurement ---------------------------------------------------------------------------

analytics_app = typer.Typer(help="Measurement: metrics, best time, ROI.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


@analytics_app.command("collect")
@friendly
def analytics_collect(
    workspace: Annotated[int | None, typer.Option(help="Only this workspace id.")] = None,
) -> None:
    """Read published posts' metrics from the networks now and update the rollups."""
    from dialogo.analytics.metrics import collect_metrics
    from dialogo.channels.crypto import CredentialCipher

    ctx = AppContext.build(load_settings())
    with transaction(ctx.session_factory) as session:
        report = collect_metrics(
            session,
            registry=ctx.providers,
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
            workspace_id=workspace,
        )
    typer.echo(
        f"{report.snapshots} snapshots of {report.variants} posts on {report.channels} channels"
    )
    for channel_id, reason in report.failed_channels.items():
        typer.echo(f"channel {channel_id}: {reason}", err=True)


@analytics_app.command("best-time")
@friendly
def analytics_best_time(
    workspace: Annotated[int, typer.Option(help="Workspace id.")],
    channel: Annotated[int | None, typer.Option(help="Channel id (default: all).")] = None,
    top: Annotated[int, typer.Option(help="How many slots.")] = 5,
) -> None:
    """The best hours of the week to post, from the workspace's own history."""
    from dialogo.analytics.besttime import best_time_for

    ctx = AppContext.build(load_settings())
    with ctx.session_factory() as session:
        out = best_time_for(session, workspace, channel_id=channel, top=top)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    typer.echo(f"{out.observations} reactions, times in {out.timezone}")
    for slot in out.slots:
        typer.echo(
            f"{days[slot.weekday]} {slot.hour:02d}:00  score {slot.score:.3f} "
            f"[{slot.low:.3f}, {slot.high:.3f}]  P(best) {slot.p_best:.0%}"
        )


@analytics_app.command("evaluate-engagement")
@friendly
def analytics_evaluate_engagement(
    file: Annotated[Path, typer.Argument(help="dataset_Facebook.csv (Moro et al. 2016).")],
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 10,
) -> None:
    """Engagement prediction's MAPE by cross-validation on the Facebook metrics data set."""
    from dialogo.analytics import evaluation

    try:
        results = evaluation.evaluate(file, folds=folds)
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(evaluation.table(results))


@analytics_app.command("rebuild-aggregates")
@friendly
def analytics_rebuild_aggregates(
    workspace: Annotated[int, typer.Option(help="Workspace id.")],
) -> None:
    """Recompute the dashboard's daily and per-post totals from the rollups."""
    from dialogo.analytics import aggregates

    ctx = AppContext.build(load_settings())
    with transaction(ctx.session_factory) as session:
        days, variants = aggregates.rebuild(session, workspace)
    typer.echo(f"{days} days and {variants} posts recomputed")


nlp_app = typer.Typer(
    help="Language understanding: analyse text, train and score models.", no_args_is_help=True
)
app.add_typer(nlp_app, name="nlp")
listening_app = typer.Typer(
    help="Listening: queries, mentions, reputation, alerts.", no_args_is_help=True
)
app.add_typer(listening_app, name="listening")
NlpFormat = Annotated[
    str,
    typer.Option(
        "--format", help="sentipolc, airline, csv (text,label) or multiemotions (Italian emotions)."
    ),
]
ModelPath = Annotated[Path, typer.Option("--model", help="The model file.")]


def _nlp_data(file: Path, fmt: str) -> Any:
    from dialogo.nlp import model as nlp_model

    try:
        return nlp_model.read_file(file, fmt)
    except (nlp_model.DataError, OSError) as exc:
        raise fail(str(exc)) from None


@nlp_app.command("analyse")
def nlp_analyse(
    text: Annotated[str, typer.Argument(help="The text; - reads standard input.")],
    language: Annotated[str | None, typer.Option(help="it or en, if known.")] = None,
) -> None:
    """Language, sentiment, question/complaint cues and topics of one text, as JSON."""
    import dataclasses
    import json

    from dialogo.nlp import analyse

    body = sys.stdin.read() if text == "-" else text
    typer.echo(json.dumps(dataclasses.asdict(analyse(body, language)), ensure_ascii=False))


@nlp_app.command("train")
def nlp_train(file: Path, fmt: NlpFormat, model: ModelPath) -> None:
    """Train a sentiment model on a labelled file and save it."""
    from dialogo.nlp import model as nlp_model

    data = _nlp_data(file, fmt)
    nlp_model.train(data).save(model)
    typer.echo(f"trained on {len(data.texts)} rows: {model}")


@nlp_app.command("evaluate")
def nlp_evaluate(file: Path, fmt: NlpFormat, model: ModelPath) -> None:
    """Score a saved model on a labelled file; the last line is the format's official metric."""
    from dialogo.nlp import model as nlp_model

    data = _nlp_data(file, fmt)
    try:
        loaded = nlp_model.Model.load(model)
        result = nlp_model.evaluate(loaded, data)
    except (nlp_model.DataError, OSError) as exc:
        raise fail(str(exc)) from None
    for key, value in result.items():
        if key != "official":
            typer.echo(f"{key} {value:.4f}")
    typer.echo(f"{nlp_model.OFFICIAL_NAME[fmt]} {result['official']:.4f}")


@nlp_app.command("cross-validate")
def nlp_cross_validate(
    file: Path,
    fmt: NlpFormat,
    folds: Annotated[int, typer.Option(min=2, max=20)] = 5,
) -> None:
    """Stratified k-fold cross-validation; the last line is the official metric."""
    from dialogo.nlp import model as nlp_model

    result = nlp_model.cross_validate(_nlp_data(file, fmt), folds=folds)
    for key, value in result.items():
        if key != "official":
            typer.echo(f"{key} {value:.4f}")
    typer.echo(f"{nlp_model.OFFICIAL_NAME[fmt]} {result['official']:.4f}")


@nlp_app.command("predict")
def nlp_predict(
    file: Path,
    fmt: NlpFormat,
    model: ModelPath,
    out: Annotated[Path, typer.Option("--out", help="Where to write the predictions.")],
) -> None:
    """Label a file with a saved model, writing the input's own format."""
    from dialogo.nlp import model as nlp_model

    data = _nlp_data(file, fmt)
    try:
        n = nlp_model.write_predictions(nlp_model.Model.load(model), data, out)
    except (nlp_model.DataError, OSError) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{n} rows labelled: {out}")


WorkspaceId = Annotated[int, typer.Option("--workspace", help="Workspace id.")]


@listening_app.command("add-query")
@friendly
def listening_add_query(
    workspace: WorkspaceId,
    name: Annotated[str, typer.Option()],
    query: Annotated[str, typer.Option(help="In the listening query language.")],
    kind: Annotated[str, typer.Option(help="brand, competitor or topic.")] = "brand",
) -> None:
    """Save a listening query (a syntax error shows where)."""
    from dialogo.listening import service as listening
    from dialogo.listening.query import QuerySyntaxError
    from dialogo.listening.schemas import QueryCreate

    ctx = _context()
    try:
        with transaction(ctx.session_factory) as session:
            set_actor(session, CLI_ACTOR)
            saved = listening.add_query(
                session,
                workspace,
                QueryCreate(name=name, query=query, kind=kind),
            )
            typer.echo(f"query {saved.id} saved")
    except QuerySyntaxError as exc:
        typer.echo(exc.pointer(), err=True)
        raise fail(exc.message) from None


@listening_app.command("ingest")
@friendly
def listening_ingest(workspace: WorkspaceId) -> None:
    """Read the workspace's channels now (searches and feeds) and check the alerts."""
    from dialogo.channels.crypto import CredentialCipher
    from dialogo.listening import service as listening
    from dialogo.listening.mail import SmtpConfig

    ctx = _context()
    with transaction(ctx.session_factory) as session:
        result = listening.ingest_channels(
            session,
            workspace,
            registry=ctx.providers,
            cipher=CredentialCipher.from_settings(ctx.settings),
            emotion_model=listening.emotion_model_for(ctx.settings),
        )
        alerts = listening.check_alerts(
            session,
            workspace,
            now=ctx.clock.now(),
            smtp=SmtpConfig.from_settings(ctx.settings),
            base_url=ctx.settings.base_url,
        )
    typer.echo(
        f"{result.stored} new mentions ({result.duplicates} already stored, "
        f"{result.unmatched} unmatched), {len(alerts)} alerts"
    )
    for error in result.errors:
        typer.echo(error, err=True)


@listening_app.command("import")
@friendly
def listening_import(
    workspace: WorkspaceId,
    file: Path,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or jsonl.")] = "csv",
) -> None:
    """Import mentions from a file: every bad row is listed and then nothing is imported."""
    from dialogo.listening import service as listening

    ctx = _context()
    content = file.read_bytes()
    try:
        with transaction(ctx.session_factory) as session:
            result = listening.import_content(
                session,
                workspace,
                content,
                fmt,
                emotion_model=listening.emotion_model_for(ctx.settings),
            )
    except listening.ImportFailed as exc:
        for error in exc.errors:
            typer.echo(f"row {error.row}: {error.message}", err=True)
        raise fail(f"{len(exc.errors)} bad row(s), nothing imported") from None
    typer.echo(f"{result.stored} mentions imported ({result.duplicates} already stored)")


@listening_app.command("emotions")
@friendly
def listening_emotions(
    workspace: WorkspaceId,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Emotion model; default: DIALOGO_EMOTION_MODEL."),
    ] = None,
) -> None:
    """Judge the emotions of the stored mentions no emotion model has judged yet."""
    from dialogo.listening import service as listening
    from dialogo.nlp.emotion import EmotionModel
    from dialogo.nlp.model import DataError

    ctx = _context()
    path = model or ctx.settings.emotion_model
    if path is None:
        raise fail("no emotion model: pass --model or set DIALOGO_EMOTION_MODEL")
    try:
        loaded = EmotionModel.load(path)
    except (DataError, OSError) as exc:
        raise fail(str(exc)) from None
    with transaction(ctx.session_factory) as session:
        n = listening.judge_emotions(session, workspace, loaded)
    typer.echo(f"{n} mentions judged ({loaded.language})")


@listening_app.command("reputation")
@friendly
def listening_reputation(
    workspace: WorkspaceId,
    days: Annotated[int, typer.Option(min=1, max=365)] = 30,
) -> None:
    """Volume, net and reach-weighted sentiment and share of voice per query."""
    import datetime as dt

    from dialogo.listening import service as listening

    ctx = _context()
    end = ctx.clock.now()
    with ctx.session_factory() as session:
        rep = listening.compute_reputation(
            session, workspace, start=end - dt.timedelta(days=days), end=end, bucket="day"
        )
    typer.echo(f"{'query':30} {'kind':10} {'volume':>7} {'net':>6} {'weighted':>8} {'SoV':>6}")
    for q in rep.queries:
        typer.echo(
            f"{q.name[:30]:30} {q.kind:10} {q.volume:7d} {q.net:+6.2f} {q.weighted:+8.2f} "
            f"{q.share_of_voice:6.1%}"
        )


@listening_app.command("export-corrections")
@friendly
def listening_export_corrections(workspace: WorkspaceId, out: Path) -> None:
    """The team's label corrections as a text,label CSV (for `dialogo nlp train --format csv`)."""
    import csv

    from dialogo.listening import service as listening

    ctx = _context()
    with ctx.session_factory() as session:
        rows = listening.training_rows(session, workspace)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "language"])
        writer.writerows(rows)
    typer.echo(f"{len(rows)} corrections: {out}")


inbox_app = typer.Typer(help="The unified inbox: ingest, imports, reports.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")


@inbox_app.command("ingest")
@friendly
def inbox_ingest(
    workspace: Annotated[int, typer.Option(help="Workspace id.")],
    network: Annotated[str, typer.Option(help="Only channels of this network.")] = "sandbox",
) -> None:
    """Poll the workspace's working channels of a network now (what the ingest job does)."""
    from dialogo.inbox.demo import ingest_workspace

    ctx = _context()
    report = ingest_workspace(ctx, workspace, network=network)
    typer.echo(
        f"{report.stored} new messages, {report.duplicates} already stored, "
        f"{report.quarantined} quarantined, in {report.conversations} conversations"
    )


@inbox_app.command("twcs-report")
@friendly
def inbox_twcs_report(
    path: Path,
    limit: Annotated[int | None, typer.Option(help="Read only the first N rows.")] = None,
) -> None:
    """First-response times and top-3 suggestion quality on the TWCS customer-care sample."""
    from dialogo.inbox import twcs

    if not path.is_file():
        raise fail(f"no such file: {path}")
    rep = twcs.report(path, limit=limit)
    fr, sg = rep.first_response, rep.suggestions

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:,.1f} min"

    typer.echo(f"{rep.tweets} tweets ({rep.bad_rows} unreadable rows), {rep.threads} threads")
    typer.echo(f"first response (wall clock), {fr.count} answered threads:")
    typer.echo(
        f"  median {minutes(fr.median_seconds)}  p90 {minutes(fr.p90_seconds)}  "
        f"mean {minutes(fr.mean_seconds)}  within 1 h {fr.within_target or 0:.1%}"
    )
    typer.echo(
        f"suggestions: {sg.held_out} held-out threads of {sg.brands} brands (last 20 % per brand)"
    )
    typer.echo(
        f"  top-3 has one with token F1 >= {twcs.CLOSE_F1} to the real answer: "
        f"{sg.hit_rate or 0:.1%} (baseline, the brand's 3 most frequent answers: "
        f"{sg.baseline_hit_rate or 0:.1%}); mean best F1 {sg.mean_best_f1 or 0:.3f}"
    )


@inbox_app.command("import-twcs")
@friendly
def inbox_import_twcs(
    path: Path,
    channel: Annotated[int, typer.Option(help="The channel the threads are imported into.")],
    limit: Annotated[int | None, typer.Option(help="Read only the first N rows.")] = None,
) -> None:
    """Import TWCS threads as conversations of a channel (unreadable rows are quarantined)."""
    from dialogo.channels.models import Channel
    from dialogo.inbox import twcs

    if not path.is_file():
        raise fail(f"no such file: {path}")
    ctx = _context()
    with transaction(ctx.session_factory) as session:
        found = session.get(Channel, channel)
        if found is None:
            raise fail(f"no channel {channel}")
        rep = twcs.import_threads(session, found, path, limit=limit, now=ctx.clock.now())
    typer.echo(
        f"{rep.conversations} conversations: {rep.inbound} customer messages, "
        f"{rep.outbound} brand answers, {rep.duplicates} already there, "
        f"{rep.quarantined} rows quarantined"
    )


# --- audience and influence ----------------------------------------------------------------

audience_app = typer.Typer(
    help="Audience: CRM import, segment sizes, custom-audience exports, GDPR erasure.",
    no_args_is_help=True,
)
app.add_typer(audience_app, name="audience")
influence_app = typer.Typer(
    help="Word of mouth: the interaction graph, influencers, advocates.", no_args_is_help=True
)
app.add_typer(influence_app, name="influence")
AsUser = Annotated[str, typer.Option("--as", help="E-mail of the member acting.")]


def _acting(session: Any, email: str) -> accounts.Principal:
    user = accounts.get_user_by_email(session, email)
    if user is None:
        raise DomainError(f"no user with e-mail {email}")
    set_actor(session, Actor(label=f"cli as {user.email}", user_id=user.id))
    return accounts.Principal.for_user(user)


@audience_app.command("import")
@friendly
def audience_import(
    file: Path,
    workspace: WorkspaceId,
    as_user: AsUser,
    mapping: Annotated[
        list[str],
        typer.Option("--map", help="'CSV column=field', once per column to import."),
    ],
) -> None:
    """Import CRM contacts from a CSV: every bad line is listed and nothing is imported."""
    from dialogo.audience import service as audience

    pairs: dict[str, str] = {}
    for item in mapping:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip():
            raise fail(f"--map {item!r} is not 'CSV column=field'")
        pairs[column.strip()] = field.strip()
    try:
        content = file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{file} is not UTF-8 text") from None
    ctx = _context()
    try:
        with transaction(ctx.session_factory) as session:
            principal = _acting(session, as_user)
            result = audience.import_csv(session, principal, workspace, content, pairs)
    except DomainError as exc:
        for error in exc.details.get("errors", [])[:50]:
            typer.echo(f"line {error['line']}: {error['message']}", err=True)
        raise fail(str(exc)) from None
    typer.echo(f"imported: {result.created} new, {result.updated} updated")


@audience_app.command("size")
@friendly
def audience_size(expression: str, workspace: WorkspaceId, as_user: AsUser) -> None:
    """How many contacts a targeting expression selects."""
    from dialogo.audience import service as audience

    ctx = _context()
    with ctx.session_factory() as session:
        principal = _acting(session, as_user)
        typer.echo(str(audience.segment_size(session, principal, workspace, expression)))


@audience_app.command("export")
@friendly
def audience_export(
    segment: Annotated[str, typer.Argument(help="A saved segment's name or id, or an expression.")],
    workspace: WorkspaceId,
    as_user: AsUser,
    fmt: Annotated[str, typer.Option("--format", help="meta or google.")] = "meta",
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
) -> None:
    """A custom-audience CSV (hashed e-mails and phones) of a segment."""
    from dialogo.audience import service as audience

    ctx = _context()
    with transaction(ctx.session_factory) as session:
        principal = _acting(session, as_user)
        saved = {s.name: s for s in audience.list_segments(session, principal, workspace)}
        by_id = {str(s.id): s for s in saved.values()}
        found = saved.get(segment) or by_id.get(segment)
        expression = found.expression if found is not None else segment
        content, rows = audience.export_audience(session, principal, workspace, expression, fmt)
        if out is not None:
            # Inside the transaction: a file that cannot be written leaves no "exported" audit.
            try:
                out.write_text(content, encoding="utf-8")
            except OSError as exc:
                raise fail(f"cannot write {out}: {exc.strerror}") from None
    if out is None:
        typer.echo(content, nl=False)
    else:
        typer.echo(f"{rows} rows written to {out}")


@audience_app.command("erase")
@friendly
def audience_erase(
    contact: Annotated[int, typer.Argument(help="The contact id.")],
    workspace: WorkspaceId,
    as_user: AsUser,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase one person everywhere (GDPR): messages, identities, profile. Audited."""
    from dialogo.audience import service as audience

    if not yes and not typer.confirm(f"Erase contact {contact} and all their data?"):
        raise fail("nothing erased")
    ctx = _context()
    with transaction(ctx.session_factory) as session:
        principal = _acting(session, as_user)
        counts = audience.erase_person(session, principal, workspace, contact)
    typer.echo(
        f"contact {contact} erased: " + ", ".join(f"{n} {what}" for what, n in counts.items())
    )


@influence_app.command("rebuild")
@friendly
def influence_rebuild(workspace: WorkspaceId, as_user: AsUser) -> None:
    """Rebuild the profiles, the interaction graph and the influencer ranking."""
    from dialogo.channels.crypto import CredentialCipher
    from dialogo.influence import refresh

    ctx = _context()
    with transaction(ctx.session_factory) as session:
        principal = _acting(session, as_user)
        summary = refresh.rebuild(
            session,
            principal,
            workspace,
            registry=ctx.providers,
            cipher=CredentialCipher.from_settings(ctx.settings),
        )
    typer.echo(
        f"{summary.nodes} contacts, {summary.arcs} arcs ({summary.observed_arcs} observed): "
        f"{summary.follows} follows, {summary.replies} replies, {summary.mentions} mentions, "
        f"{summary.propagations} propagations"
    )


@influence_app.command("advocates")
@friendly
def influence_advocates(
    workspace: WorkspaceId,
    as_user: AsUser,
    k: Annotated[int, typer.Option("--k", help="How many advocates.")] = 10,
    model: Annotated[str, typer.Option(help="ic (independent cascade) or lt.")] = "ic",
    exclude: Annotated[
        list[int] | None, typer.Option(help="Contact ids never to ask (repeatable).")
    ] = None,
    runs: Annotated[int, typer.Option(help="Monte Carlo cascades for the forecast.")] = 2000,
) -> None:
    """Choose advocates by influence maximisation and forecast their word-of-mouth spread."""
    from dialogo.influence import service as influence

    ctx = _context()
    with ctx.session_factory() as session:
        principal = _acting(session, as_user)
        plan = influence.select_advocates(
            session, principal, workspace, k=k, model=model, exclude=exclude or (), runs=runs
        )
    typer.echo(
        f"{plan.model.upper()} over {plan.nodes} contacts: expected spread {plan.spread:.1f} "
        f"[{plan.low:.1f}, {plan.high:.1f}] ({plan.runs} runs)"
    )
    for a in plan.advocates:
        handle = f"@{a.contact.handle}, " if a.contact.handle else ""  # CRM contacts have none
        typer.echo(
            f"{a.order:3d}. {a.contact.display_name or '-'} ({handle}contact "
            f"{a.contact.contact_id})  alone {a.alone:.1f}  adds {a.marginal:.1f}"
        )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
