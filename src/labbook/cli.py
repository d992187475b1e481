"""The ``labbook`` command: serve, migrate, demo and admin verbs."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from labbook import db, migrate
from labbook.errors import ConfigurationError, LabbookError
from labbook.settings import Settings


def app_factory() -> Any:
    """Entry point for ASGI servers (``granian --interface asgi --factory labbook.cli:app_factory``).

    In a worker of ``labbook serve`` it also stops the worker once its supervisor is gone.
    """
    from labbook.server import app_factory_for

    return app_factory_for(Settings.from_env())


def _run(settings: Settings, work: Callable[[Any], Awaitable[None]]) -> None:
    url = db.resolve_database_url(settings)

    async def main() -> None:
        conn = await db.connect(url)
        try:
            await work(conn)
        finally:
            await conn.close()

    asyncio.run(main())


def served_base_url(host: str, port: int) -> str:
    """The address links name when ``LABBOOK_BASE_URL`` is unset: where this server listens.

    A wildcard address is not one a browser can open, so it becomes this machine's loopback; people
    on other machines need ``LABBOOK_BASE_URL`` set to the name they use.
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from labbook import server

    server.wait_for_port(args.host, args.port)
    if settings.metrics_token:
        server.share_metrics_between_workers()
    # Links shown once (a private feed's address) must work: without a configured address they name
    # the host and port served here, not the default port. The workers read it from the environment.
    if not os.environ.get("LABBOOK_BASE_URL"):
        os.environ["LABBOOK_BASE_URL"] = served_base_url(args.host, args.port)

    # Start (or join) the database here to migrate once. Each worker joins the embedded server too,
    # so that it stays up while any labbook process still uses it.
    def prepare_database() -> None:
        url = db.resolve_database_url(settings)

        async def prepare(conn: Any) -> None:
            for name in await migrate.apply(conn):
                print(f"applied {name}")
            if args.demo:
                from labbook.demo import load_demo

                print(await load_demo(conn))

        _run(settings.with_changes(database_url=url), prepare)

    # Workers are forked from this process: building the app (routes, OpenAPI) once here, as they
    # would from the environment, saves each of them seconds of start-up. It is built while the
    # database starts, which is mostly waiting.
    with ThreadPoolExecutor(1) as background:
        database = background.submit(prepare_database)
        server.prepare_app(Settings.from_env())
        database.result()
    print(f"labbook serving on http://{args.host}:{args.port}  (API explorer: /schema)", flush=True)
    print(f"links name {os.environ['LABBOOK_BASE_URL']}  (set LABBOOK_BASE_URL to change)", flush=True)
    # The background jobs (e-mail) run beside the HTTP workers, so that one command runs everything.
    jobs = None if args.no_jobs else _start_job_worker()
    try:
        server.run(
            settings, host=args.host, port=args.port, workers=args.workers, target="labbook.cli:app_factory"
        )
    finally:
        if jobs is not None:
            _stop_job_worker(jobs, settings.http_shutdown_timeout)


def _start_job_worker() -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "labbook",
        "worker",
        "--stop-with-parent",
        str(os.getpid()),
        "--no-migrate",
    ]
    return subprocess.Popen(command)  # noqa: S603 - our own interpreter and command


def _stop_job_worker(process: subprocess.Popen[bytes], timeout: int) -> None:
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    from labbook.notifications import worker

    if args.stop_with_parent is not None:
        from labbook import server

        server.stop_when_orphaned(settings.http_shutdown_timeout, parent=args.stop_with_parent)
    if not args.no_migrate:
        cmd_migrate(settings, args)
    os.nice(worker.NICENESS)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print("labbook worker running jobs (e-mail); stop with Ctrl+C", flush=True)
        await worker.run(settings, stop=stop)

    asyncio.run(work())


def cmd_mail_list(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.notifications import service

        rows, total = await service.list_messages_in(conn, status=args.status, limit=args.limit)
        for row in rows:
            sent = f"{row.created_at:%Y-%m-%d %H:%M}"
            print(f"{row.id}  {sent}  {row.status:<6}  {row.language}  {row.recipient}  {row.subject}")
        print(f"{len(rows)} of {total} messages", file=sys.stderr)

    _run(settings, work)


def cmd_mail_show(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.notifications import service

        message = await service.get_message_in(conn, args.message_id)
        sys.stdout.buffer.write(message.raw)
        sys.stdout.flush()

    _run(settings, work)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        done = await migrate.apply(conn)
        print("\n".join(f"applied {n}" for n in done) if done else "schema is up to date")

    _run(settings, work)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.demo import load_demo

        await migrate.apply(conn)
        print(await load_demo(conn))

    _run(settings, work)


def cmd_purge(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.attendance.service import purge_rosters_in

        async with conn.transaction():
            removed, forgotten = await purge_rosters_in(
                conn, retention_days=settings.roster_retention_days, now=datetime.now(UTC)
            )
        print(
            f"removed {removed} roster entries of sessions over {settings.roster_retention_days} days old;"
            f" {forgotten} trainees' names forgotten; the counts are kept"
        )

    _run(settings, work)


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.accounts import service

        person = await service.add_person(
            conn,
            actor=None,
            organization_slug=args.org,
            email=args.email,
            full_name=args.name,
            phone=args.phone,
            roles=args.role,
            lab_slugs=args.lab,
        )
        print(f"added {person['full_name']} <{person['email']}> id={person['id']}")

    _run(settings, work)


def cmd_user_invite(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.accounts import signin
        from labbook.clock import system_clock

        url, row = await signin.invite_by_email(
            conn, settings, args.email, days=args.days, now=system_clock()
        )
        print(url)
        print(
            f"one-time link for {args.email}, valid until {row['expires_at']:%Y-%m-%d %H:%M} UTC",
            file=sys.stderr,
        )

    _run(settings, work)


def cmd_user_set_password(settings: Settings, args: argparse.Namespace) -> None:
    import getpass

    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("new password: ")

    async def work(conn: Any) -> None:
        from labbook.accounts import signin

        await signin.set_password_by_email(conn, args.email, password)
        print(f"password set for {args.email}; their browser sessions have ended")

    _run(settings, work)


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.accounts import service

        expires = datetime.now(UTC) + timedelta(days=args.days) if args.days else None
        secret, row = await service.issue_token_for_email(
            conn, email=args.email, name=args.name, expires_at=expires
        )
        print(secret)
        print(f"token {row['id']} for {args.email}; shown once, stored hashed", file=sys.stderr)

    _run(settings, work)


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> None:
    async def work(conn: Any) -> None:
        from labbook.accounts import service

        await service.revoke_token_by_id(conn, args.token_id)
        print(f"revoked {args.token_id}")

    _run(settings, work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labbook", description="Laboratory booking and visit scheduler")
    verbs = parser.add_subparsers(dest="verb", required=True)

    serve = verbs.add_parser("serve", help="run the HTTP service (migrates first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo data before serving")
    serve.add_argument(
        "--no-jobs", action="store_true", help="run no background jobs here (run `labbook worker` instead)"
    )
    serve.set_defaults(func=cmd_serve)

    verbs.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    jobs = verbs.add_parser("worker", help="run the background jobs (e-mail) without serving HTTP")
    jobs.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    jobs.add_argument("--stop-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    jobs.set_defaults(func=cmd_worker)

    mail = verbs.add_parser("mail", help="read the e-mail labbook wrote").add_subparsers(
        dest="mail_verb", required=True
    )
    mail_list = mail.add_parser("list", help="the newest messages first")
    mail_list.add_argument("--status", choices=["queued", "outbox", "sent", "dead"])
    mail_list.add_argument("--limit", type=int, default=50)
    mail_list.set_defaults(func=cmd_mail_list)
    mail_show = mail.add_parser("show", help="one message as it was (or would be) sent")
    mail_show.add_argument("message_id", type=UUID)
    mail_show.set_defaults(func=cmd_mail_show)
    verbs.add_parser("demo", help="load the demo data (idempotent)").set_defaults(func=cmd_demo)
    verbs.add_parser(
        "purge", help="remove trainees' names from rosters older than LABBOOK_ROSTER_RETENTION_DAYS"
    ).set_defaults(func=cmd_purge)

    user = verbs.add_parser("user", help="manage people").add_subparsers(dest="user_verb", required=True)
    add = user.add_parser("add", help="add a person")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--org", required=True, help="organization slug")
    add.add_argument(
        "--role", action="append", default=[], choices=["admin", "lab_manager", "director", "instructor"]
    )
    add.add_argument("--lab", action="append", default=[], help="lab slug this lab manager manages")
    add.add_argument("--phone")
    add.set_defaults(func=cmd_user_add)

    invite = user.add_parser("invite", help="print a one-time link for a person to set their password")
    invite.add_argument("--email", required=True)
    invite.add_argument("--days", type=int, default=7, choices=range(1, 31), metavar="1-30")
    invite.set_defaults(func=cmd_user_invite)
    password = user.add_parser("set-password", help="set a person's password (asked for, never an argument)")
    password.add_argument("--email", required=True)
    password.add_argument("--stdin", action="store_true", help="read the password from standard input")
    password.set_defaults(func=cmd_user_set_password)

    token = verbs.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_verb", required=True
    )
    create = token.add_parser("create", help="create a personal access token (printed once)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="cli")
    create.add_argument("--days", type=int, default=90, help="days until it expires; 0 for never")
    create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=cmd_token_revoke)
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # Leave through SystemExit rather than die by the signal, so that atexit hooks run and the
    # embedded PostgreSQL is stopped with us. While serving, granian handles SIGTERM itself: it lets
    # the workers finish their requests, then returns.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        settings = Settings.from_env()
        if getattr(args, "demo", False):
            settings = settings.with_changes(demo=True)
        args.func(settings, args)
    except (ConfigurationError, LabbookError) as exc:
        print(f"labbook: {exc.detail}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
