"""Load questionnaire files into :class:`Questionnaire` values, or say everything wrong.

Layout of a questionnaire directory (by default this package's own)::

    <key>.yaml                    working file, current version of each questionnaire
    published/<key>.v<N>.yaml     frozen copy of every published version
    published/lock.json           content hash of every published version

Loading never half-succeeds: a file with any problem raises :class:`QuestionnaireError`
listing all of them. Parsed files are cached by path, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from questionnaires import published as publication
from questionnaires.model import (
    Comment,
    Item,
    Option,
    Problem,
    Questionnaire,
    QuestionnaireError,
    Scale,
    Translations,
)
from questionnaires.validation import STUDENT, find_problems, locate, vocabulary

DEFAULT_DIRECTORY = Path(__file__).resolve().parent


def _duplicate_keys(
    node: yaml.Node | None, path: list[str | int]
) -> Iterator[tuple[list[str | int], int]]:
    """Paths of mapping keys given twice (YAML itself would silently keep the last), with lines."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            if key in seen:
                yield [*path, key], key_node.start_mark.line + 1
            seen.add(key)
            yield from _duplicate_keys(value_node, [*path, key])
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            yield from _duplicate_keys(child, [*path, index])


def file_label(path: Path) -> str:
    """How problems name a file: ``public.yaml`` or ``published/public.v1.yaml``."""
    if path.parent.name == publication.PUBLISHED_DIR:
        return f"{publication.PUBLISHED_DIR}/{path.name}"
    return path.name


def content_hash(document: object) -> str:
    """``sha256:`` of the canonical JSON of the parsed content (layout and comments ignored)."""
    canonical = json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _yaml_error(error: yaml.YAMLError) -> str:
    """One line: what the parser expected and where."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


# libyaml's parser where PyYAML was built with it (its wheels are): ten times faster,
# and every process that reads answers parses the questionnaires once.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path, file: str) -> tuple[object, list[Problem]]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(file, None, "", f"cannot read file: {error}")]
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        return None, [Problem(file, None, "", f"not valid YAML: {_yaml_error(error)}")]
    finally:
        loader.dispose()
    duplicates = []
    for key_path, line in _duplicate_keys(node, []):
        item, field = locate(document, key_path)
        duplicates.append(Problem(file, item, field, f"given twice (line {line})"))
    return document, duplicates


def _name_problems(document: object, path: Path, file: str) -> list[Problem]:
    """The file name must say the key (and, for a published copy, the version)."""
    if not isinstance(document, dict):
        return []  # the schema reports that the document is not a mapping
    key, version = document.get("key"), document.get("version")
    if path.parent.name == publication.PUBLISHED_DIR:
        expected = publication.published_name(str(key), version) if isinstance(version, int) else ""
        if path.name != expected:
            return [Problem(file, None, "key", "key and version do not match the file name")]
    elif path.name != f"{key}.yaml":
        return [Problem(file, None, "key", f"{key!r} does not match the file name")]
    return []


def _translations(texts: dict[str, str], languages: tuple[str, ...]) -> Translations:
    return Translations(tuple((lang, texts[lang]) for lang in languages))


def _build(document: dict[str, Any], digest: str) -> Questionnaire:
    languages = tuple(document["languages"])
    scales = {
        key: Scale(
            key,
            tuple(
                Option(
                    option["code"], _translations(option["label"], languages), option["recognised"]
                )
                for option in scale["options"]
            ),
            Option(
                scale["dont_know"]["code"],
                _translations(scale["dont_know"]["label"], languages),
                None,
            ),
        )
        for key, scale in document["scales"].items()
    }
    items = tuple(
        Item(
            item["id"],
            item["area"],
            scales[item["scale"]],
            _translations(item["text"], languages),
            frozenset(item["audience"]) if "audience" in item else None,
        )
        for item in document["items"]
    )
    comment = document["comment"]
    return Questionnaire(
        key=document["key"],
        version=document["version"],
        groups=tuple(document["groups"]),
        reading_level=document.get("reading_level"),
        languages=languages,
        titles=_translations(document["title"], languages),
        intros=_translations(document["intro"], languages),
        scales=tuple(scales.values()),
        items=items,
        comment=Comment(
            comment["id"], comment["max_length"], _translations(comment["text"], languages)
        ),
        content_hash=digest,
    )


@lru_cache(maxsize=64)
def _parse(
    path: Path, _mtime_ns: int, _size: int
) -> tuple[Questionnaire | None, tuple[Problem, ...]]:
    file = file_label(path)
    document, problems = _read(path, file)
    if document is not None or not problems:
        problems += _name_problems(document, path, file)
        problems += find_problems(document, file)
    if problems or not isinstance(document, dict):
        return None, tuple(problems)
    return _build(document, content_hash(document)), ()


def _parse_file(path: Path) -> tuple[Questionnaire | None, tuple[Problem, ...]]:
    path = Path(path).resolve()
    try:
        status = path.stat()
    except OSError as error:
        return None, (Problem(file_label(path), None, "", f"cannot read file: {error}"),)
    return _parse(path, status.st_mtime_ns, status.st_size)


def load_questionnaire(path: str | Path) -> Questionnaire:
    """The questionnaire in ``path``; raises :class:`QuestionnaireError` with every problem."""
    questionnaire, problems = _parse_file(Path(path))
    if questionnaire is None:
        raise QuestionnaireError(list(problems))
    return questionnaire


def _directory(directory: str | Path | None) -> Path:
    return DEFAULT_DIRECTORY if directory is None else Path(directory)


def _load_files(paths: list[Path]) -> tuple[list[tuple[str, Questionnaire]], list[Problem]]:
    loaded: list[tuple[str, Questionnaire]] = []
    problems: list[Problem] = []
    for path in paths:
        questionnaire, found = _parse_file(path)
        problems.extend(found)
        if questionnaire is not None:
            loaded.append((file_label(path), questionnaire))
    return loaded, problems


def _serves(questionnaire: Questionnaire, group: str, reading_level: str | None) -> bool:
    if group not in questionnaire.groups:
        return False
    return group != STUDENT or questionnaire.reading_level == reading_level


def _coverage_problems(current: list[tuple[str, Questionnaire]]) -> list[Problem]:
    """Each group (students: each reading level) is served by exactly one questionnaire."""
    problems = []
    for group in vocabulary("group"):
        levels: tuple[str | None, ...] = (
            vocabulary("reading_level") if group == STUDENT else (None,)
        )
        for level in levels:
            who = f"{group} ({level})" if level else group
            files = [file for file, q in current if _serves(q, group, level)]
            if not files:
                problems.append(Problem("*.yaml", None, "groups", f"no questionnaire for {who}"))
            for file in files[1:]:
                problems.append(
                    Problem(file, None, "groups", f"{who} is already served by {files[0]}")
                )
    return problems


def check_all(directory: str | Path | None = None) -> list[Problem]:
    """Every problem of every working and published file, the lock and group coverage."""
    root = _directory(directory)
    current, problems = _load_files(sorted(root.glob("*.yaml")))
    published_paths = sorted(publication.published_dir(root).glob("*.yaml"))
    published, published_load_problems = _load_files(published_paths)
    problems += published_load_problems
    lock, lock_problems = publication.read_lock(root)
    problems += lock_problems
    by_label = dict(published)
    problems += publication.published_problems(
        [(file_label(path), by_label.get(file_label(path))) for path in published_paths], lock
    )
    problems += publication.drift_problems(current, lock)
    if len(current) == len(list(root.glob("*.yaml"))):
        problems += _coverage_problems(current)
    return problems


def load_all(directory: str | Path | None = None) -> dict[str, Questionnaire]:
    """The working version of each questionnaire, by key.

    Raises :class:`QuestionnaireError` if any working file has a problem or changed
    under a published version number (answers must always match the text shown).
    """
    root = _directory(directory)
    current, problems = _load_files(sorted(root.glob("*.yaml")))
    lock, lock_problems = publication.read_lock(root)
    problems += lock_problems + publication.drift_problems(current, lock)
    if problems:
        raise QuestionnaireError(problems)
    return {questionnaire.key: questionnaire for _file, questionnaire in current}


def load_version(key: str, version: int, directory: str | Path | None = None) -> Questionnaire:
    """A given version: the working file if it has that version, else the published copy.

    Use it to read answers collected under an older version. Raises LookupError if no
    such version exists.
    """
    root = _directory(directory)
    working = root / f"{key}.yaml"
    if working.exists():
        questionnaire = load_questionnaire(working)
        if questionnaire.version == version:
            return questionnaire
    copy = publication.published_dir(root) / publication.published_name(key, version)
    if not copy.exists():
        raise LookupError(f"no version {version} of questionnaire {key!r}")
    return load_questionnaire(copy)


def questionnaire_for(
    group: str, reading_level: str | None = None, directory: str | Path | None = None
) -> Questionnaire:
    """The questionnaire a respondent of ``group`` answers.

    Students need ``reading_level`` (``primary`` for grades 3-6, ``junior``); for every
    other group it is ignored, so callers may pass a school's level unconditionally.
    """
    if group not in vocabulary("group"):
        raise ValueError(f"unknown respondent group {group!r}")
    level = reading_level if group == STUDENT else None
    if group == STUDENT and level not in vocabulary("reading_level"):
        raise ValueError(f"students need a reading level (primary or junior), not {level!r}")
    matches = [q for q in load_all(directory).values() if _serves(q, group, level)]
    if len(matches) != 1:
        found = ", ".join(q.key for q in matches) or "none"
        raise LookupError(f"{len(matches)} questionnaires for {group!r} ({found})")
    return matches[0]


def published_for(
    group: str, reading_level: str | None = None, directory: str | Path | None = None
) -> Questionnaire:
    """The newest *published* version of the questionnaire ``group`` answers.

    What respondents are served: a working file whose version is not yet published
    (its hash is not in the lock) is a draft for the designers, not for the field.
    Raises LookupError when no version of it has been published.
    """
    current = questionnaire_for(group, reading_level, directory)
    lock, _problems = publication.read_lock(_directory(directory))
    versions = lock.get(current.key, {})
    if versions.get(current.version) == current.content_hash:
        return current
    if not versions:
        raise LookupError(f"questionnaire {current.key!r} has no published version")
    return load_version(current.key, max(versions), directory)


def publish(key: str, directory: str | Path | None = None) -> Path:
    """Freeze the working version of ``key``: copy it to ``published/`` and lock its hash.

    Do this before a version is first answered. Publishing the same content again is a
    no-op; publishing changed content under an already published version number raises
    :class:`QuestionnaireError` (bump ``version`` first). Returns the published copy.
    """
    root = _directory(directory)
    working = root / f"{key}.yaml"
    questionnaire = load_questionnaire(working)
    lock, problems = publication.read_lock(root)
    problems += publication.drift_problems([(file_label(working), questionnaire)], lock)
    if problems:
        raise QuestionnaireError(problems)
    name = publication.published_name(key, questionnaire.version)
    target = publication.published_dir(root) / name
    already = lock.get(key, {}).get(questionnaire.version) == questionnaire.content_hash
    if already and target.exists():
        return target
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(working, target)
    lock.setdefault(key, {})[questionnaire.version] = questionnaire.content_hash
    publication.write_lock(root, lock)
    return target
