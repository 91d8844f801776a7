"""One benchmark run: fresh database, gunicorn, N respondents for a while, the tally.

``load.py`` measures it; ``crash.py`` runs the same while killing the server. A run:

1. drops and recreates its own database, migrates it, seeds the demo county and
   issues enough parent codes (``harness.prepare``);
2. starts gunicorn with the production configuration on a free loopback port;
3. runs ``concurrency`` respondents for ``warmup + duration`` seconds, their starts
   spread over the warm-up; only the last ``duration`` seconds are measured (the
   warm-up also fills caches, connection pools and the workers' lazy imports), and
   respondents under way at the end finish their walk, so that every submit that was
   sent is either acknowledged or known to be cut off;
4. stops gunicorn and counts what the database holds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import harness
from respondents import Client, Stats

# Generous: a code left unused costs ~0.2 ms to issue; running out spoils the run.
CODES_PER_SECOND = 120


@dataclass(frozen=True)
class Settings:
    database: str  # "postgres" or "sqlite"
    database_name: str
    concurrency: int
    duration: float
    warmup: float
    items_per_page: int
    codes: int = 0  # 0: enough for the run at up to CODES_PER_SECOND respondents a second
    seed: int = 1
    py_spy: Path | None = None  # record the server's workers here during the window
    app_dir: Path = harness.PROJECT_ROOT  # the tree served (see harness.prepare)

    @classmethod
    def from_arguments(
        cls, args: argparse.Namespace, *, database: str, concurrency: int, **more: object
    ) -> Settings:
        """Settings from the options of :func:`add_run_arguments`."""
        return cls(
            database=database,
            database_name=args.database_name,
            concurrency=concurrency,
            duration=args.duration,
            warmup=args.warmup,
            items_per_page=args.items_per_page,
            codes=args.codes,
            seed=args.seed,
            app_dir=args.app_dir.resolve(),
            **more,  # type: ignore[arg-type]
        )

    def n_codes(self) -> int:
        if self.codes:
            return self.codes
        return int(CODES_PER_SECOND * (self.warmup + self.duration)) + 2 * self.concurrency


@dataclass
class Result:
    settings: Settings
    stats: Stats
    window: tuple[float, float]  # measured interval, time.monotonic()
    cpu: dict[str, float]  # CPU seconds in the window: app, postgres, redis, client, other
    stored: harness.Stored
    server: harness.Gunicorn
    n_codes: int
    log_dir: Path
    notes: list[str] = field(default_factory=list)
    system_cpu: dict[str, float] = field(default_factory=dict)  # kernel part of ``cpu``

    @property
    def seconds(self) -> float:
        return self.window[1] - self.window[0]


# Runs alongside the respondents (crash.py): (server, measured from, stop at).
During = Callable[[harness.Gunicorn, float, float], Awaitable[None]]


async def run(settings: Settings, *, retry: bool = False, during: During | None = None) -> Result:
    """One run; ``during`` runs alongside the respondents, ``retry`` see ``Client``."""
    database = harness.Database(settings.database, settings.database_name)
    started = time.monotonic()
    database.recreate()
    env = harness.app_env(database.url, settings.items_per_page)
    n_codes = settings.n_codes()
    codes = harness.prepare(env, n_codes, settings.app_dir)
    print(
        f"  prepared {database.url}: {n_codes} codes in {time.monotonic() - started:.1f} s"
        f" (app from {settings.app_dir})"
    )
    log_dir = Path(tempfile.mkdtemp(prefix="bench_gunicorn_"))
    server = harness.Gunicorn(env, harness.free_port(), log_dir, settings.app_dir)
    server.start()
    stats = Stats()
    result = Result(
        settings, stats, (0.0, 0.0), {}, harness.Stored(0, 0, 0), server, n_codes, log_dir
    )
    try:
        await server.wait_ready()
        postmaster = database.postmaster_pid()
        redis_pid = harness.find_pid("redis-server")
        trees = {"app": harness.TreeCpu(lambda: server.pid)}
        if postmaster is not None:
            trees["postgres"] = harness.TreeCpu(
                lambda: postmaster, harness.postgres_filter(settings.database_name)
            )
        if redis_pid is not None:
            trees["redis"] = harness.TreeCpu(lambda: redis_pid)
        meter = harness.CpuMeter(trees)
        meter.start()
        now = time.monotonic()
        measure_from = now + settings.warmup
        stop_at = measure_from + settings.duration
        client = Client(
            base_url=f"http://127.0.0.1:{server.port}",
            stats=stats,
            codes=iter(codes),
            stop_at=stop_at,
            give_up_at=stop_at + 60,
            retry=retry,
            rng=random.Random(settings.seed),
        )
        load = asyncio.create_task(client.run(settings.concurrency, ramp=settings.warmup))
        side = asyncio.create_task(during(server, measure_from, stop_at)) if during else None
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        spy = _start_py_spy(settings, server) if settings.py_spy else None
        cpu_from = meter.sample()
        client_from = harness.own_cpu_seconds()
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        cpu_to = meter.sample()
        client_to = harness.own_cpu_seconds()
        result.window = (measure_from, time.monotonic())
        spent = {name: cpu_to[name] - cpu_from[name] for name in cpu_to}
        result.system_cpu = {
            name: spent.pop(f"{name} system") for name in list(spent) if f"{name} system" in spent
        }
        result.cpu = spent
        result.cpu["client"] = client_to - client_from
        machine = result.cpu.pop("machine")
        result.cpu["other"] = machine - sum(result.cpu.values())
        if spy is not None:
            spy.wait()
            result.notes.append(f"py-spy profile of the workers: {settings.py_spy}")
        if side is not None:
            await side
        await load  # respondents under way finish their walk (not measured)
        await meter.stop()
    finally:
        server.stop()
    result.stored = database.stored()
    return result


def _start_py_spy(settings: Settings, server: harness.Gunicorn) -> subprocess.Popen[bytes]:
    """py-spy on master and workers for the measured window, GIL-holding samples only
    (CPU, not waits); its own CPU shows as "other". Summarise with bench/hotspots.py."""
    return subprocess.Popen(
        [
            str(harness.VENV_BIN / "py-spy"),
            "record",
            "--pid",
            str(server.pid),
            "--subprocesses",
            "--gil",
            "--nonblocking",
            "--rate",
            "50",
            "--format",
            "raw",
            "--duration",
            str(max(1, int(settings.duration) - 1)),
            "-o",
            str(settings.py_spy),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def parse_levels(text: str) -> list[int]:
    """``100`` or ``10,50,100``."""
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise ValueError(f"bad concurrency list {text!r}")
    return levels


def add_run_arguments(
    parser: argparse.ArgumentParser, *, duration_help: str, warmup: float, database_name: str
) -> None:
    """The options load.py and crash.py share."""
    parser.add_argument("--duration", type=float, default=30.0, help=duration_help)
    parser.add_argument(
        "--warmup", type=float, default=warmup, help="seconds first, respondents' starts spread"
    )
    parser.add_argument("--items-per-page", type=int, default=5, help="ITEMS_PER_PAGE")
    parser.add_argument("--codes", type=int, default=0, help="codes to issue (0: enough)")
    parser.add_argument("--database-name", default=database_name, help="PostgreSQL database")
    parser.add_argument("--seed", type=int, default=1, help="seed of the answers chosen")
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=harness.PROJECT_ROOT,
        help="tree to serve (default: this project; e.g. `git archive HEAD` unpacked)",
    )
