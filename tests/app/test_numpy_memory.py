"""The app turns numpy's huge-page advice off, unless the operator set it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = (
    "import numpy as np; from survey_app.numpy_memory import advise_no_huge_pages; "
    "advise_no_huge_pages(); print(np._core.multiarray._get_madvise_hugepage())"
)


def _advised(env_value: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    if env_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_huge_page_advice_is_off_by_default():
    assert _advised(None) == "False"


def test_an_operators_setting_wins():
    assert _advised("1") == "True"
