"""Published versions are frozen: their content hashes are locked in ``published/lock.json``.

A questionnaire version is *published* once it may have been answered. Its file is then
copied to ``published/<key>.v<version>.yaml`` (so answers to old versions can always be
read back) and its content hash recorded in the lock. From then on:

- the published copy must keep that hash (it is never edited);
- the working file ``<key>.yaml`` may only differ from it under a higher ``version``.

Only :func:`questionnaires.publish` writes here; ``check`` reports any drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from questionnaires.model import Problem, Questionnaire

PUBLISHED_DIR = "published"
LOCK_NAME = "lock.json"
LOCK_LABEL = f"{PUBLISHED_DIR}/{LOCK_NAME}"
LOCK_ABOUT = (
    "Content hashes of published questionnaire versions. Written by questionnaires.publish(); "
    "do not edit: change the working file under a new version and publish that."
)

Lock = dict[str, dict[int, str]]

_PUBLISHED_NAME = re.compile(r"(?P<key>[a-z_]+)\.v(?P<version>[1-9][0-9]*)\.yaml")


def published_dir(directory: Path) -> Path:
    return directory / PUBLISHED_DIR


def published_name(key: str, version: int) -> str:
    return f"{key}.v{version}.yaml"


def parse_published_name(name: str) -> tuple[str, int] | None:
    """``(key, version)`` from ``<key>.v<version>.yaml``, else None."""
    match = _PUBLISHED_NAME.fullmatch(name)
    return (match["key"], int(match["version"])) if match else None


def read_lock(directory: Path) -> tuple[Lock, list[Problem]]:
    """The lock as ``{key: {version: hash}}``; an absent lock means nothing is published."""
    path = published_dir(directory) / LOCK_NAME
    if not path.exists():
        return {}, []
    try:
        data = json.loads(path.read_text("utf-8"))
        lock: Lock = {
            str(key): {int(version): str(digest) for version, digest in versions.items()}
            for key, versions in data["versions"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return {}, [Problem(LOCK_LABEL, None, "", f"unreadable lock file: {error}")]
    return lock, []


def write_lock(directory: Path, lock: Lock) -> None:
    versions = {
        key: {str(version): lock[key][version] for version in sorted(lock[key])}
        for key in sorted(lock)
    }
    text = json.dumps({"about": LOCK_ABOUT, "versions": versions}, indent=2, ensure_ascii=False)
    (published_dir(directory) / LOCK_NAME).write_text(text + "\n", "utf-8")


def drift_problems(current: Iterable[tuple[str, Questionnaire]], lock: Lock) -> list[Problem]:
    """Working files whose content changed under an already published version number.

    ``current`` holds ``(file label, questionnaire)`` pairs of the working files.
    """
    problems = []
    for file, questionnaire in current:
        versions = lock.get(questionnaire.key, {})
        if not versions:
            continue
        latest = max(versions)
        locked = versions.get(questionnaire.version)
        if questionnaire.version < latest:
            message = f"version {questionnaire.version} is older than published version {latest}"
            problems.append(Problem(file, None, "version", message))
        elif locked is not None and locked != questionnaire.content_hash:
            message = (
                f"content differs from published version {questionnaire.version}; "
                f"bump version to {latest + 1} (published versions are frozen)"
            )
            problems.append(Problem(file, None, "version", message))
    return problems


def published_problems(
    published: Iterable[tuple[str, Questionnaire | None]], lock: Lock
) -> list[Problem]:
    """Published copies that are not in the lock, differ from it, or are missing.

    ``published`` holds ``(file label, questionnaire or None if it failed to load)`` for
    every file in ``published/``; load failures are reported by the loader itself.
    """
    problems = []
    present: set[tuple[str, int]] = set()
    for file, questionnaire in published:
        named = parse_published_name(file.rpartition("/")[2])
        if named is not None:
            present.add(named)
        if questionnaire is None:
            continue
        key, version = questionnaire.key, questionnaire.version
        present.add((key, version))
        locked = lock.get(key, {}).get(version)
        if locked is None:
            problems.append(Problem(file, None, "", f"not recorded in {LOCK_LABEL}"))
        elif locked != questionnaire.content_hash:
            problems.append(
                Problem(
                    file,
                    None,
                    "",
                    f"content of published version {version} changed; restore it and make "
                    f"the change in {key}.yaml under a new version",
                )
            )
    for key in sorted(lock):
        for version in sorted(lock[key]):
            if (key, version) not in present:
                name = published_name(key, version)
                problems.append(
                    Problem(LOCK_LABEL, None, f"versions.{key}.{version}", f"{name} is missing")
                )
    return problems
