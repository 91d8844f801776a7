"""The machine's yardstick: what a bare Flask route costs under the same gunicorn.

    .venv/bin/python bench/bare.py [--concurrency 100] [--duration 20] [--warmup 5]

Serves a Flask app of one route that renders a 4 KB template (no database, no session,
no extension) with the production gunicorn configuration (``gunicorn.conf.py``: 4 sync
workers, the access log), drives it with ``--concurrency`` aiohttp clients on loopback
as ``load.py`` drives the respondents, and prints the workers' CPU ms per request.

Issue 6 measured 1.5 ms here when it set its targets. This 2-core machine's speed drifts
by a factor of two or three from day to day (neighbours on the host), so figures of
``load.py`` taken on different days compare only through this yardstick, run beside
them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import harness

_APP = """
from flask import Flask, render_template

app = Flask(__name__)
ROWS = ["请选择最符合您感受的一项:非常满意、比较满意、基本满意、不满意"] * 40


@app.route("/")
def index():
    return render_template("page.html", title="bare", rows=ROWS)
"""


# 40 rows of 37 characters, most of them three bytes in UTF-8: about 4.4 KB rendered.
_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>{{ title }}</title></head><body><main>
{% for row in rows %}<p>{{ row }} {{ loop.index }}</p>
{% endfor %}</main></body></html>"""


async def _client(port: int, stop_at: float, finished: list[float]) -> None:
    url = f"http://127.0.0.1:{port}/"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < stop_at:
            async with session.get(url) as response:
                await response.read()
                if response.status == 200:
                    finished.append(time.monotonic())


async def measure(concurrency: int, duration: float, warmup: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_bare_") as folder:
        app_dir = Path(folder)
        (app_dir / "wsgi.py").write_text(_APP)
        (app_dir / "templates").mkdir()
        (app_dir / "templates" / "page.html").write_text(_PAGE)
        (app_dir / "gunicorn.conf.py").symlink_to(harness.PROJECT_ROOT / "gunicorn.conf.py")
        env = harness.app_env("sqlite://", 5)
        env["PYTHONPATH"] = str(harness.PROJECT_ROOT)  # the access logger of the config
        server = harness.Gunicorn(env, harness.free_port(), app_dir, app_dir=app_dir)
        server.start()
        try:
            await server.wait_ready()
            meter = harness.CpuMeter({"app": harness.TreeCpu(lambda: server.pid)})
            finished: list[float] = []
            begin = time.monotonic()
            stop_at = begin + warmup + duration
            clients = [_client(server.port, stop_at, finished) for _ in range(concurrency)]
            task = asyncio.gather(*clients)
            await asyncio.sleep(warmup)
            before = meter.sample()
            await asyncio.sleep(duration)
            after = meter.sample()
            await task
        finally:
            server.stop()
    window = [t for t in finished if begin + warmup <= t <= begin + warmup + duration]
    app_ms = 1000 * (after["app"] - before["app"])
    print(f"== bare Flask route (4 KB template), concurrency {concurrency}, {duration:.0f} s ==")
    print(f"requests/s:                {len(window) / duration:.1f}")
    print(f"app CPU ms per request:    {app_ms / max(len(window), 1):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(measure(args.concurrency, args.duration, args.warmup))


if __name__ == "__main__":
    main()
