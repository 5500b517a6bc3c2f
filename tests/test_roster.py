"""Class lists and login slips: every bad row is named by its line, and slips print safely.

Unit tests, no hub: `validate_roster` gets the bytes a teacher would upload and must
return every row or every problem, with line numbers as a spreadsheet shows them (the
header is line 1). The slips page is checked as text: escaping, one QR code per student,
and that the QR code holds the login page's address.
"""

from __future__ import annotations

import re
import string

import pytest
import qrcode
import qrcode.constants
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connected_learning.accounts.roster import (
    HEADER,
    MAX_BYTES,
    MAX_ROWS,
    ROLES,
    WORDS,
    RosterError,
    RosterProblem,
    RosterResult,
    generate_password,
    validate_roster,
)
from connected_learning.accounts.slips import SLIPS_PER_SHEET, Slip, SlipError, login_url, qr_svg, render_slips
from connected_learning.errors import ClhubError
from connected_learning.settings import validate_username

HEADER_LINE = ",".join(HEADER)
MIN = 8
FIRST_NAMES = [
    "Ana", "Ben", "Cai", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun", "Kemal", "Lea", "Mo", "Nia", "Omar",
    "Pia", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe", "Ada", "Bo", "Cleo", "Dev",
]  # fmt: skip


def class_rows(n: int = 30, group: str = "class-5b") -> list[str]:
    """`n` student rows; every third one brings its own password, the rest leave it empty."""
    return [
        f"{name.lower()}-{i},{name} {string.ascii_uppercase[i % 26]}.,{group},student,"
        + (f"pass-word-{i:02d}" if i % 3 == 0 else "")
        for i, name in enumerate(FIRST_NAMES[:n])
    ]


def as_file(rows: list[str], *, header: str = HEADER_LINE, newline: str = "\n", bom: bool = False) -> bytes:
    text = newline.join([header, *rows]) + newline
    return ("\ufeff" if bom else "").encode() + text.encode()


def check(data: bytes, **kwargs: object) -> RosterResult:
    result = validate_roster(data, min_password_length=MIN, **kwargs)  # type: ignore[arg-type]
    assert bool(result.rows) != bool(result.problems), "a result holds rows or problems, never both"
    return result


def where(result: RosterResult) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in result.problems]


def only_problem(data: bytes, **kwargs: object) -> RosterProblem:
    result = check(data, **kwargs)
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    return result.problems[0]


# ------------------------------------------------------------------ a good class list


def test_a_class_of_thirty_validates_with_passwords_kept_or_made_up() -> None:
    result = check(as_file(class_rows()))
    assert result.ok and result.problems == ()
    assert [row.line for row in result.rows] == list(range(2, 32))
    assert [row.username for row in result.rows][:3] == ["ana-0", "ben-1", "cai-2"]
    ana = result.rows[0]
    assert (ana.display_name, ana.group, ana.role, ana.new_account) == ("Ana A.", "class-5b", "student", True)
    given_ = [row for row in result.rows if not row.password_generated]
    made = [row for row in result.rows if row.password_generated]
    assert [row.password for row in given_] == [f"pass-word-{i:02d}" for i in range(0, 30, 3)]
    assert len(made) == 20
    assert len({row.password for row in made}) == 20, "every made-up password differs"
    for row in made:
        assert row.password is not None and len(row.password) >= MIN
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+-[2-9]{3,}", row.password), row.password


def test_teachers_and_mentors_and_a_capitalised_role_are_accepted() -> None:
    rows = ["tess,Ms Tess,class-5b,teacher,", "milo,Milo (mentor),class-5b,Mentor,", "ana,Ana M.,class-5b, Student ,"]
    assert [row.role for row in check(as_file(rows)).rows] == ["teacher", "mentor", "student"]
    assert ROLES == ("student", "teacher", "mentor")


def test_values_pandas_would_read_as_missing_stay_text() -> None:
    result = check(as_file(["nan,NA,null,student,", "none,N/A,class-1,student,"]))
    assert [(r.username, r.display_name, r.group) for r in result.rows] == [
        ("nan", "NA", "null"),
        ("none", "N/A", "class-1"),
    ]


def test_bom_and_crlf_read_like_a_plain_file() -> None:
    plain = check(as_file(class_rows()))
    excel = check(as_file(class_rows(), newline="\r\n", bom=True))
    old_mac = check(as_file(class_rows(), newline="\r"))
    for other in (excel, old_mac):
        assert [(r.line, r.username, r.display_name, r.group, r.role) for r in other.rows] == [
            (r.line, r.username, r.display_name, r.group, r.role) for r in plain.rows
        ]
    # A BOM and CRLF do not leak into the first column name or the last value.
    assert excel.rows[1].password_generated and excel.rows[3].password == "pass-word-03"


def test_the_header_may_come_in_any_order_and_case() -> None:
    header = " Password,USERNAME,group,Role,display_name"
    result = check(as_file(["secret-ana,ana,class-5b,student,Ana M."], header=header))
    row = result.rows[0]
    assert (row.username, row.display_name, row.group, row.role, row.password) == (
        "ana",
        "Ana M.",
        "class-5b",
        "student",
        "secret-ana",
    )


def test_blank_lines_at_the_end_are_ignored() -> None:
    result = check(as_file(class_rows(2)) + b"\n \r\n\n")
    assert len(result.rows) == 2


def test_display_names_are_trimmed_and_may_use_any_alphabet() -> None:
    rows = [
        "ana,  Ana M.  ,g1,student,",
        "bo,Bo Ø.,g1,student,",
        "li,李 明,g1,student,",
        "sara,سارا\u200cن,g1,student,",
    ]
    assert [r.display_name for r in check(as_file(rows)).rows] == ["Ana M.", "Bo Ø.", "李 明", "سارا\u200cن"]
    assert check(as_file([f"ana,{'A' * 60},g1,student,"])).ok


# ------------------------------------------------------------------ three bad rows


def test_three_bad_rows_give_exactly_three_problems_with_their_lines_and_no_rows() -> None:
    rows = class_rows()
    rows[2] = "Ana Maria,Ana M.,class-5b,student,"  # line 4
    rows[10] = "kemal-10,Kemal K.,class-5b,pupil,"  # line 12
    rows[19] = 'tomas-19,=HYPERLINK("http://x"),class-5b,student,'  # line 21
    result = check(as_file(rows))
    assert result.rows == ()
    assert where(result) == [(4, "username"), (12, "role"), (21, "display_name")]
    assert str(result.problems[0]) == (
        "line 4: username 'Ana Maria' may hold only lower-case letters, digits, '-' and '_' and must start "
        "with a letter (for example 'ana-maria')."
    )
    assert result.problems[0].value == "Ana Maria"
    assert str(result.problems[1]) == "line 12: role 'pupil' is not one of student, teacher, mentor."
    assert result.problems[2].value == '=HYPERLINK("http://x")'
    assert "'='" in result.problems[2].reason and "formula" in result.problems[2].reason


def test_every_problem_of_a_row_is_reported_in_column_order() -> None:
    result = check(as_file(["Ana,,Class 5,boss,abc"]))
    assert where(result) == [(2, c) for c in HEADER]
    reasons = [p.reason for p in result.problems]
    assert reasons[0].startswith("username 'Ana' ") and "for example 'ana'" in reasons[0]
    assert reasons[1].startswith("display_name is empty")
    assert reasons[2].startswith("group 'Class 5' ") and "'class-5'" in reasons[2]
    assert reasons[3] == "role 'boss' is not one of student, teacher, mentor."
    assert reasons[4].startswith("password is 3 characters long; use at least 8")
    assert "abc" not in str(result.problems[4]) and result.problems[4].value == "", "passwords are not repeated"


@pytest.mark.parametrize(
    ("username", "words"),
    [
        ("", ["username is empty"]),
        ("x" * 32, ["32 characters long", "at most 31"]),
        ("../etc", ["'../etc'", "lower-case letters"]),
        ("1ana", ["'1ana'", "start with a letter"]),
        ("ana.smith", ["'ana.smith'", "for example 'ana-smith'"]),
    ],
)
def test_usernames_are_checked_by_the_projects_rule(username: str, words: list[str]) -> None:
    problem = only_problem(as_file([f"{username},Ana M.,class-5b,student,"]))
    assert (problem.line, problem.column) == (2, "username")
    for word in words:
        assert word in problem.reason
    with pytest.raises(ClhubError):
        validate_username(username)


def test_groups_follow_the_username_rule() -> None:
    problem = only_problem(as_file(["ana,Ana M.,5B/../root,student,"]))
    assert (problem.column, problem.value) == ("group", "5B/../root")
    assert problem.reason.startswith("group '5B/../root' may hold only")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "  ="])
def test_display_names_that_a_spreadsheet_would_run_are_refused(start: str) -> None:
    problem = only_problem(as_file([f"ana,{start}1+1,class-5b,student,"]))
    assert problem.column == "display_name"
    assert "formula" in problem.reason and f"'{start.strip()}'" in problem.reason


@pytest.mark.parametrize(
    ("display_name", "words"),
    [
        ("Ana\tM.", ["'Ana\\tM.'", "control character"]),
        ("Ana \u202eM.", ["control character"]),
        ("Ana\x07", ["control character"]),
        ("A" * 61, ["61 characters long", "at most 60"]),
        ("   ", ["display_name is empty"]),
        ("<b>Ana</b>", ["'<' or '>'"]),
        ("ana.m@school.example", ["looks like an e-mail address", "'Ana M.'"]),
        ("Ana (ana@x.org)", ["looks like an e-mail address"]),
    ],
)
def test_display_names_are_required_short_and_plain(display_name: str, words: list[str]) -> None:
    problem = only_problem(as_file([f'ana,"{display_name}",class-5b,student,']))
    assert problem.column == "display_name"
    for word in words:
        assert word in problem.reason


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short", ["5 characters long", "at least 8", "leave it empty"]),
        ("Ana-Lopez", ["same as the username"]),
        (" spaces-around ", ["begins or ends with a space"]),
        ("é" * 40, ["longer than 72 bytes"]),
    ],
)
def test_given_passwords_meet_the_sites_rules(password: str, words: list[str]) -> None:
    problem = only_problem(as_file([f"ana-lopez,Ana L.,class-5b,student,{password}"]))
    assert (problem.column, problem.value) == ("password", "")
    for word in words:
        assert word in problem.reason
    assert password.strip() not in str(problem)


def test_the_minimum_password_length_is_the_sites() -> None:
    data = as_file(["ana,Ana M.,class-5b,student,twelve-chars"])
    assert validate_roster(data, min_password_length=12).ok
    problem = validate_roster(data, min_password_length=13).problems[0]
    assert "12 characters long; use at least 13" in problem.reason
    assert len(validate_roster(as_file(["ana,Ana M.,g,student,"]), min_password_length=40).rows[0].password or "") >= 40
    with pytest.raises(RosterError, match="72"):
        validate_roster(data, min_password_length=100)


@pytest.mark.parametrize("min_length", [4, 8, 12, 17, 20, 30, 64, 65, 71, 72])
def test_made_up_passwords_are_readable_long_enough_and_fit_bcrypt(min_length: int) -> None:
    made = {generate_password(min_length) for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert min_length <= len(password) <= 72
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+-[2-9]{3,}", password), password


def test_the_word_list_is_plain_lowercase_and_has_no_repeats() -> None:
    assert len(WORDS) == len(set(WORDS)) >= 200
    assert all(re.fullmatch(r"[a-z]{2,8}", word) for word in WORDS)


# ------------------------------------------------------------------ header and layout


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("username,display_name,group,role", ["missing column(s) password"]),
        ("username,display_name,group,role,password,email", ["unknown column(s) 'email'"]),
        ("username,name,group,role,password", ["missing column(s) display_name", "unknown column(s) 'name'"]),
        ("username,display_name,group,role,password,role", ["written twice: role"]),
        ("username;display_name;group;role;password", ["separated by ';'", "commas"]),
        ("", ["first line must be the header", "it is empty"]),
    ],
)
def test_a_wrong_header_is_named_with_what_is_missing_or_extra(header: str, words: list[str]) -> None:
    problem = only_problem(as_file(["ana,Ana M.,class-5b,student,"], header=header))
    assert (problem.line, problem.column) == (1, "")
    assert problem.reason.endswith("username,display_name,group,role,password") or "empty" in problem.reason
    for word in words:
        assert word in problem.reason


def test_a_header_without_rows_is_a_problem() -> None:
    problem = only_problem(as_file([]))
    assert problem.line == 1 and "no rows below the header" in problem.reason


def test_blank_lines_and_rows_of_the_wrong_length_are_reported_not_guessed() -> None:
    rows = class_rows(6)
    rows[1] = ""  # line 3
    rows[2] = ",,,,"  # line 4: what a spreadsheet writes for an empty row
    rows[3] = "dara-3,Dara D.,class-5b,student"  # line 5: 4 values
    rows[4] = "eli-4,Eli E.,class-5b,student,,extra"  # line 6: 6 values
    result = check(as_file(rows))
    assert where(result) == [(3, ""), (4, ""), (5, ""), (6, "")]
    assert "blank" in result.problems[0].reason and "blank" in result.problems[1].reason
    assert "has 4 values (starting 'dara-3') but the header has 5" in result.problems[2].reason
    assert "has 6 values (starting 'eli-4')" in result.problems[3].reason


def test_a_line_break_inside_a_value_is_refused_and_later_lines_keep_their_numbers() -> None:
    rows = class_rows(5)
    rows[1] = 'ben-1,"Ben\nBenson",class-5b,student,'  # lines 3 and 4
    rows[3] = "Dara,Dara D.,class-5b,student,"  # now line 6
    result = check(as_file(rows))
    assert where(result) == [(3, ""), (6, "username")]
    assert "line break" in result.problems[0].reason and "lines 3 to 4" in result.problems[0].reason
    crlf = check(as_file(rows, newline="\r\n"))
    assert where(crlf) == [(3, ""), (6, "username")]


def test_a_quote_that_never_closes_is_named_at_its_line() -> None:
    result = check(as_file(class_rows(3) + ['dev-3,"Dev D.,class-5b,student,', "eli,Eli E.,class-5b,student,"]))
    assert where(result) == [(5, "")]
    assert "never closed" in result.problems[0].reason and "lines 5 to 6" in result.problems[0].reason


def test_a_quote_in_the_wrong_place_is_explained() -> None:
    problem = only_problem(as_file(['ana,"Ana" M.,class-5b,student,']))
    assert problem.line == 2 and "quote" in problem.reason and '""' in problem.reason


def test_quoted_values_with_commas_and_quotes_are_read_whole() -> None:
    row = check(as_file(['ana,"Lopez, Ana ""Red""",class-5b,student,'])).rows[0]
    assert row.display_name == 'Lopez, Ana "Red"'


# ------------------------------------------------------------------ duplicates and existing users


def test_a_person_listed_twice_for_one_group_names_both_lines() -> None:
    rows = class_rows(6)
    rows[4] = rows[1]  # ben-1 again, on line 6
    problem = only_problem(as_file(rows))
    assert (problem.line, problem.column, problem.value) == (6, "username", "ben-1")
    assert "listed twice for group class-5b (lines 3 and 6)" in problem.reason


def test_one_person_in_two_groups_gets_one_password() -> None:
    result = check(as_file(["ana,Ana M.,class-5b,student,", "ana,Ana M.,coding-club,mentor,"]))
    first, second = result.rows
    assert (first.group, second.group, second.role) == ("class-5b", "coding-club", "mentor")
    assert first.password == second.password and first.password_generated


def test_one_username_with_two_names_or_passwords_is_a_mistake() -> None:
    rows = [
        "ana,Ana M.,class-5b,student,",
        "ana,Ana Z.,club,student,",
        "ben,Ben B.,g,student,",
        "ben,Ben B.,h,student,pw-ben-12",
    ]
    result = check(as_file(rows))
    assert where(result) == [(3, "display_name"), (5, "password")]
    assert "on line 2 as 'Ana M.' and here as 'Ana Z.'" in result.problems[0].reason
    assert "on line 4 with another password" in result.problems[1].reason


def test_an_existing_account_may_join_another_group_but_keeps_its_password() -> None:
    existing = {"ana": ["class-5a"], "ben": ["class-5b"]}
    result = check(as_file(["ana,Ana M.,class-5b,student,"]), existing_users=existing)
    row = result.rows[0]
    assert (row.new_account, row.password, row.password_generated) == (False, None, False)

    problem = only_problem(as_file(["ben,Ben B.,class-5b,student,"]), existing_users=existing)
    assert (problem.line, problem.column) == (2, "username")
    assert "ben is already in group class-5b" in problem.reason

    problem = only_problem(as_file(["ana,Ana M.,class-5b,student,taken-over-1"]), existing_users=existing)
    assert problem.column == "password" and "already has an account" in problem.reason


# ------------------------------------------------------------------ files that cannot be read


def test_limits_have_sensible_defaults_and_refuse_big_files() -> None:
    assert (MAX_BYTES, MAX_ROWS) == (1_000_000, 2_000)
    with pytest.raises(RosterError, match=r"1,200 bytes; at most 1,000 are accepted"):
        validate_roster(b"x" * 1200, min_password_length=MIN, max_bytes=1000)
    rows = [f"s{i},S {i}.,g,student," for i in range(31)]
    with pytest.raises(RosterError, match=r"31 rows; at most 30") as raised:
        validate_roster(as_file(rows), min_password_length=MIN, max_rows=30)
    assert raised.value.code == "bad-roster"
    assert validate_roster(as_file(rows[:30]), min_password_length=MIN, max_rows=30).ok


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (f"{HEADER_LINE}\nana,Ana Lópe,g,student,\n".encode("cp1252"), ["not UTF-8", "line 2", "CSV UTF-8"]),
        (f"{HEADER_LINE}\n".encode("utf-16"), ["UTF-16", "CSV UTF-8"]),
        (b"", ["empty"]),
        (b"\xef\xbb\xbf \r\n", ["empty"]),
        (b"username\x00,x", ["NUL"]),
    ],
)
def test_an_unreadable_file_is_one_clear_error(data: bytes, words: list[str]) -> None:
    with pytest.raises(RosterError) as raised:
        validate_roster(data, min_password_length=MIN)
    for word in words:
        assert word in str(raised.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_any_bytes_give_rows_or_problems_or_a_clear_error(data: bytes) -> None:
    try:
        check(data)
    except RosterError as e:
        assert str(e)


CSVISH = st.text(alphabet=st.sampled_from('abz09-_ .,"\r\n\t=@AZé\u2028\x0b'), max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=CSVISH, header=st.sampled_from([HEADER_LINE, "role,group,username,password,display_name", "x"]))
def test_any_csvish_text_gives_valid_rows_or_problems_on_real_lines(body: str, header: str) -> None:
    text = header + "\n" + body
    try:
        result = check(text.encode())
    except RosterError as e:
        assert str(e)
        return
    line_count = len(re.split(r"\r\n|\r|\n", text))
    for problem in result.problems:
        assert 1 <= problem.line <= line_count and problem.reason
        assert problem.column in ("", *HEADER)
    for row in result.rows:
        assert validate_username(row.username) and validate_username(row.group)
        assert row.role in ROLES and row.password and len(row.password) >= MIN
        assert 0 < len(row.display_name) <= 60 and row.display_name[0] not in "=+-@"


# ------------------------------------------------------------------ login slips

SITE = "https://lab.riverside.org/"
LOGIN = "https://lab.riverside.org/hub/login"


def qr_matrix_from_svg(svg: str) -> list[list[bool]]:
    """Read the modules back from qr_svg's path ("M x y h w v1 h-w z" per run of dark modules)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))  # type: ignore[union-attr]
    matrix = [[False] * size for _ in range(size)]
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)  # type: ignore[union-attr]
    for x, y, width, back in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path):
        assert width == back
        for dx in range(int(width)):
            matrix[int(y)][int(x) + dx] = True
    return matrix


def qr_matrix_of(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def test_the_qr_code_holds_exactly_the_login_address() -> None:
    svg = qr_svg(LOGIN)
    assert qr_matrix_from_svg(svg) == qr_matrix_of(LOGIN)
    assert qr_matrix_from_svg(svg) != qr_matrix_of(LOGIN + "x")
    assert "id=" not in svg and "<image" not in svg


def test_slips_show_each_student_escaped_with_one_qr_code_each() -> None:
    rows = check(as_file(class_rows())).rows
    students = [Slip(r.display_name, r.username, r.password or "") for r in rows]
    students.append(Slip("<script>alert(1)</script>", "mallory", "x<b>&\"y'"))
    page = render_slips(students, SITE, site_name="Riverside <Lab>", title="Login slips: class-5b")
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x&lt;b&gt;&amp;&quot;y&#x27;" in page
    assert "Riverside &lt;Lab&gt;" in page
    slips = re.findall(r'<div class="slip">.*?<p class="keep">', page, flags=re.S)
    assert len(slips) == len(students) == 31
    for student, slip in zip(students, slips, strict=True):
        if student.username != "mallory":
            assert f'<dd class="secret username">{student.username}</dd>' in slip
            assert f'<dd class="secret password">{student.password}</dd>' in slip
        assert slip.count("<svg") == 1
        assert f'<small class="qr-target">{LOGIN}</small>' in slip
        svg = re.search(r"<svg.*?</svg>", slip, flags=re.S).group(0)  # type: ignore[union-attr]
        assert qr_matrix_from_svg(svg) == qr_matrix_of(LOGIN)
        assert "lab.riverside.org</span>" in slip
    assert page.count('<section class="sheet">') == -(-31 // SLIPS_PER_SHEET) == 4


def test_the_slips_page_needs_nothing_from_outside_and_prints_in_a_clear_font() -> None:
    page = render_slips([("Ana M.", "ana", "otter-maple-473")], "http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000/hub/login" in page
    for outside in ("<link", "src=", "url(", "@import", "<script"):
        assert outside not in page
    assert "@media print" in page and "@page" in page and "dashed" in page
    assert "monospace" in page and "slashed-zero" in page


def test_plain_tuples_and_an_empty_list_work() -> None:
    page = render_slips([], SITE)
    assert "0 slips" in page and "<svg" not in page
    assert "1 slip." in render_slips([("Ana", "ana", "pw")], SITE)
    long_one = render_slips([("Ana", "ana", "fountain-buffalo-473-fountain-buffalo")], SITE)
    assert '<dd class="secret long password">fountain-buffalo-473-fountain-buffalo</dd>' in long_one


@pytest.mark.parametrize("site", ["lab.riverside.org", "javascript:alert(1)", "https://lab riverside.org", ""])
def test_slips_need_a_web_address(site: str) -> None:
    with pytest.raises(SlipError, match="public_url"):
        render_slips([("Ana", "ana", "pw")], site)
    assert login_url("https://lab.example.org") == "https://lab.example.org/hub/login"


# ------------------------------------------------------------------ one check for imports and renames


def test_a_rename_is_cleaned_and_refused_exactly_as_a_class_list_row() -> None:
    from connected_learning.accounts.roster import RosterError, clean_display_name

    assert clean_display_name("  Zoe\u0301 K.  ") == "Zoé K."
    for bad in ["", "A" * 61, "Ana\tM.", "=1+1", "<i>x</i>", "a@b.org"]:
        with pytest.raises(RosterError) as refused:
            clean_display_name(bad)
        row = only_problem(as_file([f'ana,"{bad}",class-5b,student,']))
        assert refused.value.message == row.reason


# ------------------------------------------------------------------ the demo's accounts


def test_the_demo_gives_display_names_at_every_start_and_keeps_a_teachers_change(tmp_path: object) -> None:
    from pathlib import Path

    from connected_learning.accounts import enrolment, store
    from connected_learning.paths import DataLayout

    layout = DataLayout(Path(str(tmp_path)) / "data")
    url = f"sqlite:///{layout.db}"
    store.create_accounts(layout, url, store.demo_accounts("a-demo-password-1", 8))
    names = store.read_display_names(layout)
    assert names == {name: display for name, _, display in store.DEMO_ACCOUNTS}
    assert names["ana"] == "Ana R." and all(clean_display_name_ok(n) for n in names.values())
    enrolment.rename(layout, "ana", "Starfish")  # a teacher's pseudonym
    (layout.hub / store.DISPLAY_NAMES).write_text(
        (layout.hub / store.DISPLAY_NAMES).read_text().replace('"Ben T."', '""')  # a name lost
    )
    store.create_accounts(layout, url, store.demo_accounts("another-password", 8))  # the next `clhub demo`
    again = store.read_display_names(layout)
    assert again["ana"] == "Starfish" and again["ben"] == "Ben T." and again["cai"] == "Cai L."


def clean_display_name_ok(name: str) -> bool:
    from connected_learning.accounts.roster import clean_display_name

    return clean_display_name(name) == name


# ------------------------------------------------------------------ removal with an undo window


def test_a_removal_waits_its_window_can_be_undone_and_survives_an_unreadable_time(tmp_path: object) -> None:
    import datetime as dt
    import json
    from pathlib import Path

    from nativeauthenticator.orm import UserInfo

    from connected_learning.accounts import removal, store
    from connected_learning.paths import DataLayout

    layout = DataLayout(Path(str(tmp_path)) / "data")
    url = f"sqlite:///{layout.db}"
    store.create_accounts(layout, url, store.demo_accounts("a-demo-password-1", 8))

    def authorized(name: str) -> bool:
        from jupyterhub import orm

        db = orm.new_session_factory(url)()
        try:
            return bool(UserInfo.find(db, name).is_authorized)
        finally:
            db.close()

    start = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    entry = removal.schedule(layout, url, "ben", "demo-class", "tess", now=start)
    assert entry["due"] == "2026-12-06T12:10:00+00:00" and not authorized("ben") and authorized("ana")
    assert removal.schedule(layout, url, "ben", "demo-class", "tess", now=start + dt.timedelta(minutes=5)) == entry
    assert removal.due(layout, start + dt.timedelta(seconds=removal.UNDO_SECONDS - 1)) == []
    assert removal.due(layout, start + dt.timedelta(seconds=removal.UNDO_SECONDS)) == ["ben"]
    removal.undo(layout, url, "ben")
    assert authorized("ben") and removal.pending(layout) == {}
    with pytest.raises(removal.RemovalError, match="not being removed"):
        removal.undo(layout, url, "ben")
    removal.schedule(layout, url, "cai", "demo-class", "tess", now=start)
    data = json.loads((layout.hub / removal.PENDING).read_text())
    data["cai"]["due"] = "soon"  # a hand-edited file: no undo is owed for a time nobody can read
    (layout.hub / removal.PENDING).write_text(json.dumps(data))
    assert removal.due(layout, start) == ["cai"]
    removal.forget(layout, "cai", ["demo-class"])
    assert removal.pending(layout) == {} and "cai" not in store.read_display_names(layout)
