"""What an LTI 1.3 launch means for the hub, decided from its claims (pure, apart from the nonce table).

- `course_group` and `course_role`: the course's hub group, readable, stable and safe (a label
  slug and a code from the course's id: `bio-101-q2abd7k3`, at most 23 characters, so that the
  group's system groups fit), and the person's role in it from the LMS roles;
- `named_target` and the destinations: the workbook or assignment a link names, accepted only
  from a link on this hub's own address and as a workbook id; the address in JupyterLab is
  built here, never taken from the link;
- `tool_configuration`: the tool's JSON for the LMS administrator (name only, never the e-mail);
- `take_nonce`: each launch's nonce once only, in `clhub_lti_nonces` of the hub's database;
- the plain messages a learner reads when a launch is refused.

`hub/login_lti.py` runs the protocol and applies these decisions.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jupyterhub.utils import url_path_join

from .plain_errors import PlainError

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
NONCE_TABLE = "clhub_lti_nonces"
WORKBOOK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")
GROUP_CODE_LENGTH = 8
GROUP_SLUG_LENGTH = 14  # + "-" + the code: 23 characters, under the 25 a system group's name leaves

FROM_COURSE = "To open your workbooks, go to your course and click the link to this hub there."
EXPIRED = "This link from your course is too old to use. Go back to your course and click the link again."
NOT_CHECKED = (
    "The hub could not check that this link really came from your course, so it did not let you in. "
    "Go back to your course and click the link again. If this keeps happening, tell your teacher."
)
REPLAYED = "This link was already used once. Go back to your course and click the link again."
NO_ANSWER = (
    "Your course's website did not answer the hub, so the hub could not let you in. Wait a minute, then click "
    "the link in your course again. If this keeps happening, tell your teacher."
)
NO_COOKIE = (
    "Your browser did not keep the hub's note for this link. Click the link in your course again. If the hub "
    "opens inside the course page, open the link in a new window or tab instead."
)
OTHER_SITE = "This link was made for another website, not this hub. Tell your teacher, who can fix the link."
NOT_GIVEN_OUT = (
    "The link in your course names an assignment your teacher has not given out here yet. Tell your teacher, "
    "who can give it out in the classroom first."
)
NO_WORKBOOK = (
    "The link in your course names a workbook this hub does not have. Tell your teacher, who can fix the link."
)


# ------------------------------------------------------------------ deciding (pure)


def course_role(roles: Any, teacher_roles: set[str], mentor_roles: set[str]) -> str:
    """The hub role in the course for the LMS `roles` claim: "teacher", "mentor" or "student".

    A teaching assistant's roles name Instructor too (TeachingAssistant is a sub-role of it), so
    a mentor role is looked for first; anything unknown, or no roles at all, is a student.
    """
    given = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
    if given & mentor_roles:
        return "mentor"
    if given & teacher_roles:
        return "teacher"
    return "student"


def course_slug(label: str) -> str:
    """The readable part of a course's group name: its label in lower-case letters, digits and '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:GROUP_SLUG_LENGTH].strip("-")
    if not slug:
        return "course"
    return slug if slug[0].isalpha() else "c" + slug[: GROUP_SLUG_LENGTH - 1].rstrip("-")


def course_group(code: str, label: str, existing: set[str]) -> str:
    """The hub group of a course: an existing group with the course's `code` if there is one (the
    course kept its group when its label changed), else `<slug of the label>-<code>`."""
    suffix = "-" + code[:GROUP_CODE_LENGTH]
    for name in sorted(existing):
        if name.endswith(suffix):
            return name
    return course_slug(label) + suffix


@dataclass(frozen=True)
class Destination:
    """Where a launch leads: a workbook of the catalog (or the course's assignment of it), and in the
    learner's JupyterLab which file."""

    workbook: str
    path: str  # below the learner's home, e.g. "workbooks/beat-lab/beat-lab.ipynb"
    assignment: bool = False  # delivered by the course's assignment, not by the learner's interests

    def url(self, hub_base: str) -> str:
        return url_path_join(hub_base, "user-redirect", "lab", "tree", quote(self.path))


def named_target(claims: dict[str, Any], site_url: str) -> tuple[str, str] | None:
    """What a launch names: ("workbook" or "assignment", a workbook id), from the custom parameter of
    that name, else from `?workbook=` / `?assignment=` of its target_link_uri; None when it names nothing.

    Raises:
        PlainError: the target_link_uri is not on this hub's address (a link meant for another
            site), or the name is not a workbook name at all.
    """
    target = claims.get(CLAIM + "target_link_uri")
    ours = urlsplit(site_url)
    there = urlsplit(target) if isinstance(target, str) else None
    if there is None or (there.scheme, there.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
        raise PlainError(400, OTHER_SITE)
    custom = claims.get(CLAIM + "custom")
    query = parse_qs(there.query)
    for kind in ("assignment", "workbook"):
        named = custom.get(kind) if isinstance(custom, dict) else None
        if named is None and kind in query:
            named = query[kind][0]
        if named is None:
            continue
        if not isinstance(named, str) or not WORKBOOK_ID.match(named):
            raise PlainError(400, NO_WORKBOOK)
        return kind, named
    return None


def workbook_destination(workbook: Any) -> Destination:
    """The learner's copy of `workbook` (a catalog Workbook): its first notebook in ~/workbooks/<id>/."""
    first = workbook.notebooks[0] if workbook.notebooks else ""
    return Destination(workbook.id, "/".join(p for p in ("workbooks", workbook.id, first) if p))


def assignment_destination(workbook: Any, group: str, outbound: Path) -> Destination:
    """The learner's copy of the course's assignment of `workbook`: ~/assignments/<group>/<id>/, at its first
    notebook when the released assignment has it (`outbound`: the released assignment's folder)."""
    first = next((nb for nb in workbook.notebooks if (outbound / nb).is_file()), "")
    return Destination(workbook.id, "/".join(p for p in ("assignments", group, workbook.id, first) if p), True)


def display_parts(claims: dict[str, Any]) -> tuple[str, str]:
    """(given name, family name) from the token; the `name` claim split when the parts are missing."""
    given, family = claims.get("given_name"), claims.get("family_name")
    if not isinstance(given, str) or not given.strip():
        words = claims.get("name", "").split() if isinstance(claims.get("name"), str) else []
        given, family = (words[0], words[-1] if len(words) > 1 else "") if words else ("", "")
    return given, family if isinstance(family, str) else ""


def tool_configuration(site_name: str, site_url: str, hub_base: str) -> dict[str, Any]:
    """The tool's LTI 1.3 configuration for an LMS administrator (Canvas reads it as a JSON config URL).

    It asks for the person's name only, never the e-mail ("name_only"), and no LTI Advantage
    services: the hub uses none.
    """
    login = site_url + url_path_join(hub_base, "lti13", "oauth_login")
    callback = site_url + url_path_join(hub_base, "lti13", "oauth_callback")
    target = site_url + hub_base
    placement = {"message_type": "LtiResourceLinkRequest", "target_link_uri": target, "windowTarget": "_blank"}
    return {
        "title": site_name,
        "description": f"Workbooks in JupyterLab at {site_name}.",
        "oidc_initiation_url": login,
        "target_link_uri": target,
        "redirect_uris": [callback],
        "scopes": [],
        "custom_fields": {},
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "privacy_level": "name_only",
                "settings": {
                    "platform": "canvas.instructure.com",
                    "placements": [
                        {"placement": "course_navigation", **placement},
                        {"placement": "assignment_selection", **placement},
                        {"placement": "link_selection", **placement},
                    ],
                },
            }
        ],
    }


# ------------------------------------------------------------------ the nonce, once only


def _nonce_table() -> Any:
    from sqlalchemy import Column, Integer, MetaData, Table, Unicode

    return Table(
        NONCE_TABLE,
        MetaData(),
        Column("nonce_hash", Unicode(64), primary_key=True),
        Column("expires", Integer, nullable=False),
    )


_NONCES: Any = _nonce_table()


def take_nonce(db: Any, issuer: str, nonce: str, expires: int) -> bool:
    """Record that a launch used `nonce`; False if it was used before (a replay). Commits `db`."""
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    digest = hashlib.sha256(f"{issuer}\0{nonce}".encode()).hexdigest()
    try:
        _NONCES.create(db.connection(), checkfirst=True)
        db.execute(delete(_NONCES).where(_NONCES.c.expires < int(time.time()) - 3600))
        db.execute(_NONCES.insert().values(nonce_hash=digest, expires=int(expires)))
        db.commit()
    except IntegrityError:
        db.rollback()
        return False
    except BaseException:
        db.rollback()
        raise
    return True
