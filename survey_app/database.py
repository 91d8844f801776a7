"""Engine settings: the embedded SQLite made to behave like the production database,
and PostgreSQL connections tuned for many short transactions."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# An execution option of a transaction that only reads (``transactions.read_only``): on
# SQLite it begins DEFERRED, taking no write lock however long it lasts.
READ_ONLY = "survey_read_only"
# A pooled connection unused for longer than this is checked with a round trip before it
# is handed out (see ping_idle_connections).
PING_AFTER_IDLE_SECONDS = 2.0


def configure_engine(engine: Engine) -> None:
    """For PostgreSQL: a ping only for connections that sat idle (see below). For
    SQLite: enforce foreign keys and let SQLAlchemy own transactions.

    pysqlite otherwise starts transactions lazily on its own, which breaks SAVEPOINTs
    (SQLAlchemy's documented recipe). Transactions begin IMMEDIATE: SQLite has one
    writer, and a transaction that read first and then wants to write fails at once
    ("database is locked") when another writer is active — a double-tapped submit
    would show an error page. Taking the write lock up front makes the second request
    wait its turn instead, as a row lock does on PostgreSQL, which needs nothing here.
    """
    if engine.dialect.name == "postgresql":
        # psycopg prepares a statement at the server after its 5th run on a connection
        # (its default, kept): the respondent's few statements then skip parsing and
        # planning, a third of PostgreSQL's CPU per respondent (bench/README.md). It
        # forgets them at a ROLLBACK, which the hot path no longer sends: its requests
        # run in autocommit or end with one COMMIT (``transactions``).
        ping_idle_connections(engine)
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # Write-ahead log: readers do not wait for the writer; FULL: a commit is on disk
        # before it is acknowledged, in WAL mode too (bench/crash.py kills the server).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot that waits for no writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def ping_idle_connections(engine: Engine, after_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection with a round trip only if it sat idle in the pool.

    ``pool_pre_ping`` pings on every checkout: a ``SELECT 1`` before each request, which
    under load was one statement in four that PostgreSQL received on the respondent path
    (bench/README.md). A connection that went back to the pool moments ago was working
    then; the ones that go stale (the server restarted, a firewall dropped an idle TCP
    connection overnight) are the ones that waited. Those are pinged, and a dead one is
    replaced before the request sees it (``DisconnectionError`` makes the pool retry
    with a new connection). What a ping on every checkout would have caught and this
    does not, a server restarting in the seconds between two requests of a busy worker,
    fails that one request; SQLAlchemy then invalidates the pool, so the next gets a
    fresh connection.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check_if_idle(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < after_seconds:
            return  # new, or back in the pool just now
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error
            raise
