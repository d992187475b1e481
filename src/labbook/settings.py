"""Explicit settings, built once from the environment and passed to ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from labbook.errors import ConfigurationError

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# plain (a relay on this machine), STARTTLS required, TLS from the first byte
SMTP_SCHEMES = ("smtp://", "smtp+starttls://", "smtps://")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything labbook needs to know about its surroundings.

    Attributes:
        database_url: an external PostgreSQL (15+); ``None`` starts the embedded one in ``data_dir``.
        data_dir: where the embedded PostgreSQL keeps its files.
        base_url: the address people reach this service at, used in feed, subscribe and invitation
            links and for the cookies' Secure flag. Unset, ``labbook serve`` uses the address it
            serves on (see ``cli.served_base_url``); elsewhere, the default below.
        pool_min_size: connections each worker opens at start.
        pool_max_size: connections each worker may hold at most (two or more: a keyed POST holds one
            for its idempotency lock while the handler uses another).
        db_connect_timeout: seconds to open a database connection before the request gets a 503.
        db_acquire_timeout: seconds a request waits for a free pooled connection before a 503.
        db_statement_timeout: seconds one statement may run (the server cancels it, and the client
            stops waiting if the server is frozen) before the request gets a 503.
        http_header_timeout: seconds a connection may take to send a request head, and may sit idle
            between requests, before the server closes it.
        http_shutdown_timeout: seconds in-flight requests get to finish after SIGTERM.
        http_max_concurrency: connections one worker serves at once, idle keep-alive ones included;
            more wait to be accepted.
        metrics_token: the bearer token ``GET /metrics`` needs; unset, there is no ``/metrics``.
        log_level: one of DEBUG, INFO, WARNING, ERROR.
        max_body_bytes: largest request body accepted.
        feed_refresh_minutes: how often calendar apps are asked to poll.
        feed_miss_limit: unknown private feed tokens one client may try per window before a 429.
        session_idle_minutes: a browser session unused this long ends.
        session_max_days: a browser session ends this long after sign-in, used or not.
        login_failure_limit: failed sign-ins per account, and 4x that per client address, in 15 minutes
            before sign-in is refused for the rest of that window.
        roster_retention_days: how long after its session a roster keeps trainees' names;
            ``labbook purge`` then removes them and keeps the counts.
        demo: load the demo data at start.
        read_cache: keep public catalog reads, public feeds' versions and who each access token
            belongs to in each worker, emptied by PostgreSQL's change notices
            (``labbook.changes``); off, every read asks the database.
        smtp_url: where e-mail goes (``smtp://``, ``smtp+starttls://`` or ``smtps://``, with
            ``user:password@`` for authentication); unset, messages stay in the local outbox.
        mail_from: the sender of labbook's e-mail; unset, ``labbook@`` the host of ``base_url``.
    """

    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(".labbook"))
    base_url: str = "http://127.0.0.1:8000"
    pool_min_size: int = 2
    pool_max_size: int = 10
    db_connect_timeout: int = 5
    db_acquire_timeout: int = 5
    db_statement_timeout: int = 15
    http_header_timeout: int = 10
    http_shutdown_timeout: int = 20
    http_max_concurrency: int = 256
    metrics_token: str | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 256 * 1024
    feed_refresh_minutes: int = 180
    feed_miss_limit: int = 30
    session_idle_minutes: int = 12 * 60
    session_max_days: int = 14
    login_failure_limit: int = 5
    roster_retention_days: int = 3 * 365
    demo: bool = False
    read_cache: bool = True
    smtp_url: str | None = None
    mail_from: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``LABBOOK_*`` variables; a bad value raises ``ConfigurationError`` naming the variable."""
        env = os.environ if environ is None else environ
        defaults = cls()
        settings = cls(
            database_url=env.get("LABBOOK_DATABASE_URL") or None,
            data_dir=Path(env.get("LABBOOK_DATA_DIR") or defaults.data_dir),
            base_url=(env.get("LABBOOK_BASE_URL") or defaults.base_url).rstrip("/"),
            pool_min_size=_int(env, "LABBOOK_POOL_MIN_SIZE", defaults.pool_min_size, minimum=0),
            pool_max_size=_int(env, "LABBOOK_POOL_MAX_SIZE", defaults.pool_max_size, minimum=2),
            db_connect_timeout=_int(
                env, "LABBOOK_DB_CONNECT_TIMEOUT", defaults.db_connect_timeout, minimum=1
            ),
            db_acquire_timeout=_int(
                env, "LABBOOK_DB_ACQUIRE_TIMEOUT", defaults.db_acquire_timeout, minimum=1
            ),
            db_statement_timeout=_int(
                env, "LABBOOK_DB_STATEMENT_TIMEOUT", defaults.db_statement_timeout, minimum=1
            ),
            http_header_timeout=_int(
                env, "LABBOOK_HTTP_HEADER_TIMEOUT", defaults.http_header_timeout, minimum=1
            ),
            http_shutdown_timeout=_int(
                env, "LABBOOK_HTTP_SHUTDOWN_TIMEOUT", defaults.http_shutdown_timeout, minimum=1
            ),
            http_max_concurrency=_int(
                env, "LABBOOK_HTTP_MAX_CONCURRENCY", defaults.http_max_concurrency, minimum=1
            ),
            metrics_token=env.get("LABBOOK_METRICS_TOKEN") or None,
            log_level=env.get("LABBOOK_LOG_LEVEL", defaults.log_level).upper(),
            max_body_bytes=_int(env, "LABBOOK_MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1024),
            feed_refresh_minutes=_int(
                env, "LABBOOK_FEED_REFRESH_MINUTES", defaults.feed_refresh_minutes, minimum=5
            ),
            feed_miss_limit=_int(env, "LABBOOK_FEED_MISS_LIMIT", defaults.feed_miss_limit, minimum=1),
            session_idle_minutes=_int(
                env, "LABBOOK_SESSION_IDLE_MINUTES", defaults.session_idle_minutes, minimum=5
            ),
            session_max_days=_int(env, "LABBOOK_SESSION_MAX_DAYS", defaults.session_max_days, minimum=1),
            login_failure_limit=_int(
                env, "LABBOOK_LOGIN_FAILURE_LIMIT", defaults.login_failure_limit, minimum=1
            ),
            read_cache=_on_off(env, "LABBOOK_READ_CACHE", defaults.read_cache),
            smtp_url=env.get("LABBOOK_SMTP_URL") or None,
            mail_from=env.get("LABBOOK_MAIL_FROM") or None,
            roster_retention_days=_int(
                env, "LABBOOK_ROSTER_RETENTION_DAYS", defaults.roster_retention_days, minimum=1
            ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.database_url is not None and urlsplit(self.database_url).scheme not in (
            "postgres",
            "postgresql",
        ):
            raise ConfigurationError("LABBOOK_DATABASE_URL must be a postgresql:// URL")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigurationError("LABBOOK_BASE_URL must start with http:// or https://")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigurationError(f"LABBOOK_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigurationError("LABBOOK_METRICS_TOKEN must be at least 16 characters")
        if self.pool_max_size < max(self.pool_min_size, 1):
            raise ConfigurationError("LABBOOK_POOL_MAX_SIZE must be at least LABBOOK_POOL_MIN_SIZE")
        if self.smtp_url is not None and not self.smtp_url.startswith(SMTP_SCHEMES):
            raise ConfigurationError(f"LABBOOK_SMTP_URL must start with {', '.join(SMTP_SCHEMES)}")
        if self.mail_from is not None and "@" not in self.mail_from:
            raise ConfigurationError("LABBOOK_MAIL_FROM must be an e-mail address")

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry the Secure flag when labbook is served over https."""
        return self.base_url.startswith("https://")

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def _on_off(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("on", "off"):
        raise ConfigurationError(f"{name} must be on or off, got {raw!r}")
    return raw == "on"
