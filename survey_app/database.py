"""Engine settings: the embedded SQLite made to behave like the production database,
and PostgreSQL connections tuned for many short transactions."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def configure_engine(engine: Engine) -> None:
    """For PostgreSQL: no server-side prepared statements (see below). For SQLite:
    enforce foreign keys and let SQLAlchemy own transactions.

    pysqlite otherwise starts transactions lazily on its own, which breaks SAVEPOINTs
    (SQLAlchemy's documented recipe). Transactions begin IMMEDIATE: SQLite has one
    writer, and a transaction that read first and then wants to write fails at once
    ("database is locked") when another writer is active — a double-tapped submit
    would show an error page. Taking the write lock up front makes the second request
    wait its turn instead, as a row lock does on PostgreSQL, which needs nothing here.
    """
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _no_server_side_prepare(dbapi_connection: Any, _record: Any) -> None:
            # psycopg prepares a statement after 5 runs and forgets them all at every
            # ROLLBACK (each read-only request ends with one): preparing then costs more
            # than it saves. Statements are still cached, compiled, by SQLAlchemy.
            dbapi_connection.prepare_threshold = None

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
        connection.exec_driver_sql("BEGIN IMMEDIATE")
