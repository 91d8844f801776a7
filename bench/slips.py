"""How long printing code slips takes: issue N codes for a drawn county and render their
PDF slips (WeasyPrint), in this process on a temporary SQLite database.

    .venv/bin/python bench/slips.py [--codes 1000] [--language zh_Hans]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, and bench/analysis.py would shadow
# the analysis package.
sys.path[0] = str(Path(__file__).resolve().parents[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--language", default="zh_Hans")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    os.environ.update(DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3", FLASK_DEBUG="1")
    from flask_migrate import upgrade

    from survey_app import create_app
    from survey_app.demo import seed_demo_county
    from survey_app.extensions import db
    from survey_app.models import School
    from survey_app.plan.code_batches import IssuedCode
    from survey_app.plan.issuing import issue_codes
    from survey_app.plan.slips import slips_pdf

    app = create_app()
    with app.app_context(), app.test_request_context():
        upgrade()
        campaign = seed_demo_county(datetime.now(UTC))
        schools = db.session.scalars(db.select(School).limit(20)).all()
        started = time.perf_counter()
        issued = [
            IssuedCode(school, "parent", None, code)
            for index, school in enumerate(schools)
            for code in issue_codes(
                school, "parent", args.codes // len(schools) + (index < args.codes % len(schools))
            )
        ]
        db.session.commit()
        issuing = time.perf_counter() - started
        started = time.perf_counter()
        pdf = slips_pdf(
            issued, "https://survey.example.cn", args.language, campaign, datetime.now(UTC)
        )
        rendering = time.perf_counter() - started
    pages = -(-len(issued) // 10)
    print(
        f"{len(issued)} codes issued in {issuing:.2f} s; {pages} pages of slips rendered in "
        f"{rendering:.2f} s ({1000 * rendering / len(issued):.1f} ms a slip), "
        f"{len(pdf) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
