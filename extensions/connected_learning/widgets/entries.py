"""The community data collector's rules, as pure functions: field specs, entry validation, CSV append.

`check_spec` validates a teacher's field spec once. `validate_entry(spec, values)` turns
what a learner typed into a clean row or into one message per bad field; each message
names the field and says what to type instead. `append_row(csv_path, fieldnames, row)`
appends one row to a CSV that a whole group shares, safely when many learners submit
at the same moment: it holds an exclusive `fcntl.flock` on the CSV itself while it checks
the header, writes the header only into an empty file, and appends the row with a single
write followed by fsync. Locking the CSV (not a lock file beside it) means no second file
whose permissions could shut other group members out.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from typing import Any

from connected_learning.widgets.i18n import _, t

__all__ = ["FIELD_TYPES", "append_row", "check_spec", "validate_entry"]

FIELD_TYPES = ("text", "int", "float", "choice")
RESERVED = ("submitted_at",)
MAX_TEXT = 500
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FORMULA_START = ("=", "+", "-", "@")


def check_spec(spec: Any) -> list[dict[str, Any]]:
    """Validate a field spec and return it with every key filled in.

    A spec is a list of fields: {"name": "age", "type": "int", "label": "Your age",
    "required": True, "min": 8, "max": 18}; "choice" fields also have "choices": [...].
    For text, min and max limit the length. Raises ValueError naming the bad field.
    """
    if not isinstance(spec, list | tuple) or not 1 <= len(spec) <= 30:
        raise ValueError("A form needs a list of 1 to 30 fields, like [{'name': 'street', 'type': 'text'}].")
    fields, names = [], set()
    for number, field in enumerate(spec, 1):
        if not isinstance(field, Mapping):
            raise ValueError(f"Field {number} must be a dict like {{'name': 'street', 'type': 'text'}}.")
        unknown = set(field) - {"name", "type", "label", "required", "min", "max", "choices", "help"}
        name = field.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
            raise ValueError(
                f"Field {number} has the name {name!r}; use small letters, digits and '_', "
                f"starting with a letter (and not {', '.join(RESERVED)})."
            )
        if unknown:
            raise ValueError(f"Field {name!r} has keys this form does not know: {', '.join(sorted(unknown))}.")
        if name in names:
            raise ValueError(f"Two fields are called {name!r}; give each its own name.")
        names.add(name)
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            raise ValueError(f"Field {name!r} has type {kind!r}; use one of {', '.join(FIELD_TYPES)}.")
        clean = {
            "name": name,
            "type": kind,
            "label": str(field.get("label") or name.replace("_", " ").capitalize()),
            "required": bool(field.get("required", False)),
            "min": field.get("min"),
            "max": field.get("max"),
            "choices": None,
            "help": str(field.get("help") or ""),
        }
        for key in ("min", "max"):
            value = clean[key]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            ):
                raise ValueError(f"Field {name!r}: {key} must be a number, not {value!r}.")
        if clean["min"] is not None and clean["max"] is not None and clean["min"] > clean["max"]:
            raise ValueError(f"Field {name!r}: min ({clean['min']}) is bigger than max ({clean['max']}).")
        if kind == "choice":
            choices = field.get("choices")
            if (
                not isinstance(choices, list | tuple)
                or not choices
                or not all(isinstance(c, str) and c.strip() for c in choices)
                or len(set(choices)) != len(choices)
            ):
                raise ValueError(f"Field {name!r} is a choice, so it needs a list of different, non-empty choices.")
            clean["choices"] = list(choices)
        fields.append(clean)
    return fields


def hint(field: Mapping[str, Any]) -> str:
    """What to type into a field, in words: 'a whole number from 0 to 120'."""
    low = None if field["min"] is None else f"{field['min']:g}"
    high = None if field["max"] is None else f"{field['max']:g}"
    if field["type"] == "choice":
        return _("one of the choices in the list")
    if field["type"] in ("int", "float"):
        noun = _("a whole number") if field["type"] == "int" else _("a number")
        if low is not None and high is not None:
            return t("{noun} from {low} to {high}", noun=noun, low=low, high=high)
        if low is not None:
            return t("{noun} of at least {low}", noun=noun, low=low)
        if high is not None:
            return t("{noun} of at most {high}", noun=noun, high=high)
        return t("{noun}, like {example}", noun=noun, example="12" if field["type"] == "int" else "3.5")
    if low is not None and high is not None:
        return t("some words of {low} to {high} letters", low=low, high=high)
    if low is not None:
        return t("some words of at least {low} letters", low=low)
    if high is not None:
        return t("some words of at most {high} letters", high=high)
    return _("some words")


def _check_one(field: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
    label, kind = field["label"], field["type"]
    text = "" if raw is None else str(raw).strip()
    if not text:
        if not field["required"]:
            return "", None
        if kind == "choice":
            return "", t("{label}: this one is needed. Pick {hint}.", label=label, hint=hint(field))
        return "", t("{label}: this one is needed. Type {hint}.", label=label, hint=hint(field))
    if kind == "choice":
        return (
            (text, None)
            if text in field["choices"]
            else ("", t("{label}: pick {hint}.", label=label, hint=hint(field)))
        )
    if kind in ("int", "float"):
        try:
            value: Any = int(text) if kind == "int" else float(text)
        except ValueError:
            example = "12" if kind == "int" else "3.5"
            return "", t(
                "{label}: {text} is not {hint}. Type digits only, like {example}.",
                label=label,
                text=repr(text[:30]),
                hint=hint(field),
                example=example,
            )
        if isinstance(value, float) and not math.isfinite(value):
            return "", t("{label}: type {hint}.", label=label, hint=hint(field))
        size = value
    else:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            return "", t("{label}: please keep it on one line, without hidden characters.", label=label)
        if len(text) > MAX_TEXT:
            return "", t(
                "{label}: that is {count} letters; please keep it under {limit}.",
                label=label,
                count=len(text),
                limit=MAX_TEXT,
            )
        # A spreadsheet would run a cell starting with these as a formula; a leading ' keeps it text.
        value, size = ("'" + text if text.startswith(_FORMULA_START) else text), len(text)
    if (field["min"] is not None and size < field["min"]) or (field["max"] is not None and size > field["max"]):
        return "", t(
            "{label}: {text} is out of range. Type {hint}.", label=label, text=repr(text[:30]), hint=hint(field)
        )
    return value, None


def validate_entry(spec: Any, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check what a learner typed against the spec.

    Args:
        spec: a field spec (see `check_spec`).
        values: {field name: what was typed}; missing fields count as empty, unknown ones are ignored.

    Returns:
        (clean_row, errors): on success the row ({name: str, int or float; "" for an empty
        optional field}) and {}; otherwise {} and {field name: a message that names the field
        and says what to type}.
    """
    row, errors = {}, {}
    for field in check_spec(spec):
        value, error = _check_one(field, values.get(field["name"]))
        if error:
            errors[field["name"]] = error
        else:
            row[field["name"]] = value
    return ({}, errors) if errors else (row, {})


def _csv_line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def append_row(csv_path: str | os.PathLike[str], fieldnames: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append `row` to the CSV at `csv_path`, writing the header first if the file is new or empty.

    Safe when several processes append at once: an exclusive flock on the CSV covers the
    header check and the write; the line goes out in one write and is fsynced before the
    lock is released. A CSV this creates is group-writable (0664), because a group shares it.

    Raises:
        ValueError: the path is a symbolic link or not a plain file, the row has keys that are
            not in `fieldnames`, or the file already has a different header.
        OSError: the file cannot be opened or written (for example no permission).
    """
    path = os.fspath(csv_path)
    if not isinstance(path, str) or not path.endswith(".csv") or "\x00" in path:
        raise ValueError(f"The data file must be a .csv file name, not {path!r}.")
    extra = set(row) - set(fieldnames)
    if extra:
        raise ValueError(f"The row has fields that are not columns of {path!r}: {', '.join(sorted(map(str, extra)))}.")
    line = _csv_line([row.get(name, "") for name in fieldnames])
    header = _csv_line(list(fieldnames))
    flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    created = True
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o664)
        except FileExistsError:
            created = False
            fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:  # the last part of the path is a symbolic link
            raise ValueError(f"{path!r} is a shortcut (symbolic link); the data file must be a plain file.") from None
        raise
    try:
        if created:
            os.fchmod(fd, 0o664)
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path!r} is not a plain file.")
        if info.st_size == 0:
            data = header + line
        else:
            first = os.pread(fd, min(info.st_size, 65536), 0).decode("utf-8", "replace").split("\n", 1)[0]
            if first.rstrip("\r") + "\n" != header:
                raise ValueError(
                    f"{os.path.basename(path)!r} has the columns {first.strip()!r}, but this form "
                    f"writes {header.strip()!r}. Ask your teacher which data file to use."
                )
            # A row cut short by a crash elsewhere must not swallow ours.
            data = line if os.pread(fd, 1, info.st_size - 1) == b"\n" else "\n" + line
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    if created:
        directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
