"""What a key of the site settings file is: `Setting`, the checks its values meet, and safe user names.

`settings_schema` declares the site's keys with these, `settings_login` the log-in methods' keys;
`settings` reads a file against them. Nothing here knows any particular key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ClhubError

USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,30}\Z"  # \Z: "$" lets "ana\n" through
_USERNAME = re.compile(USERNAME_PATTERN)


class SettingsError(ClhubError):
    code = "bad-settings"


def validate_username(name: str) -> str:
    """Return `name` if it is a safe account name, else raise SettingsError.

    Account names become system user names and folder names, so only lowercase
    letters, digits, '-' and '_' are accepted, starting with a letter, at most 31
    characters: no path characters, no spaces, no dots.
    """
    if not isinstance(name, str) or not _USERNAME.match(name):
        raise SettingsError(
            f"{name!r} is not a valid user name: use 1-31 lowercase letters, digits, '-' or "
            "'_', starting with a letter (no spaces, dots or slashes)."
        )
    return name


# ------------------------------------------------------------------ what a declaration is

# A declared type is a TOML type, or Path: text naming a folder, relative to the settings
# file, kept as an absolute path. `list` is a list of text, kept as a tuple; `dict` a table of
# text to text, kept as a sorted tuple of (key, value) pairs; NUMBER is kept as a float. Each
# maps to (what TOML gives, how a message names it).
_TOML: dict[type, tuple[type, str]] = {
    int: (int, "a whole number"),
    float: (float, "a number"),
    str: (str, "text in quotes"),
    bool: (bool, "true or false"),
    list: (list, 'a list like ["a", "b"]'),
    Path: (str, 'a folder in quotes, like "data"'),
    dict: (dict, 'a table like { "school-group" = "class-a" }'),
}
NUMBER = (int, float)
Types = tuple[type, ...]  # outside the class, where `type` is not Setting.type

Check = Callable[[Any], str | None]
"""Why a value of the declared type is refused ("is out of range; use 1-65535."), or None.
A list setting's check is applied to each item and names the item itself."""


@dataclass(frozen=True)
class Setting:
    """One key of the settings file: everything the code and the reference know about it.

    `help` is the reference's text: units, the default and an example. `field` is the
    SiteSettings attribute when it differs from `key`; `env` an environment variable that
    overrides the file; `tidy` turns an accepted value into the kept one.
    """

    section: str
    key: str
    type: type | Types
    default: Any
    help: str
    check: Check | None = None
    field: str = ""
    env: str = ""
    tidy: Callable[[Any], Any] | None = None

    @property
    def name(self) -> str:
        """How messages and the README write the key: "site.port"."""
        return f"{self.section}.{self.key}"

    @property
    def attr(self) -> str:
        """The SiteSettings attribute that holds the value."""
        return self.field or self.key

    def type_name(self) -> str:
        """The declared type in a site administrator's words: "a whole number or a number"."""
        return " or ".join(_TOML[t][1] for t in self._types())

    def _types(self) -> Types:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot be this setting, naming the key, the value and what is allowed; None if it can."""
        if not self._has_type(value):
            return f"{self.name} must be {self.type_name()}, not {value!r}."
        if self.type is list:
            return self._items_problem(value)
        if self.type is dict:
            return self._table_problem(value)
        why = self.check(value) if self.check else None
        return f"{self.name} = {value!r} {why}" if why else None

    def _has_type(self, value: Any) -> bool:
        types = self._types()
        # bool is an int in Python; a port of `true` is still a mistake.
        bool_as_number = isinstance(value, bool) and bool not in types
        return isinstance(value, tuple(_TOML[t][0] for t in types)) and not bool_as_number

    def _items_problem(self, items: list[Any]) -> str | None:
        for item in items:
            if not isinstance(item, str):
                return f"{self.name} must be a list of text values; {item!r} is not text."
            why = self.check(item) if self.check else None
            if why:
                return f"{self.name}: {why}"
        return None

    def _table_problem(self, table: dict[str, Any]) -> str | None:
        for key, value in table.items():
            if not key or not isinstance(value, str):
                return f'{self.name} must map text to text, like {{ "a" = "b" }}; {key!r} = {value!r} does not.'
            why = self.check(value) if self.check else None
            if why:
                return f"{self.name}.{key}: {why}"
        return None

    def kept(self, value: Any, base: Path) -> Any:
        """The SiteSettings value for an accepted `value`, read from a file in folder `base`."""
        if self.type is list:
            return tuple(value)
        if self.type is dict:
            return tuple(sorted(value.items()))
        if self.type is Path:
            return (base / value).resolve()
        if self.type == NUMBER:
            return float(value)
        return self.tidy(value) if self.tidy else value


# ------------------------------------------------------------------ checks


def _rule(ok: Callable[[Any], bool], why: str) -> Check:
    return lambda value: None if ok(value) else why


def at_least(low: float) -> Check:
    return _rule(lambda value: value >= low, f"must be {low} or more.")


def between(low: float, high: float) -> Check:
    return _rule(lambda value: low <= value <= high, f"must be between {low} and {high}.")


def one_of(choices: tuple[str, ...]) -> Check:
    return _rule(lambda value: value in choices, "is not allowed; use one of: " + ", ".join(choices) + ".")


PORT = _rule(lambda port: 1 <= port <= 65535, "is out of range; use 1-65535.")
WEB_ADDRESS = _rule(
    lambda url: not url or re.match(r"^https?://[^\s/]+(/[^\s]*)?\Z", url) is not None,
    'is not a web address; example: "https://lab.example.org".',
)


def user_name_problem(name: str) -> str | None:
    try:
        validate_username(name)
    except SettingsError as e:
        return str(e)
    return None


def network_problem(text: str) -> str | None:
    """Why `text` is not an address or a network ("10.0.0.0/8"), or None."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f'{text!r} is not an address or a network; examples: "127.0.0.1", "10.0.0.0/8", "fd00::/8".'
    return None
