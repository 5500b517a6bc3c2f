"""Where the hub remembers each learner's interests and language: one small JSON file per account.

The folder belongs to the hub (mode 0700); files are written atomically. Names reaching
here are hub user names, validated again because they become file names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..learner.provision import atomic_write_text
from ..settings import validate_username

#: The language of a learner who has not chosen one.
DEFAULT_LANGUAGE = "en"


def _path(folder: str, username: str) -> str:
    return os.path.join(folder, validate_username(username) + ".json")


def _load(folder: str, username: str) -> dict[str, Any]:
    try:
        with open(_path(folder, username), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Choice(NamedTuple):
    """What a learner chose: their interests (None before the first choice) and their language."""

    interests: list[str] | None
    language: str


def read_choice(folder: str, username: str) -> Choice:
    """The interests and language remembered for `username`, from one read of their file."""
    data = _load(folder, username)
    chosen = data.get("interests")
    if not (isinstance(chosen, list) and chosen and all(isinstance(i, str) for i in chosen)):
        chosen = None
    language = data.get("language")
    return Choice(chosen, language if isinstance(language, str) and language else DEFAULT_LANGUAGE)


def read(folder: str, username: str) -> list[str] | None:
    """The interests remembered for `username`, or None when none were chosen yet."""
    return read_choice(folder, username).interests


def read_language(folder: str, username: str) -> str:
    """The language code remembered for `username` ("en" until they choose another)."""
    return read_choice(folder, username).language


def write(folder: str, username: str, interests: list[str], language: str = DEFAULT_LANGUAGE) -> None:
    os.makedirs(folder, mode=0o700, exist_ok=True)
    atomic_write_text(Path(_path(folder, username)), json.dumps({"interests": interests, "language": language}))
