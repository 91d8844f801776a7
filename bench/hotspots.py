"""Where the app's CPU goes: a py-spy profile of the gunicorn workers, summarised.

    .venv/bin/py-spy record --pid <gunicorn master> --subprocesses --gil --rate 50 \\
        --format raw --duration 20 --nonblocking -o /tmp/spy.txt   # while load.py runs
    .venv/bin/python bench/hotspots.py /tmp/spy.txt

``--gil`` keeps only samples of a thread holding the GIL, i.e. running Python (or C
code called from it without releasing the GIL): time spent waiting for PostgreSQL,
Redis or a socket is left out, so the shares are shares of the app's CPU. A category
is *inclusive*: a sample counts for every category one of its frames matches, so
shares overlap (SQLAlchemy inside a view inside Flask); the lists below say what
matched. Also prints the share of each view and the functions with the most samples
of their own (leaf frames).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# (label, regex on a frame "function (file:line)"), inclusive.
CATEGORIES: tuple[tuple[str, str], ...] = (
    # "!": samples where no frame matches
    ("gunicorn outside Flask (HTTP parsing, socket, access log)", r"!Flask\.__call__"),
    ("gunicorn access log (glogging, code redaction)", r"gunicorn/glogging\.py|log_redaction"),
    ("Flask app (Flask.__call__)", r"Flask\.__call__"),
    ("Jinja rendering (render_template, incl. widgets, url_for, gettext)", r"render_template"),
    ("  WTForms field/widget rendering", r"wtforms/(widgets|fields)/.*\(.*__call__|render_field"),
    ("  url_for in templates and views", r"url_for \("),
    ("language context processor (Babel Locale.parse/names)", r"language_context"),
    ("Babel / flask_babel anywhere (locale, gettext, names)", r"\((babel|flask_babel)/"),
    ("SQLAlchemy + psycopg (ORM, SQL compile, driver)", r"\((sqlalchemy|psycopg)/"),
    ("  psycopg driver only", r"\(psycopg/"),
    ("  pool checkout / pre-ping / reset", r"_ConnectionFairy\._checkout|do_ping|_reset \("),
    ("  flush + commit (unit of work, COMMIT)", r"Session\._flush|SessionTransaction\.commit"),
    ("  code + campaign loaded and checked on every step (usable_code)", r"usable_code"),
    ("  submit_response (claim, school, response + 14 answers)", r"submit_response"),
    ("questionnaires package (load_version, published_for, lock)", r"\(questionnaires/"),
    ("  YAML parsing", r"\(yaml/"),
    (
        "  questionnaire lookup (published_for/questionnaire_for/read_lock)",
        r"published_for|read_lock|load_all",
    ),
    ("Form classes built per request (question_form)", r"question_form"),
    ("WTForms anywhere (form build, process, render)", r"\(wtforms/"),
    (
        "cookie session (open/save, itsdangerous signing)",
        r"SecureCookieSessionInterface|\(itsdangerous/",
    ),
    ("  itsdangerous signing/verifying (session cookie, CSRF token)", r"\(itsdangerous/"),
    ("CSRF (flask_wtf.csrf)", r"flask_wtf/csrf\.py"),
    ("markupsafe escaping (templates, widgets)", r"\(markupsafe/"),
    ("gettext (flask_babel translations)", r"gettext"),
    ("Flask-Limiter + Redis", r"\((flask_limiter|limits|redis)/"),
    ("security headers / after_request", r"set_security_headers"),
)

# (label, regex), exclusive: each sample goes to the first that one of its frames
# matches, so these add up to 100%.
BUCKETS: tuple[tuple[str, str], ...] = (
    ("Flask-Limiter + Redis", r"\((flask_limiter|limits|redis)/"),
    ("CSRF check and token (flask_wtf.csrf)", r"flask_wtf/csrf\.py"),
    ("cookie session open/save (itsdangerous)", r"SecureCookieSessionInterface|\(itsdangerous/"),
    ("questionnaire lookup and loading", r"\(questionnaires/"),
    ("SQLAlchemy + psycopg", r"\((sqlalchemy|psycopg|flask_sqlalchemy)/"),
    ("Jinja rendering (templates, url_for, gettext in them)", r"render_template"),
    ("Babel / gettext outside templates", r"\((babel|flask_babel)/"),
    ("gunicorn: HTTP parsing, socket, access log", r"!Flask\.__call__"),
    ("view code itself (survey_app)", r"\(survey_app/"),
    ("Flask / Werkzeug request plumbing (the rest)", r""),
)

VIEW = re.compile(r"^(\w+) \(survey_app/respond/views\.py:\d+\)$")


def load(path: Path) -> list[tuple[list[str], int]]:
    """py-spy ``--format raw``: ``frame;frame;... count`` per line, outermost first."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            stacks.append((frames, int(count)))
    return stacks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=25, help="leaf functions to list")
    args = parser.parse_args()
    stacks = load(args.raw)
    # Only request handling in workers: the master (Arbiter loop) is not per request.
    stacks = [(f, n) for f, n in stacks if any("SyncWorker.handle" in x for x in f)]
    total = sum(n for _f, n in stacks)
    if not total:
        print("no worker samples")
        return 1
    print(f"{total} samples in request handling (gunicorn workers)\n")
    print("inclusive share of the workers' CPU:")
    for label, pattern in CATEGORIES:
        regex = re.compile(pattern.removeprefix("!"))
        if pattern.startswith("!"):
            hits = sum(n for f, n in stacks if not any(regex.search(x) for x in f))
        else:
            hits = sum(n for f, n in stacks if any(regex.search(x) for x in f))
        print(f"  {100 * hits / total:5.1f}%  {label}")
    buckets: Counter[str] = Counter()
    for frames, n in stacks:
        for label, pattern in BUCKETS:
            regex = re.compile(pattern.removeprefix("!"))
            matched = any(regex.search(x) for x in frames)
            if matched != pattern.startswith("!"):
                buckets[label] += n
                break
    print("\nexclusive split of the workers' CPU (first match in this order):")
    for label, _pattern in BUCKETS:
        print(f"  {100 * buckets[label] / total:5.1f}%  {label}")
    views: Counter[str] = Counter()
    for frames, n in stacks:
        view = next((m[1] for x in frames if (m := VIEW.match(x))), "(no view)")
        views[view] += n
    print("\nshare by view (inclusive):")
    for view, n in views.most_common():
        print(f"  {100 * n / total:5.1f}%  {view}")
    leaves: Counter[str] = Counter()
    for frames, n in stacks:
        leaves[re.sub(r":\d+\)$", ")", frames[-1])] += n
    print(f"\ntop {args.top} functions by own samples:")
    for leaf, n in leaves.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {leaf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
