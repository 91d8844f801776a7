"""The respondent path's statements, compiled once per dialect and run on the DBAPI cursor.

Every request of a respondent runs one to four of these. Through ``Connection.execute``
each cost about 170 µs of CPU, of which SQLAlchemy's execution layer (execution context,
result metadata, ``Row`` objects) was about 65 µs and the driver the rest
(``bench/README.md``). The statements are still written in Core and compiled by
SQLAlchemy, with each column type's own bind and result processors for the dialect (the
JSON draft, SQLite's datetimes), so a value goes in and comes out as it would through
``Connection.execute``. They run on the request's connection, the Session's: its
transaction, the request's one commit and the tests' outer transaction all apply.

What ``Connection.execute`` would also do is done here: a driver error is raised as
SQLAlchemy's exception for it (``IntegrityError`` ...) without the statement's
parameters (they are respondents' answers), and a connection the driver reports lost is
invalidated, so the pool does not hand it out again. What it does not do: emit statement
events (``before_cursor_execute``), and fill in Python-side column defaults (``default=``,
``onupdate=``): an INSERT or UPDATE here names every column it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for positional drivers
    defaults: dict[str, Any]  # values written into the statement ('issued', 1, ...)
    binds: tuple[tuple[str, Processor], ...]  # names whose values a processor converts
    results: tuple[Processor | None, ...]  # per column of the result


class Statement:
    """A Core statement run without SQLAlchemy's execution layer (see the module)."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._compile(dialect)
            self._by_dialect[key] = compiled
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiler = cast(SQLCompiler, self._statement.compile(dialect=dialect))
        defaults: dict[str, Any] = {}
        binds: dict[str, Processor] = {}
        for parameter, name in compiler.bind_names.items():
            if not parameter.required:
                defaults[name] = parameter.effective_value
            processor = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds[name] = processor
        columns = getattr(self._statement, "exported_columns", ())
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        order = tuple(compiler.positiontup or ()) if dialect.positional else None
        return _Compiled(compiler.string, order, defaults, tuple(binds.items()), results)

    def _run(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, _Compiled]:
        dialect = connection.dialect
        compiled = self._compiled(dialect)
        parameters = {**compiled.defaults, **values}
        for name, processor in compiled.binds:
            if name in parameters:
                parameters[name] = processor(parameters[name])
        sent: Any = parameters
        if compiled.order is not None:
            sent = tuple(parameters[name] for name in compiled.order)
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is None:  # invalidated earlier in this request
            raise exc.ResourceClosedError("the request's connection was invalidated")
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, sent)
        except dialect.loaded_dbapi.Error as error:
            try:  # the driver's verdict on the connection, with the cursor still open
                translated = _translated(connection, compiled.sql, error, dbapi_connection, cursor)
            finally:
                cursor.close()
            raise translated from error
        return cursor, compiled

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The result's rows, each value through its column type's result processor."""
        cursor, compiled = self._run(connection, values)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not any(compiled.results):
            return [tuple(row) for row in rows]
        return [_processed(row, compiled.results) for row in rows]

    def rowcount(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """How many rows the statement changed."""
        cursor, _compiled = self._run(connection, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _processed(row: Sequence[Any], processors: tuple[Processor | None, ...]) -> tuple[Any, ...]:
    return tuple(
        value if processor is None or value is None else processor(value)
        for value, processor in zip(row, processors, strict=True)
    )


def _translated(
    connection: Connection, sql: str, error: Any, dbapi_connection: Any, cursor: Any
) -> exc.StatementError:
    """SQLAlchemy's exception for a driver error, as ``Connection.execute`` raises it
    (``hide_parameters``), the connection invalidated if the driver lost it."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
