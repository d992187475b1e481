"""The job worker: pgqueuer takes jobs from PostgreSQL and runs labbook's handlers.

``labbook worker`` runs it alone; ``labbook serve`` runs one beside the HTTP server. Any number may
run at once: pgqueuer hands each job to one worker (``FOR UPDATE SKIP LOCKED``), re-queues a job whose
worker stopped sending heartbeats (a killed process), and keeps a job that failed past its retries
(status ``failed``) instead of deleting it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator
from datetime import timedelta
from uuid import UUID

import asyncpg
from pgqueuer import DatabaseRetryEntrypointExecutor, Job, PgQueuer, QueueManager
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Schedule
from pgqueuer.types import QueueExecutionMode

from labbook import db
from labbook.notifications import outbox, repository, series_notices, service, slot_notices, visit_notices
from labbook.settings import Settings

log = logging.getLogger(__name__)

# How much lower than its parent a worker process runs (os.nice). No e-mail is urgent to the second,
# while a booking waits for its answer: when both want the CPU, the HTTP server gets it, and the jobs
# a burst of bookings leaves behind run once the burst is over. The database's own work for the
# worker still runs at the server's priority.
NICENESS = 10

# How often an idle worker asks the queue for new jobs. No NOTIFY announces them (migration 0115):
# a job waits at most this long, and a busy worker takes the next batch as soon as it has room.
POLL_INTERVAL = timedelta(seconds=1)
# A job whose worker sent no heartbeat for this long is taken by another worker.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)


# While the database is busy with other work (a burst of bookings, say: at least BUSY_SESSIONS other
# sessions ran a statement within the last BUSY_POLL seconds), the worker picks no job, checking every
# BUSY_POLL seconds, until the oldest job due has been due for PATIENCE: os.nice only lowers the worker's
# own CPU, and its queries would still take the database's CPU at the server's priority. Then it takes
# every job due, so under steady load mail is PATIENCE late at most and a backlog still drains. Jobs
# not yet picked cost nothing while they wait; picked ones would each hold a task and a heartbeat.
PATIENCE = timedelta(seconds=10)
BUSY_POLL = 0.05
BUSY_SESSIONS = 2
# The worker's connections say who they are, so that workers do not wait for one another.
APPLICATION_NAME = "labbook-worker"


class Courtesy:
    """Lets the database's other work go first, until the oldest job due has been due for ``patience``."""

    def __init__(self, patience: timedelta = PATIENCE) -> None:
        self.patience = patience
        self.pool: asyncpg.Pool | None = None
        self.waited = asyncio.Event()  # set once the worker has waited for the database to calm down

    async def wait(self) -> None:
        """Until the database is not busy, no job is due, or one has been due for ``patience``."""
        while self.pool is not None:
            reading = await repository.read_load(self.pool, APPLICATION_NAME, BUSY_POLL, self.patience)
            if reading.working < BUSY_SESSIONS or not reading.due or reading.overdue:
                return
            self.waited.set()
            await asyncio.sleep(BUSY_POLL)


@dataclasses.dataclass
class _CourteousQueueManager(QueueManager):
    """pgqueuer's queue manager, which lets the database's other work go (``Courtesy``) before it
    picks each batch of jobs."""

    courtesy: Courtesy | None = None

    async def fetch_jobs(
        self, batch_size: int, global_concurrency_limit: int | None, heartbeat_timeout: timedelta
    ) -> AsyncGenerator[Job, None]:
        # pgqueuer picks batch after batch for as long as it finds jobs, which in a burst of bookings
        # is the whole burst: the database is asked again before every batch, not once.
        jobs = super().fetch_jobs(batch_size, global_concurrency_limit, heartbeat_timeout)
        taken = 0
        try:
            while True:
                if self.courtesy is not None and taken % batch_size == 0:
                    await self.courtesy.wait()
                try:
                    job = await anext(jobs)
                except StopAsyncIteration:
                    return
                taken += 1
                yield job
        finally:
            await jobs.aclose()


def _retrying(parameters: EntrypointExecutorParameters) -> DatabaseRetryEntrypointExecutor:
    return DatabaseRetryEntrypointExecutor(
        parameters=parameters,
        max_attempts=8,
        initial_delay=timedelta(seconds=5),
        max_delay=timedelta(minutes=10),
    )


def build(
    connection: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    retry: service.Retry,
    courtesy: Courtesy | None = None,
) -> PgQueuer:
    """A pgqueuer over ``connection`` (its own: it LISTENs) whose handlers use ``pool``."""
    pgq = PgQueuer.from_asyncpg_connection(connection)
    # before any entrypoint is registered: they are kept by the queue manager
    pgq.qm = _CourteousQueueManager(
        pgq.qm.queries, pgq.qm.channel, resources=pgq.resources, courtesy=courtesy
    )
    pgq.qm.shutdown = pgq.shutdown

    @pgq.entrypoint(service.BOOKING_CHANGED, on_failure="hold", executor_factory=_retrying)
    async def booking_changed(job: Job) -> None:
        await service.write_booking_notices(pool, settings, service.decode_change(job.payload))

    @pgq.entrypoint(slot_notices.SLOT_CHANGED, on_failure="hold", executor_factory=_retrying)
    async def slot_changed(job: Job) -> None:
        await slot_notices.write_slot_notices(pool, settings, slot_notices.decode_change(job.payload))

    @pgq.entrypoint(series_notices.SERIES_CHANGED, on_failure="hold", executor_factory=_retrying)
    async def series_changed(job: Job) -> None:
        await series_notices.write_series_notices(pool, settings, series_notices.decode_change(job.payload))

    @pgq.entrypoint(visit_notices.VISIT_REQUEST_CHANGED, on_failure="hold", executor_factory=_retrying)
    async def visit_request_changed(job: Job) -> None:
        await visit_notices.write_visit_notices(pool, settings, visit_notices.decode_change(job.payload))

    @pgq.entrypoint(service.LINK_ISSUED, on_failure="hold", executor_factory=_retrying)
    async def link_issued(job: Job) -> None:
        await service.write_link_mail(pool, settings, service.decode_link(job.payload or b""))

    @pgq.entrypoint(outbox.SEND_MAIL, on_failure="hold", executor_factory=_retrying)
    async def send_mail(job: Job) -> None:
        await service.deliver(pool, settings, UUID((job.payload or b"").decode()), retry=retry)

    @pgq.entrypoint(outbox.DELIVER_WEBHOOK, on_failure="hold", executor_factory=_retrying)
    async def deliver_webhook(job: Job) -> None:
        await service.deliver_webhook(pool, UUID((job.payload or b"").decode()), retry=retry)

    # Every minute on every worker: pgqueuer runs each schedule once per tick across all workers, and
    # the messages' dedupe keys keep a reminder or a digest once-only even if a tick were run twice.
    @pgq.schedule("send_reminders", "* * * * *")
    async def send_reminders(schedule: Schedule) -> None:
        await service.send_due_reminders(pool, settings)

    @pgq.schedule("send_digests", "* * * * *")
    async def send_digests(schedule: Schedule) -> None:
        await service.send_due_digests(pool, settings)

    return pgq


async def run(
    settings: Settings,
    *,
    retry: service.Retry | None = None,
    stop: asyncio.Event | None = None,
    drain: bool = False,
    heartbeat_timeout: timedelta = HEARTBEAT_TIMEOUT,
    courtesy: Courtesy | None = None,
) -> None:
    """Take and run jobs until ``stop`` is set (or, with ``drain``, until none is left to run now)."""
    url = db.resolve_database_url(settings)
    pool = await db.create_pool(
        url,
        min_size=1,
        max_size=4,
        connect_timeout=settings.db_connect_timeout,
        application_name=APPLICATION_NAME,
    )
    courtesy = courtesy or Courtesy()
    courtesy.pool = pool
    # pgqueuer's own bookkeeping (picking jobs, heartbeats, marking them done) does not wait for the
    # disk at commit: a completion lost in a server crash only runs the job again, and every handler
    # finds its work done (dedupe keys, and a message or webhook's status checked under its lock).
    connection = await asyncpg.connect(
        url,
        timeout=settings.db_connect_timeout,
        server_settings={"synchronous_commit": "off", "application_name": APPLICATION_NAME},
    )
    try:
        pgq = build(connection, pool, settings, retry=retry or service.Retry(), courtesy=courtesy)
        watcher = None
        if stop is not None:
            watcher = asyncio.create_task(_stop_when(stop, pgq))
        try:
            await pgq.run(
                mode=QueueExecutionMode.drain if drain else QueueExecutionMode.continuous,
                heartbeat_timeout=heartbeat_timeout,
                dequeue_timeout=POLL_INTERVAL,
            )
        finally:
            if watcher is not None:
                watcher.cancel()
    finally:
        await connection.close()
        await pool.close()


async def _stop_when(stop: asyncio.Event, pgq: PgQueuer) -> None:
    await stop.wait()
    pgq.shutdown.set()
