"""Log-in with a library card: card number and PIN, checked by the library's catalogue over SIP2.

`CardDesk` does one card log-in: it checks the form (`clean_card`, `clean_pin`), brakes
guessing per card (`login_brake`, so a PIN cannot be tried over and over), asks the catalogue
(`sip2_client.ask_patron`: 93 log-in, 63 patron information, off the event loop's back: all
asyncio with one deadline) and decides (`verdict`): the card must be a valid patron (BL=Y)
with a valid PIN (CQ=Y) and none of the site's blocking flags set (`blocked_when`; Koha and
Evergreen deny charge privileges to a barred or expired card). A card that passes becomes a
hub user through `external_accounts` (method "sip2", issuer the institution id, subject the
card number: the user name is an HMAC, never the card), with a display name "Ada L." from the
patron's name and membership of the walk-in group (its peer-review folder like any group's);
a staff card (its patron class, or a card-number prefix) teaches that group.

`Sip2Authenticator` is the whole log-in of a site with `[login] method = "sip2"`: the card
form at /login (templates/card-login.html), the shared-computer log-out, the site's roles.
`hub/login_methods.py` holds a `CardDesk` of its own when the card is one of several ways in.

The card number and the PIN are never logged, shown on a page (the form is not refilled),
kept, or put in a path.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from jupyterhub.handlers.login import LoginHandler
from tornado import web
from traitlets import Bool, Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from ..paths import DataLayout
from ..settings import SettingsError, SiteSettings
from .authenticator import ClhubAuthenticator
from .login_brake import Brakes, Source, account_source, device_source, wait_message
from .sessions import ClhubLogoutHandler, SharedComputerLogin
from .sip2_client import PATRON_STATUS_FLAGS, CatalogueUnavailable, PatronAnswer, Sip2Link, ask_patron

WRONG_CARD = "That card number and PIN do not match. Check both and try again."
NOT_A_CARD = "Type the number printed on your library card: letters and numbers only."
CARD_BLOCKED = "This library card cannot be used to log in right now. Please ask at the library desk."
NO_CATALOGUE = "We cannot check library cards right now. Please try again in a few minutes, or ask at the library desk."
NO_ACCOUNT = "Your card is fine, but we could not make your space here. Please ask at the library desk."

_CARD = re.compile(r"[A-Za-z0-9-]{1,40}\Z")
MAX_PIN = 64


class CardRefused(web.HTTPError):
    """A card log-in refused with a message for the person at the computer (and a wait, if braked)."""

    def __init__(self, status: int, message: str, retry_after: int = 0) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


def clean_card(text: str) -> str | None:
    """The card number as the catalogue knows it (spaces dropped), or None if it cannot be one."""
    card = re.sub(r"\s+", "", text or "")
    return card if _CARD.match(card) else None


def clean_pin(text: str) -> str | None:
    """The PIN as typed, or None if SIP2 cannot carry it (empty, too long, a control character or |)."""
    if not text or len(text) > MAX_PIN or "|" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    return text


def verdict(answer: PatronAnswer, blocked_when: tuple[str, ...]) -> str | None:
    """Why the card may not log in (the message to show), or None when it may.

    An unknown card and a wrong PIN get the same words: the page does not tell which
    card numbers exist. That a card is blocked is said only to someone who gave its PIN.
    """
    if not answer.valid_patron or not answer.valid_pin:
        return WRONG_CARD
    if answer.flags & set(blocked_when):
        return CARD_BLOCKED
    return None


def split_name(personal_name: str) -> tuple[str, str]:
    """(given, family) from SIP2's AE: "Lovelace, Ada" (the usual catalogue form) or "Ada Lovelace"."""
    name = " ".join(personal_name.split())
    if "," in name:
        family, _, given = name.partition(",")
        return given.strip(), family.strip()
    words = name.split(" ")
    return (words[0], words[-1]) if len(words) > 1 else (name, "")


def is_staff(answer: PatronAnswer, card: str, patron_types: tuple[str, ...], card_prefixes: tuple[str, ...]) -> bool:
    """Whether the card is a staff card: its patron class (PC) is listed, or its number starts with a listed prefix."""
    kinds = {t.casefold() for t in patron_types}
    return bool(answer.patron_class and answer.patron_class.casefold() in kinds) or any(
        card.startswith(prefix) for prefix in card_prefixes
    )


def card_key(card: str) -> str:
    """What the brake remembers a card by: not the number itself."""
    return "card:" + hashlib.sha256(card.encode()).hexdigest()[:24]


class CardDesk(LoggingConfigurable):
    """One library-card log-in at a time: check, brake, ask the catalogue, decide, make the user."""

    host = Unicode("", config=True, help="The SIP2 service's host name or address. Example: 'sip.library.example.org'.")
    port = Integer(6001, config=True, help="The SIP2 service's port. Default 6001.")
    tls = Bool(False, config=True, help="Talk TLS to the SIP2 service, checking its certificate. Default False.")
    ca_file = Unicode(
        "", config=True, help="A PEM file of the CA that signed the SIP2 service's certificate; '' uses the system's."
    )
    login_user = Unicode("", config=True, help="The hub's SIP2 log-in (93 CN); '' sends no 93.")
    login_password = Unicode(
        "", config=True, help="The hub's SIP2 password (93 CO), from a 0600 file or CLHUB_SIP2_PASSWORD."
    )
    institution_id = Unicode("", config=True, help="The library's institution id (AO). Example: 'RIVERSIDE'.")
    location_code = Unicode("", config=True, help="The location code sent with the log-in (93 CP), '' for none.")
    timeout_seconds = Float(10.0, config=True, help="Seconds the whole conversation with the catalogue may take.")
    checksums = Bool(False, config=True, help="Send sequence numbers and checksums (AY/AZ). Default False.")
    encoding = Unicode("utf-8", config=True, help="The character set of the SIP2 service. Default 'utf-8'.")
    blocked_when = List(
        Unicode(),
        ["charge_denied", "card_lost"],
        config=True,
        help="Patron status flags that keep a card out: " + ", ".join(PATRON_STATUS_FLAGS) + ".",
    )
    staff_patron_types = List(Unicode(), [], config=True, help="Patron classes (PC) of staff cards, e.g. ['STAFF'].")
    staff_card_prefixes = List(Unicode(), [], config=True, help="Card-number prefixes of staff cards, e.g. ['2999'].")
    group = Unicode("walk-in", config=True, help="The hub group card holders join (its peer-review folder).")
    data_dir = Unicode("", config=True, help="The site's data folder (for the site's secret, roles and display names).")
    brake_free_failures = Integer(5, config=True, help="Failed tries of one card before it must wait. Default 5.")
    brake_first_wait_seconds = Float(5.0, config=True, help="The first wait of a braked card, in seconds. Default 5.")
    brake_longest_wait_seconds = Float(60.0, config=True, help="The longest wait of a braked card, in seconds.")
    brake_address_failures = Integer(
        20, config=True, help="Failed tries from one address, over any cards, before that address must wait."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.brake = Brakes.for_site(
            self.brake_free_failures,
            self.brake_first_wait_seconds,
            self.brake_longest_wait_seconds,
            self.brake_address_failures,
        )

    def link(self) -> Sip2Link:
        return Sip2Link(
            host=self.host,
            port=self.port,
            tls=self.tls,
            ca_file=self.ca_file,
            login_user=self.login_user,
            login_password=self.login_password,
            institution_id=self.institution_id,
            location_code=self.location_code,
            timeout_seconds=self.timeout_seconds,
            checksums=self.checksums,
            encoding=self.encoding,
        )

    def _refuse(self, source: Source, address: str, message: str, reason: str) -> CardRefused:
        wait = self.brake.failed(source, b"", address)
        braked = f"; braked for {wait} s" if wait else ""
        self.log.warning("Card log-in refused: %s%s (from %s)", reason, braked, address or "?")
        if wait:
            return CardRefused(429, wait_message(wait), retry_after=wait)
        return CardRefused(403, message)

    def _source(self, db: Any, card: str, devices: Mapping[str, str]) -> Source:
        """Who is braked for a try of `card`: this browser, if it logged in as the card's user before
        (its device cookie, as for names); else every other browser trying that card."""
        from .external_accounts import user_of

        if devices:
            name = user_of(db, DataLayout(Path(self.data_dir)), "sip2", self.issuer(), card)
            if name is not None and name in devices:
                return device_source(devices[name])
        return account_source(card_key(card))

    def issuer(self) -> str:
        """Who vouches for cards, for their user names: the library (a new one gives every card a new account)."""
        return self.institution_id or self.host

    async def log_in(
        self, db: Any, card_text: str, pin_text: str, devices: Mapping[str, str] | None = None, address: str = ""
    ) -> str:
        """Check a card and PIN; return the hub user's name, made on the first log-in.

        `devices` are the accounts this browser logged in as ({name: nonce}, its device cookie);
        `address` is where the try came from ('' for not known), for the brake on guesses spread
        over many cards.

        Raises:
            CardRefused: with the words for the person at the computer (nothing was made).
        """
        card = clean_card(card_text)
        if card is None:
            raise CardRefused(403, NOT_A_CARD)
        source = self._source(db, card, devices or {})
        wait = self.brake.wait_seconds(source, b"", address)
        if wait:
            self.log.warning("Card log-in braked for %d s more (from %s)", wait, address or "?")
            raise CardRefused(429, wait_message(wait), retry_after=wait)
        pin = clean_pin(pin_text)
        if pin is None:
            raise self._refuse(source, address, WRONG_CARD, "a PIN SIP2 cannot carry")
        try:
            answer = await ask_patron(self.link(), card, pin)
        except CatalogueUnavailable as e:
            self.log.error("Card log-in: the library's catalogue gave no answer: %s", e)
            raise CardRefused(503, NO_CATALOGUE) from None
        why = verdict(answer, tuple(self.blocked_when))
        if why:
            reason = "blocked card" if why == CARD_BLOCKED else "unknown card or wrong PIN"
            if why == CARD_BLOCKED:  # the PIN was right: no more guessing to brake
                self.log.warning("Card log-in refused: %s (flags %s)", reason, ", ".join(sorted(answer.flags)))
                raise CardRefused(403, why)
            raise self._refuse(source, address, why, reason)
        self.brake.succeeded(source)
        return self._make_user(db, card, answer)

    def _make_user(self, db: Any, card: str, answer: PatronAnswer) -> str:
        from .external_accounts import ExternalAccountError, ExternalPerson, external_user

        given, family = split_name(answer.personal_name)
        if card in given or card in family:  # a catalogue that puts the number in the name: no display name
            given = family = ""
        staff = is_staff(answer, card, tuple(self.staff_patron_types), tuple(self.staff_card_prefixes))
        person = ExternalPerson(
            method="sip2",
            issuer=self.issuer(),
            subject=card,
            given_name=given,
            family_name=family,
            groups={self.group: "teacher" if staff else "student"} if self.group else {},
        )
        try:
            name = external_user(db, DataLayout(Path(self.data_dir)), person)
        except ExternalAccountError as e:
            self.log.error("Card log-in: could not make the account: %s", e)
            raise CardRefused(500, NO_ACCOUNT) from None
        self.log.info("Card log-in: %s%s", name, f" (staff card: teacher of {self.group})" if staff else "")
        return name


class CardLoginHandler(SharedComputerLogin, LoginHandler):
    """The card form: card number and PIN; a refusal is shown on the form, which is never refilled.

    At /login of a card-only site, and at /card-login, where the log-in page of a site with
    several ways in (hub/login_methods.py) sends its card form.
    """

    def card_authenticator(self) -> Sip2Authenticator:
        from .login_methods import method_of

        return cast(Sip2Authenticator, method_of(self, "sip2"))

    async def authenticate(self, data: dict[str, str]) -> Any:
        return await self.card_authenticator().get_authenticated_user(self, data)

    def _render(self, login_error: str | None = None, username: str | None = None, **kwargs: Any) -> Any:
        other_ways = not isinstance(self.authenticator, Sip2Authenticator)
        return super()._render(login_error=login_error, username="", other_ways=other_ways, **kwargs)

    def render_template(self, name: str, **ns: Any) -> Any:
        # JupyterHub's login.html, swapped for the card form (it extends page.html like every page).
        return super().render_template("card-login.html" if name == "login.html" else name, **ns)

    def get_next_url(self, user: Any = None, default: Any = None) -> str:
        self.drop_next_of_others(user)
        return str(super().get_next_url(user, default))

    async def post(self) -> None:
        data = {"card": self.get_argument("card", ""), "pin": self.get_argument("pin", "")}
        try:
            user = await self.login_user(data)
        except CardRefused as refused:
            if refused.retry_after:
                self.set_header("Retry-After", str(refused.retry_after))
            await self.refuse(refused.status_code, refused.log_message or WRONG_CARD)
            return
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        await self.refuse(403, WRONG_CARD)

    async def refuse(self, status: int, message: str) -> None:
        """The log-in page again with `message` on the card form: every way in where there are several."""
        if isinstance(self.authenticator, Sip2Authenticator):
            self.set_status(status)
            self.finish(await self._render(login_error=message))
            return
        from .login_methods import render_login_page

        await render_login_page(self, {"sip2": message}, status=status)


class Sip2Authenticator(ClhubAuthenticator):
    """A site whose people log in with a library card only (`[login] method = "sip2"`).

    With other ways in, the frame (hub/login_methods.py) holds one as `methods["sip2"]` and
    puts `login_fragment`, the card form, on its log-in page.
    """

    login_fragment = "card-form.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.card_desk = CardDesk(parent=self)
        self._vouched: set[str] = set()

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        """The card's hub user with their roles.

        Raises:
            CardRefused: the card, the PIN or the catalogue said no (see `CardDesk.log_in`).
        """
        devices = self._devices(handler) if handler is not None else {}
        address = self.address(handler)
        name = await self.card_desk.log_in(self.db, data.get("card", ""), data.get("pin", ""), devices, address)
        self._vouched.add(name)
        if handler is not None:
            self._remember_device(handler, name, devices)
        return {"name": name, "roles": self.roles_for(name, self._is_admin(handler, name))}

    def check_allowed(self, username: str, authentication: Any = None) -> bool:
        # The catalogue vouched for this card a moment ago: JupyterHub's allowed_users holds
        # only the users that existed when the hub started.
        return username in self._vouched or bool(super().check_allowed(username, authentication))

    @staticmethod
    def card_routes() -> list[tuple[str, Any]]:
        """Where the card form posts, on any site that takes cards."""
        return [(r"/card-login", CardLoginHandler)]

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [(r"/login", CardLoginHandler), *self.card_routes(), (r"/logout", ClhubLogoutHandler)]


# ------------------------------------------------------------------ configuration

PASSWORD_ENV = "CLHUB_SIP2_PASSWORD"


def sip2_password(settings: SiteSettings, environ: Mapping[str, str] | None = None) -> str:
    """The hub's SIP2 password: CLHUB_SIP2_PASSWORD, else the first line of password_file (mode 0600).

    Raises:
        SettingsError: the file is missing, unreadable, or others may read it.
    """
    env = os.environ if environ is None else environ
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    if not settings.sip2_password_file:
        return ""
    path = settings.source.parent / settings.sip2_password_file
    from .login_methods import private_file_text

    return private_file_text(path, f"{settings.source}: login.sip2.password_file", SettingsError)


def configure_sip2(
    c: Any, settings: SiteSettings, layout: DataLayout, environ: Mapping[str, str] | None = None
) -> None:
    """Set `CardDesk` (and, for a card-only site, the authenticator) from [login.sip2].

    Raises:
        SettingsError: the password file or the CA file is not usable.
    """
    ca_file = str(settings.source.parent / settings.sip2_ca_file) if settings.sip2_ca_file else ""
    if ca_file and not Path(ca_file).is_file():
        raise SettingsError(
            f"{settings.source}: login.sip2.ca_file = {settings.sip2_ca_file!r}: no such file ({ca_file})."
        )
    desk = c.CardDesk
    desk.host = settings.sip2_host
    desk.port = settings.sip2_port
    desk.tls = settings.sip2_tls
    desk.ca_file = ca_file
    desk.login_user = settings.sip2_login_user
    desk.login_password = sip2_password(settings, environ)
    desk.institution_id = settings.sip2_institution_id
    desk.location_code = settings.sip2_location_code
    desk.timeout_seconds = settings.sip2_timeout_seconds
    desk.checksums = settings.sip2_checksums
    desk.encoding = settings.sip2_encoding
    desk.blocked_when = list(settings.sip2_blocked_when)
    desk.staff_patron_types = list(settings.sip2_staff_patron_types)
    desk.staff_card_prefixes = list(settings.sip2_staff_card_prefixes)
    desk.group = settings.sip2_group
    desk.data_dir = str(layout.root)
    # A card's guesses are braked as a name's are ([login] failed_logins_before_lockout, lockout_seconds,
    # failed_logins_from_one_address).
    desk.brake_free_failures = settings.failed_logins_before_lockout
    desk.brake_longest_wait_seconds = settings.lockout_seconds
    desk.brake_address_failures = settings.failed_logins_from_one_address
