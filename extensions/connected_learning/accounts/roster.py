"""Class lists: read a teacher's CSV file and decide, row by row, whether it can be imported.

`validate_roster` is the one edge where a class list comes in. It reads the file with
pandas, checks every row and returns a `RosterResult`: either every row, cleaned and with
generated passwords filled in, or every problem, each with its line number in the file
(the header is line 1) and a reason a teacher can act on. It creates nothing: the
classroom service and `clhub roster import` apply a clean result; `slips` prints it.

Problems carry the teacher's own (untrusted) values: escape them before showing them
in HTML.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd

from ..errors import ClhubError
from ..settings import SettingsError, validate_username

HEADER = ("username", "display_name", "group", "role", "password")
ROLES = ("student", "teacher", "mentor")
MAX_BYTES = 1_000_000
MAX_ROWS = 2_000
MAX_DISPLAY_NAME = 60
MAX_NAME = 31  # validate_username's limit: system user names
# bcrypt (the hash NativeAuthenticator stores) reads at most 72 bytes; bcrypt 5 refuses more.
MAX_PASSWORD_BYTES = 72
# A spreadsheet runs a cell that starts with one of these as a formula when the exported
# list is opened again (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
# Characters that reorder or hide text: a display name must read as it is stored.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A display name is shown to peers and families: never a way to reach the child.
EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
MARKUP_CHARACTERS = "<>"
HEADER_EXAMPLE = ",".join(HEADER)
ROW_EXAMPLE = "ana-m,Ana M.,class-5b,student,"

# Short, common, friendly words for generated passwords: easy to read off a slip and type.
WORDS = tuple(
    """
    acorn amber anchor apple apron arrow atlas autumn badge bagel bamboo banjo barn basil
    beach beacon bean bear beaver bell berry birch bison blanket blossom boat bongo bounce
    branch bread breeze brick bridge brook bubble bucket buffalo bunny butter button cabin
    cactus camel canal candle canoe canyon carrot castle cedar cello cherry chess cider
    circle cliff clock cloud clover cobalt comet copper coral cotton cougar crane crayon
    cricket crystal cubby dahlia daisy dancer delta desert dingo dolphin donut dragon
    drum eagle earth echo elbow ember falcon feather fern fiddle fig finch flute forest
    fossil fountain fox frost galaxy garden gecko giraffe ginger glacier globe goose grape
    gravel guitar hammer harbor hazel hedge heron hippo honey horizon husky igloo island
    ivory jacket jaguar jelly jigsaw jungle kayak kettle kite kiwi koala ladder lagoon
    lantern lemon lentil lilac lime llama lotus magnet mango maple marble meadow melon
    meteor mint mitten monkey moose mosaic muffin museum nectar needle nest noodle nutmeg
    oak oasis ocean olive onion orbit orchid otter owl paddle panda papaya parrot pebble
    pecan pencil penguin pepper piano pickle pillow pine planet plum pocket pony poppy
    potato prairie pretzel puffin pumpkin puzzle quail quartz quilt rabbit radar radish
    raft rainbow raven reef ribbon river robin rocket saddle salmon sandal scarf seal
    shell shovel silver sketch sled snail sparrow spider spruce squash star stone sugar
    summit sunset swan tango teapot thistle thunder tiger timber toast tomato topaz torch
    trail tulip tunnel turtle ukulele valley velvet violet violin voyage waffle walnut
    walrus whale willow window winter wizard yak yarn yogurt zebra zephyr zigzag
    """.split()
)
PASSWORD_DIGITS = "23456789"  # no 0 or 1: they look like O and l on paper
PASSWORD_DIGIT_COUNT = 3


class RosterError(ClhubError):
    """The file as a whole cannot be read (not UTF-8, too big, empty)."""

    code = "bad-roster"


@dataclass(frozen=True)
class RosterProblem:
    """One thing wrong in a class list.

    `line` is the line in the file (the header is line 1); `column` is a header name, or
    "" for a problem with the whole line or file; `value` is the cell as written (empty
    for passwords, which are never repeated back).
    """

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class RosterRow:
    """One valid row of a class list, ready to apply.

    `password` is None for an account that exists already: its password stays as it is.
    `password_generated` says the list left the password empty and this module chose it
    (the slips must show it: nobody else knows it).
    """

    line: int
    username: str
    display_name: str
    group: str
    role: str
    password: str | None
    password_generated: bool
    new_account: bool


@dataclass(frozen=True)
class RosterResult:
    """Every row when the whole list is valid, else no rows and every problem."""

    rows: tuple[RosterRow, ...]
    problems: tuple[RosterProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def generate_password(min_length: int) -> str:
    """A password easy to read off a slip, like 'otter-maple-473': two words or more, then digits.

    It is at least `min_length` characters long and, for a `min_length` of at most 72,
    no longer than bcrypt reads.
    """
    words = [secrets.choice(WORDS), secrets.choice(WORDS)]
    longest = max(len(word) for word in WORDS)
    # Another word only while it still leaves room for "-" and the digits below the minimum.
    while len("-".join(words)) + 1 + longest + 1 + PASSWORD_DIGIT_COUNT <= min_length:
        words.append(secrets.choice(WORDS))
    stem = "-".join(words) + "-"
    count = max(PASSWORD_DIGIT_COUNT, min_length - len(stem))
    return stem + "".join(secrets.choice(PASSWORD_DIGITS) for _ in range(count))


def _show(value: str, limit: int = 40) -> str:
    """`value` quoted for a message, control characters visible, long values cut."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _name_problem(column: str, value: str) -> str | None:
    """Why `value` cannot be a user or group name, or None if validate_username accepts it."""
    try:
        validate_username(value)
        return None
    except SettingsError:
        pass
    if not value:
        return f"{column} is empty; every row needs one, e.g. {'ana-m' if column == 'username' else 'class-5b'!r}."
    if len(value) > MAX_NAME:
        return f"{column} {_show(value)} is {len(value)} characters long; use at most {MAX_NAME}."
    hint = ""
    lowered = value.lower().replace(" ", "-").replace(".", "-")
    try:
        hint = f" (for example {validate_username(lowered)!r})"
    except SettingsError:
        pass
    return (
        f"{column} {_show(value)} may hold only lower-case letters, digits, '-' and '_' and must start "
        f"with a letter{hint}."
    )


def _display_name_problem(value: str) -> str | None:
    if not value:
        return "display_name is empty; write the name people see, e.g. a first name and initial like 'Ana M.'."
    if len(value) > MAX_DISPLAY_NAME:
        return f"display_name {_show(value)} is {len(value)} characters long; use at most {MAX_DISPLAY_NAME}."
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in value):
        return f"display_name {_show(value)} holds a control character (a tab, line break or similar); remove it."
    if value.startswith(FORMULA_STARTS):
        return (
            f"display_name {_show(value)} starts with {value[0]!r}, which spreadsheets run as a formula; "
            "start it with a letter."
        )
    if any(c in MARKUP_CHARACTERS for c in value):
        return f"display_name {_show(value)} holds '<' or '>'; a name needs neither, remove them."
    if EMAIL_LIKE.search(value):
        return (
            f"display_name {_show(value)} looks like an e-mail address, which peers and families would see; "
            "use a first name and an initial like 'Ana M.' instead."
        )
    return None


def clean_display_name(value: str) -> str:
    """`value` as a class list would store it (NFC, trimmed); RosterError with the import's reason if it cannot be one.

    The one check of a display name, for a class list's rows and a teacher's rename alike.
    """
    cleaned = unicodedata.normalize("NFC", value).strip()
    problem = _display_name_problem(cleaned)
    if problem:
        raise RosterError(problem)
    return cleaned


def _password_problem(value: str, username: str, min_length: int) -> str | None:
    if value != value.strip():
        return "password begins or ends with a space; remove it (spaces at the ends are easy to miss)."
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "password holds a control character (a tab or similar); use letters, digits and punctuation."
    if len(value) < min_length:
        return (
            f"password is {len(value)} characters long; use at least {min_length}, or leave it empty and one "
            "will be made up."
        )
    if len(value.encode()) > MAX_PASSWORD_BYTES:
        return f"password is longer than {MAX_PASSWORD_BYTES} bytes; use a shorter one."
    if value.lower() == username.lower():
        return "password is the same as the username; choose another, or leave it empty and one will be made up."
    return None


@dataclass
class _Record:
    line: int
    fields: list[str]


def _decode(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise RosterError(
            f"The class list is {len(data):,} bytes; at most {max_bytes:,} are accepted. Split it into "
            "several files, one group each."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterError(
            "The class list is saved as UTF-16 ('Unicode Text'). Save it as 'CSV UTF-8 (Comma delimited)'."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RosterError(
            f"The class list is not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}). In a spreadsheet, "
            "choose Save As > 'CSV UTF-8 (Comma delimited)'."
        ) from None
    if "\x00" in text:
        raise RosterError("The class list holds NUL bytes, so it is not a text file. Save it as CSV UTF-8.")
    if not text.strip():
        raise RosterError(f"The class list is empty. Its first line must be the header: {HEADER_EXAMPLE}")
    return text


def _physical_lines(text: str) -> list[str]:
    # Only CR, LF and CRLF end a line: str.splitlines would also split on characters that
    # are no line end in a spreadsheet (form feed, U+2028), and shift every line number.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line end
    return lines


def _records(lines: list[str], problems: list[RosterProblem]) -> list[_Record]:
    """Split `lines` into CSV records of one line each; a record that is not is a problem."""
    reader = csv.reader((line + "\n" for line in lines), strict=True)
    records: list[_Record] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return records
        except csv.Error as e:
            problems.append(RosterProblem(start, "", "", _csv_error_reason(str(e), start, reader.line_num)))
            continue
        if reader.line_num > start:
            problems.append(
                RosterProblem(
                    start,
                    "",
                    "",
                    f"a value holds a line break (lines {start} to {reader.line_num} read as one row); "
                    "keep each person on one line and remove the line break from the cell.",
                )
            )
        else:
            records.append(_Record(start, fields))


def _csv_error_reason(error: str, start: int, end: int) -> str:
    if "end of data" in error:
        span = f", so lines {start} to {end} read as one value" if end > start else ""
        return f'a quote (") opens here and is never closed{span}; close the quote or remove it.'
    if "expected after" in error:
        span = f" (lines {start} to {end} read as one row: a value holds a line break)" if end > start else ""
        return (
            f'the row has a quote (") in the wrong place{span}; put quotes around the whole value and double any quote '
            'inside it, e.g. "Ana ""Red"" M.".'
        )
    return f"the line cannot be read as CSV ({error}); is this the class list?"


def _is_blank(fields: list[str]) -> bool:
    return all(not f.strip() for f in fields)


def _check_header(record: _Record | None) -> tuple[list[int], list[RosterProblem]]:
    """The position of each HEADER column in the file, or the problems with the header."""
    if record is None or _is_blank(record.fields):
        return [], [RosterProblem(1, "", "", f"the first line must be the header {HEADER_EXAMPLE}; it is empty.")]
    names = [f.strip().lower() for f in record.fields]
    written = ",".join(record.fields)
    if len(names) == 1 and ";" in names[0]:
        return [], [
            RosterProblem(
                1,
                "",
                written,
                f"the header {_show(written, 80)} is separated by ';'; save the file with commas between "
                f"values ('CSV UTF-8 (Comma delimited)'). The header must be {HEADER_EXAMPLE}",
            )
        ]
    missing = [h for h in HEADER if h not in names]
    extra = [n for n in names if n not in HEADER]
    twice = sorted({n for n in names if n in HEADER and names.count(n) > 1})
    if not (missing or extra or twice):
        return [names.index(h) for h in HEADER], []
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(missing))
    if extra:
        parts.append("unknown column(s) " + ", ".join(repr(n) for n in extra))
    if twice:
        parts.append("column(s) written twice: " + ", ".join(twice))
    return [], [
        RosterProblem(
            1,
            "",
            written,
            f"the header {_show(written, 80)} has " + "; ".join(parts) + f". It must be {HEADER_EXAMPLE}",
        )
    ]


def _read_table(records: list[_Record], order: list[int]) -> pd.DataFrame:
    """The rows as a DataFrame of strings, read by pandas from a canonical CSV.

    The records were split by the csv module, line by line, so their line numbers are
    exact; pandas reads them back written out plainly, so both agree on every value.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows([record.fields[i] for i in order] for record in records)
    buffer.seek(0)
    table = pd.read_csv(buffer, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False)
    table.index = [record.line for record in records]
    return table


def validate_roster(
    data: bytes,
    *,
    min_password_length: int,
    existing_users: Mapping[str, Collection[str]] | None = None,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> RosterResult:
    """Check a class list and return every row or every problem.

    The file is CSV in UTF-8 (a BOM and CRLF line ends are fine) with the header
    `username,display_name,group,role,password` (any order, any case). An empty password
    is made up for a new account. Blank lines between rows, rows with the wrong number of
    values and values holding a line break are reported, not guessed at; blank lines at
    the end are ignored.

    Args:
        data: the uploaded file.
        min_password_length: the site's shortest password (login.min_password_length).
        existing_users: hub accounts that exist now, each with the groups it is in. Such
            an account may join another group, but it must not be listed again for a
            group it is in, and its password cell must be empty (a class list does not
            change the password of somebody else's student).
        max_bytes: largest file accepted. Default 1,000,000.
        max_rows: most rows accepted (the header not counted). Default 2,000.

    Returns:
        RosterResult: all rows and no problems, or no rows and every problem.

    Raises:
        RosterError: the file cannot be read at all (too big, too many rows, not UTF-8
            text, empty), or min_password_length cannot be met by the password hash.
    """
    if not 1 <= min_password_length <= MAX_PASSWORD_BYTES:
        raise RosterError(
            f"login.min_password_length = {min_password_length} cannot be used: passwords are stored with "
            f"bcrypt, which reads at most {MAX_PASSWORD_BYTES} bytes. Set it between 4 and {MAX_PASSWORD_BYTES}."
        )
    lines = _physical_lines(_decode(data, max_bytes))
    while lines and not lines[-1].strip(" \t"):
        lines.pop()  # blank lines at the end hide nothing: ignore them
    if len(lines) - 1 > max_rows:
        raise RosterError(
            f"The class list has {len(lines) - 1:,} rows; at most {max_rows:,} are accepted at once. "
            "Split it into several files."
        )

    problems: list[RosterProblem] = []
    records = _records(lines, problems)
    header = records[0] if records and records[0].line == 1 else None
    if header is None and any(p.line == 1 for p in problems):
        return RosterResult((), tuple(problems[:1]))
    order, header_problems = _check_header(header)
    if header_problems:
        return RosterResult((), tuple(header_problems))

    good: list[_Record] = []
    for record in records[1:]:
        if _is_blank(record.fields):
            problems.append(
                RosterProblem(
                    record.line, "", "", "the line is blank; delete it (or fill in the person who is missing)."
                )
            )
        elif len(record.fields) != len(HEADER):
            first = record.fields[0].strip()
            problems.append(
                RosterProblem(
                    record.line,
                    "",
                    "",
                    f"the row has {len(record.fields)} values (starting {_show(first)}) but the header has "
                    f"{len(HEADER)}; write all {len(HEADER)}, leaving a cell empty where there is nothing, "
                    f"e.g. {ROW_EXAMPLE}",
                )
            )
        else:
            good.append(record)
    if not good and not problems:
        return RosterResult(
            (),
            (RosterProblem(1, "", "", f"there are no rows below the header; add one per person, e.g. {ROW_EXAMPLE}"),),
        )

    rows = _check_rows(_read_table(good, order), min_password_length, existing_users or {}, problems)
    problems.sort(key=lambda p: (p.line, HEADER.index(p.column) if p.column in HEADER else -1))
    if problems:
        return RosterResult((), tuple(problems))
    return RosterResult(tuple(rows), ())


def _cell_problems(cells: dict[str, str], is_new: bool, min_password_length: int) -> list[tuple[str, str, str | None]]:
    """(column, value, reason or None) for each cell of one row, on its own."""
    username, role, password = cells["username"], cells["role"], cells["password"]
    allowed = ", ".join(ROLES)
    if role in ROLES:
        role_reason = None
    else:
        role_reason = (
            f"role {_show(role)} is not one of {allowed}." if role else f"role is empty; write one of {allowed}."
        )
    if password and not is_new:
        password_reason: str | None = (
            f"{username} already has an account, so its password stays as it is; leave the password empty "
            "(a teacher can reset it from the class page)."
        )
    else:
        password_reason = password and _password_problem(password, username, min_password_length)
    return [
        ("username", username, _name_problem("username", username)),
        ("display_name", cells["display_name"], _display_name_problem(cells["display_name"])),
        ("group", cells["group"], _name_problem("group", cells["group"])),
        ("role", role, role_reason),
        ("password", "", password_reason),
    ]


def _check_rows(
    table: pd.DataFrame,
    min_password_length: int,
    existing: Mapping[str, Collection[str]],
    problems: list[RosterProblem],
) -> list[RosterRow]:
    """Check each row of `table` (indexed by line number) and the rows against each other.

    Adds what is wrong to `problems` and returns the rows that are right.
    """
    table = table.copy()
    for column in ("username", "group", "role"):
        table[column] = table[column].str.strip()  # a space can be no part of these
    # "Student" for "student" is no guess; the message shows the role as written otherwise.
    table["role"] = table["role"].map(lambda v: v.lower() if v.lower() in ROLES else v)
    table["display_name"] = table["display_name"].map(lambda v: unicodedata.normalize("NFC", v).strip())

    first_in_group: dict[tuple[str, str], int] = {}
    person: dict[str, tuple[int, str, str]] = {}  # username -> (first line, display_name, password cell)
    generated: dict[str, str] = {}
    rows: list[RosterRow] = []
    for line, cells in zip(table.index, table[list(HEADER)].to_dict("records"), strict=True):
        username, group, password = cells["username"], cells["group"], cells["password"]
        is_new = username not in existing
        found = _cell_problems(cells, is_new, min_password_length)
        names_ok = not (found[0][2] or found[2][2])
        if names_ok and not is_new and group in existing[username]:
            found.append(("username", username, f"{username} is already in group {group}; delete this row."))
        elif names_ok and (username, group) in first_in_group:
            found.append(
                (
                    "username",
                    username,
                    f"{username} is listed twice for group {group} (lines {first_in_group[username, group]} and "
                    f"{line}); delete one of the rows, or give the other person another username.",
                )
            )
        elif names_ok:
            first_in_group[username, group] = line
        if names_ok:
            # One person may be in several groups, but has one display name and one password.
            first_line, first_name, first_password = person.setdefault(
                username, (line, cells["display_name"], password)
            )
            if first_name != cells["display_name"]:
                found.append(
                    (
                        "display_name",
                        cells["display_name"],
                        f"{username} is on line {first_line} as {_show(first_name)} and here as "
                        f"{_show(cells['display_name'])}; one person has one display name: write the same one, "
                        "or use another username.",
                    )
                )
            if first_password != password:
                found.append(
                    (
                        "password",
                        "",
                        f"{username} is on line {first_line} with another password; write the same one on both "
                        "lines, or leave both empty.",
                    )
                )

        found_here = [RosterProblem(line, column, value, reason) for column, value, reason in found if reason]
        problems.extend(found_here)
        if found_here:
            continue
        if is_new and not password:
            password = generated.setdefault(username, generate_password(min_password_length))
        rows.append(
            RosterRow(
                line=int(line),
                username=username,
                display_name=cells["display_name"],
                group=group,
                role=cells["role"],
                password=password if is_new else None,
                password_generated=username in generated,
                new_account=is_new,
            )
        )
    return rows
