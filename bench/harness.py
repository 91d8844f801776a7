"""Server side of the respondent benchmarks: a fresh database, gunicorn, CPU accounting.

Shared by ``bench/load.py`` and ``bench/crash.py``. Everything runs on this machine:
PostgreSQL on 127.0.0.1:5432 (trust auth), Redis on 127.0.0.1:6379, gunicorn on a free
loopback port. The app itself is never imported here: it is prepared and served by the
project's own commands (``flask db upgrade``, ``flask demo seed``, gunicorn), each in
its own process with the same environment, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
# Every simulated respondent comes from 127.0.0.1, i.e. one rate-limit bucket.
HIGH_LIMIT = "1000000 per minute"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Issues the codes in one process, inside an app context: one `flask demo codes` call per
# code would start the app thousands of times. Runs with the app's environment, in the
# served tree (so `bench/analysis.py` cannot shadow the `analysis` package).
_ISSUE_SCRIPT = """
import sys
from datetime import UTC, datetime

from survey_app import create_app
from survey_app.demo import demo_campaign, schools_for_group
from survey_app.extensions import db
try:
    from survey_app.plan.issuing import issue_codes
except ImportError:  # a tree from before 2026-12-02 (bench --app-dir)
    from survey_app.issuing import issue_codes

n = int(sys.argv[1])
app = create_app()
with app.app_context():
    campaign = demo_campaign()
    if campaign is None or not campaign.is_collecting(datetime.now(UTC)):
        sys.exit("the demo campaign is missing or not open")
    schools = schools_for_group(campaign, "parent")
    per_school, extra = divmod(n, len(schools))
    codes = []
    for index, school in enumerate(schools):
        codes += issue_codes(school, "parent", per_school + (index < extra))
    db.session.commit()
print("CODES", *codes)
"""


class BenchError(RuntimeError):
    """The benchmark could not set up or run (not a finding about the app)."""


@dataclass(frozen=True)
class Stored:
    """What the database holds after a run."""

    responses: int
    used_codes: int
    issued_codes: int


@dataclass
class Database:
    """A benchmark's own database, dropped and recreated for every run.

    PostgreSQL: ``name`` is a database on the local server (never ``test``, which the
    test suite drops). SQLite: a file in a fresh temporary directory.
    """

    kind: str  # "postgres" or "sqlite"
    name: str
    sqlite_path: Path | None = None

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            return f"sqlite:///{self.sqlite_path}"
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
        )

    def recreate(self) -> None:
        if self.kind == "sqlite":
            directory = Path(tempfile.mkdtemp(prefix=f"{self.name}_"))
            self.sqlite_path = directory / "survey.sqlite3"
            return
        if self.name == "test":
            raise BenchError("the database 'test' belongs to the test suite")
        with self.admin() as connection:
            name = sql.Identifier(self.name)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def stored(self) -> Stored:
        queries = (
            "SELECT count(*) FROM response",
            "SELECT count(*) FROM one_time_code WHERE status = 'used'",
            "SELECT count(*) FROM one_time_code",
        )
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            with sqlite3.connect(self.sqlite_path) as connection:
                values = [connection.execute(query).fetchone()[0] for query in queries]
        else:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name
            ) as connection:
                values = [connection.execute(query).fetchone()[0] for query in queries]  # type: ignore[index]
        return Stored(*values)

    def postmaster_pid(self) -> int | None:
        """The PostgreSQL server's pid: the parent of our own backend."""
        if self.kind != "postgres":
            return None
        with self.admin() as connection:
            backend = connection.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None
        stat = read_stat(int(backend[0]))
        return stat.ppid if stat else None


def app_env(database_url: str, items_per_page: int) -> dict[str, str]:
    """The environment of every app process of one run (production settings)."""
    env = dict(os.environ)
    env.pop("FLASK_DEBUG", None)
    env.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=database_url,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        JOBS_REDIS_URL=REDIS_URL,  # several workers: the report's jobs in Redis (unused here)
        CODE_ENTRY_LIMIT=HIGH_LIMIT,
        CODE_FLOOD_LIMIT=HIGH_LIMIT,  # may be unknown to the app yet: then ignored
        ITEMS_PER_PAGE=str(items_per_page),
    )
    return env


def _run(args: list[str], env: dict[str, str], app_dir: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        args, cwd=app_dir, env=env, capture_output=True, text=True, input=stdin, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare(env: dict[str, str], n_codes: int, app_dir: Path = PROJECT_ROOT) -> list[str]:
    """In the (new, empty) database of ``env``: the schema, the demo county (its campaign
    opens a day before seeding and closes 30 days after, status open) and ``n_codes``
    parent codes, returned. Flushes the rate limiter's Redis db 14.

    ``app_dir``: the tree whose app is run (``wsgi.py``, ``survey_app/``…); the project
    by default, or e.g. ``git archive HEAD`` unpacked elsewhere, to measure a commit
    while the work tree is being edited. Its imports win over the editable install:
    the current directory comes first on ``sys.path`` for flask, gunicorn and ``-c``.
    """
    redis.Redis.from_url(REDIS_URL).flushdb()
    flask = str(VENV_BIN / "flask")
    _run([flask, "--app", "wsgi", "db", "upgrade"], env, app_dir)
    _run([flask, "--app", "wsgi", "demo", "seed"], env, app_dir)
    script = [str(VENV_BIN / "python"), "-c", _ISSUE_SCRIPT, str(n_codes)]
    output = _run(script, env, app_dir)
    line = next((line for line in output.splitlines() if line.startswith("CODES ")), "")
    codes = line.split()[1:]
    if len(codes) != n_codes:
        raise BenchError(f"asked for {n_codes} codes, got {len(codes)}:\n{output[-2000:]}")
    return codes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Gunicorn:
    """The production server (``gunicorn -c gunicorn.conf.py wsgi:app``, 4 sync workers)
    in its own session, so that its whole process group can be killed at once."""

    env: dict[str, str]
    port: int
    log_dir: Path
    app_dir: Path = PROJECT_ROOT
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_paths: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def start(self) -> None:
        self.starts += 1
        log_path = self.log_dir / f"gunicorn.{self.starts}.log"
        self.log_paths.append(log_path)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    "-c",
                    "gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "wsgi:app",
                ],
                cwd=self.app_dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds until the code-entry page answers 200 (one worker is enough)."""
        started = time.monotonic()
        request = f"GET / HTTP/1.0\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()
        while time.monotonic() - started < timeout:
            if self.process is None or self.process.poll() is not None:
                raise BenchError(f"gunicorn exited; see {self.log_paths[-1]}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(request)
                status = await asyncio.wait_for(reader.readline(), 5)
                writer.close()
                if b" 200 " in status:
                    return time.monotonic() - started
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
        raise BenchError(f"gunicorn not ready after {timeout:.0f} s; see {self.log_paths[-1]}")

    def kill(self) -> None:
        """SIGKILL to master and workers (the whole process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 40.0) -> None:
        """Graceful stop (SIGTERM to the master), then SIGKILL to the group."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # workers left by a dying master
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_count(self, pattern: str) -> int:
        """Lines of the server logs of this run that match ``pattern``."""
        regex = re.compile(pattern)
        count = 0
        for path in self.log_paths:
            with path.open(encoding="utf-8", errors="replace") as log:
                count += sum(1 for line in log if regex.search(line))
        return count


# --- CPU accounting -------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    ticks: int  # utime + stime of the process itself
    system_ticks: int  # stime: in the kernel (sockets, loopback TCP, page faults)


def read_stat(pid: int) -> ProcStat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may contain spaces
    utime, stime = int(fields[11]), int(fields[12])
    return ProcStat(ppid=int(fields[1]), ticks=utime + stime, system_ticks=stime)


def process_table() -> dict[int, ProcStat]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


def descendants(root: int, table: dict[int, ProcStat]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


_PG_CLIENT_BACKEND = re.compile(r"^postgres: [^:]*: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def postgres_filter(database_name: str) -> Callable[[int], bool]:
    """Counts the server's own processes (checkpointer, WAL writer, …) and the backends
    of ``database_name``; leaves out other databases' backends (e.g. the test suite's)."""

    def include(pid: int) -> bool:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            return True
        match = _PG_CLIENT_BACKEND.match(title)
        return match is None or match[1] == database_name

    return include


@dataclass
class TreeCpu:
    """CPU seconds of a process tree, processes that exited meanwhile included.

    Every sample remembers each tree member's utime+stime by pid; a process that exits
    keeps its last sampled value. So a total is exact for processes alive at the
    sample and loses at most one sampling interval of a process that exited between
    samples. That loss is small here: gunicorn's workers and the app's pooled
    PostgreSQL connections (one per sync worker, kept open by SQLAlchemy's pool) live
    for the whole run; only a killed server in crash.py loses up to one interval.
    (The postmaster's cutime/cstime would count exited backends exactly, but also those
    of every other database on the server, e.g. a concurrent test run.)
    """

    root: Callable[[], int | None]
    include: Callable[[int], bool] = lambda _pid: True
    seen: dict[int, ProcStat] = field(default_factory=dict)

    def sample(self, table: dict[int, ProcStat]) -> None:
        root = self.root()
        if root is None or root not in table:
            return
        for pid in descendants(root, table):
            if pid in self.seen or self.include(pid):
                self.seen[pid] = table[pid]

    def seconds(self) -> float:
        return sum(stat.ticks for stat in self.seen.values()) / CLK_TCK

    def system_seconds(self) -> float:
        return sum(stat.system_ticks for stat in self.seen.values()) / CLK_TCK


@dataclass
class CpuMeter:
    """Samples the app's and PostgreSQL's trees every ``interval`` seconds."""

    trees: dict[str, TreeCpu]
    interval: float = 0.5
    _task: asyncio.Task[None] | None = None

    def sample(self) -> dict[str, float]:
        """CPU seconds so far by tree, ``<tree> system`` (the kernel's part of it), and
        ``machine``: all CPUs' busy time."""
        table = process_table()
        for tree in self.trees.values():
            tree.sample(table)
        seconds = {name: tree.seconds() for name, tree in self.trees.items()}
        seconds.update({f"{n} system": t.system_seconds() for n, t in self.trees.items()})
        seconds["machine"] = machine_busy_seconds()
        return seconds

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.sample()

    def start(self) -> None:
        self.sample()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def find_pid(command_name: str) -> int | None:
    """A process whose name (``comm``) is ``command_name``, e.g. ``redis-server``."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == command_name:
                    return int(entry)
            except OSError:
                continue
    return None


def machine_busy_seconds() -> float:
    """Busy time of all CPUs (user, nice, system, irq, softirq) from /proc/stat: what
    else ran during a run (e.g. someone's test suite) shows as the difference."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / CLK_TCK


def own_cpu_seconds() -> float:
    """This (client) process's CPU time."""
    usage = os.times()
    return usage.user + usage.system
