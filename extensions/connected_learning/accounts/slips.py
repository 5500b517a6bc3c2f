"""Login slips: one printable HTML page with a slip per student, to cut apart and hand out.

Each slip shows the site address, the student's name, username and password, and a QR
code of the login page drawn as inline SVG, so the page needs no network and no other
file. Eight slips fit on an A4 or US Letter sheet, with dashed lines to cut along. The
classroom service and `clhub roster import` render the rows `roster.validate_roster`
accepted; every value is escaped, since display names come from an uploaded file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import NamedTuple

import qrcode
import qrcode.constants

from ..errors import ClhubError

SLIPS_PER_SHEET = 8  # 2 x 4 slips of 90 x 62 mm fit A4 and US Letter with 10 mm margins
LONG_SECRET = 24  # characters of a username or password beyond which it prints smaller


class Slip(NamedTuple):
    display_name: str
    username: str
    password: str


class SlipError(ClhubError):
    code = "bad-slips"


def login_url(site_url: str) -> str:
    """The login page of the hub at `site_url`, e.g. "https://lab.example.org/hub/login".

    Raises:
        SlipError: `site_url` is not an http(s) address.
    """
    if not site_url.startswith(("http://", "https://")) or any(c.isspace() for c in site_url):
        raise SlipError(
            f'{site_url!r} is not a web address for the slips; set site.public_url, e.g. "https://lab.example.org".'
        )
    return site_url.rstrip("/") + "/hub/login"


def qr_svg(data: str) -> str:
    """A QR code of `data` as an SVG element: one path of dark modules, with the quiet zone.

    Drawn from qrcode's module matrix rather than its image factories, so it needs
    neither Pillow nor lxml and holds no ids that would clash when repeated on a page.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" '
        f'aria-hidden="true"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


STYLE = """
@page { size: auto; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: system-ui, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; color: #000; }
.help { margin: 1rem; font-size: 1rem; }
.sheet { display: grid; grid-template-columns: repeat(2, 90mm); grid-auto-rows: 62mm;
         justify-content: center; margin: 0 auto 10mm; }
.slip { border: 1px dashed #555; padding: 3.5mm 4mm; display: grid; grid-template-columns: 1fr 25mm;
        grid-template-rows: auto auto 1fr; column-gap: 3mm; overflow: hidden; break-inside: avoid; }
.slip h2 { font-size: 11pt; margin: 0 0 1mm; }
.slip p { margin: 0 0 1mm; font-size: 9pt; overflow-wrap: anywhere; }
.login { grid-column: 1 / -1; margin: 1.5mm 0 0; display: grid; grid-template-columns: auto 1fr;
         gap: 0.5mm 2mm; align-items: baseline; }
.login dt { font-size: 8.5pt; }
.login dd { margin: 0; }
/* Monospace fonts that tell l, 1, I, O and 0 apart; no breaks at hyphens that look like part
   of a password, and only where a long one must wrap. */
.secret { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, Menlo, "Courier New", monospace;
          font-size: 12.5pt; font-weight: bold; letter-spacing: 0.04em; word-break: break-all;
          font-variant-numeric: slashed-zero; font-variant-ligatures: none; }
.secret.long { font-size: 9pt; letter-spacing: 0; }
.qr { display: flex; flex-direction: column; align-items: center; gap: 0.5mm; }
.qr svg { width: 25mm; height: 25mm; }
.qr small { font-size: 6pt; text-align: center; overflow-wrap: anywhere; }
.keep { grid-column: 1 / -1; font-size: 7.5pt; margin: 0; align-self: end; }
@media print {
  .help { display: none; }
  .sheet { margin: 0; break-after: page; }
  .sheet:last-of-type { break-after: auto; }
}
"""


def _secret_class(value: str) -> str:
    # A long value in the large font would run off the slip.
    return "secret long" if len(value) > LONG_SECRET else "secret"


def _slip_html(slip: Slip, site: str, login: str, qr: str, site_name: str) -> str:
    e = html.escape
    return (
        '<div class="slip">'
        f"<div><h2>{e(site_name)}</h2>"
        f"<p>Hello, {e(slip.display_name)}!</p>"
        f'<p>Go to <span class="site">{e(site)}</span> or scan the code.</p></div>'
        f'<div class="qr" role="img" aria-label="QR code: {e(login)}">{qr}<small class="qr-target">{e(login)}</small>'
        "</div>"
        '<dl class="login">'
        f'<dt>Username</dt><dd class="{_secret_class(slip.username)} username">{e(slip.username)}</dd>'
        f'<dt>Password</dt><dd class="{_secret_class(slip.password)} password">{e(slip.password)}</dd>'
        "</dl>"
        '<p class="keep">Keep this slip to yourself: your password is on it. Log out when you leave.</p>'
        "</div>"
    )


def render_slips(
    slips: Iterable[tuple[str, str, str]],
    site_url: str,
    *,
    site_name: str = "Connected Learning Hub",
    title: str = "Login slips",
) -> str:
    """A whole HTML page of login slips, one per (display_name, username, password).

    Args:
        slips: the students, e.g. `Slip("Ana M.", "ana-m", "otter-maple-473")` or plain tuples.
        site_url: the address people type (site.public_url), e.g. "https://lab.example.org".
        site_name: shown at the top of each slip (site.name).
        title: the page title, e.g. "Login slips: class-5b".

    Raises:
        SlipError: `site_url` is not an http(s) address.
    """
    login = login_url(site_url)
    site = site_url.rstrip("/")
    qr = qr_svg(login)
    items = [_slip_html(Slip(*slip), site, login, qr, site_name) for slip in slips]
    sheets = [
        '<section class="sheet">' + "".join(items[i : i + SLIPS_PER_SHEET]) + "</section>"
        for i in range(0, len(items), SLIPS_PER_SHEET)
    ]
    count = f"{len(items)} slip{'s' if len(items) != 1 else ''}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<p class="help">{count}. Print this page (Ctrl+P or Cmd+P, scale 100%), then cut along the dashed '
        "lines. Hand each student their own slip.</p>" + "".join(sheets) + "</body></html>\n"
    )
