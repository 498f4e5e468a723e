"""The ``dialogo`` command: serve, worker, database, users and workspaces."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from functools import wraps
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
) -> None:
    """Run a worker process; start several for more throughput."""
    from dialogo.jobs.registry import registry
    from dialogo.worker.runner import Worker

    ctx = _context()
    registry.load(tasks_module or ())
    runner = Worker(ctx.settings, ctx.session_factory, registry, clock=ctx.clock)

    def _stop(signum: int, _frame: object) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"worker {runner.worker_id}: tasks {', '.join(registry.names())}")
    handled = runner.run(max_jobs=max_jobs, idle_exit=burst)
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
