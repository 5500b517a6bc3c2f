"""A drawn map's data, the checks a saved map must pass, and its picture: what `MapMaker` shows and saves.

A map is a grid of squares, each painted with a named ground (grass, water, road...), with
numbered places on squares and lettered routes through squares in order. Rows and columns
are counted from 1 here, as the learner sees them ("row 3, column 5"). Everything in this
module is a pure function of a `MapData`, except `to_png`, which imports Pillow when it
first draws, so importing the widgets stays fast.

Saved state (`MapData.dump`): {"title", "rows", "columns", "metres_per_square",
"ground": rows of ground names, "places": [{"name", "kind", "row", "column"}],
"routes": [{"name", "stops": [[row, column], ...]}]}. `check_map` reads it back and refuses,
with a StateError naming the bad value, anything an edited file could hold that does not fit.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from connected_learning.widgets.base import StateError
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.fonts import text_font
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.pixel_canvas import _marks

__all__ = [
    "GROUNDS",
    "KINDS",
    "MAX_PLACES",
    "MAX_ROUTES",
    "MAX_SIDE",
    "MAX_STOPS",
    "ROUTE_COLOURS",
    "MapData",
    "Place",
    "Route",
    "check_map",
    "check_name",
    "describe",
    "ground_marks",
    "ground_words",
    "kind_words",
    "route_length",
    "route_squares",
    "square_values",
    "to_png",
]

#: Ground name -> colour. The first is the blank ground a new map starts with.
GROUNDS: dict[str, str] = {
    "empty": "#ffffff",
    "grass": "#9ccc65",
    "trees": "#2e7d32",
    "water": "#4fc3f7",
    "marsh": "#80cbc4",
    "sand": "#ffe082",
    "flowers": "#f8bbd0",
    "road": "#9e9e9e",
    "path": "#d7ccc8",
    "building": "#a1887f",
}
KINDS = (
    "school",
    "library",
    "clinic",
    "park",
    "playground",
    "sports ground",
    "community centre",
    "shop",
    "bus stop",
    "home",
    "animal sighting",
    "nest",
    "viewpoint",
    "other",
)
#: (colour name, colour) of each route in turn; routes are lettered A, B, C... in the same order.
ROUTE_COLOURS = (
    ("red", "#d32f2f"),
    ("blue", "#1565c0"),
    ("purple", "#6a1b9a"),
    ("orange", "#e65100"),
    ("black", "#212121"),
    ("pink", "#c2185b"),
    ("brown", "#4e342e"),
    ("teal", "#00695c"),
)
MAX_SIDE = 30
MAX_PLACES = 40
MAX_ROUTES = len(ROUTE_COLOURS)
MAX_STOPS = 300
MAX_NAME = 40
MAX_TITLE = 60
MAX_METRES = 1000


def ground_words() -> dict[str, str]:
    """Ground name -> the word a learner reads, in the widgets' language."""
    return {
        "empty": _("empty"),
        "grass": _("grass"),
        "trees": _("trees"),
        "water": _("water"),
        "marsh": _("marsh"),
        "sand": _("sand"),
        "flowers": _("flowers"),
        "road": _("road"),
        "path": _("path"),
        "building": _("building"),
    }


def kind_words() -> dict[str, str]:
    """Place kind -> the word a learner reads, in the widgets' language."""
    return {
        "school": _("school"),
        "library": _("library"),
        "clinic": _("clinic"),
        "park": _("park"),
        "playground": _("playground"),
        "sports ground": _("sports ground"),
        "community centre": _("community centre"),
        "shop": _("shop"),
        "bus stop": _("bus stop"),
        "home": _("home"),
        "animal sighting": _("animal sighting"),
        "nest": _("nest"),
        "viewpoint": _("viewpoint"),
        "other": _("other"),
    }


def ground_marks() -> dict[str, str]:
    """Ground name -> its letter mark (from its word in the widgets' language; none for empty ground)."""
    words = ground_words()
    by_word = _marks([words[name] for name in GROUNDS])
    return {name: by_word[words[name]] for name in GROUNDS}


def route_letter(index: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index]


@dataclass
class Place:
    name: str
    kind: str
    row: int
    column: int


@dataclass
class Route:
    name: str
    stops: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class MapData:
    """A whole map; rows and columns of places and stops count from 1."""

    title: str
    rows: int
    columns: int
    metres_per_square: int
    ground: list[list[str]]
    places: list[Place] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def blank(cls, rows: int, columns: int, title: str = "", metres_per_square: int = 10) -> MapData:
        check_side(rows, "rows")
        check_side(columns, "columns")
        return cls(
            title=check_name(title, _("map title"), MAX_TITLE, empty=True),
            rows=rows,
            columns=columns,
            metres_per_square=check_metres(metres_per_square),
            ground=[["empty"] * columns for _ in range(rows)],
        )

    def dump(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": self.rows,
            "columns": self.columns,
            "metres_per_square": self.metres_per_square,
            "ground": [list(line) for line in self.ground],
            "places": [{"name": p.name, "kind": p.kind, "row": p.row, "column": p.column} for p in self.places],
            "routes": [{"name": r.name, "stops": [list(stop) for stop in r.stops]} for r in self.routes],
        }

    def check_square(self, row: Any, column: Any) -> tuple[int, int]:
        """(row, column) if they name a square of this map (from 1); else a StateError naming them."""
        if not isinstance(row, int) or isinstance(row, bool) or not 1 <= row <= self.rows:
            raise StateError(
                t("There is no row {value} on this map; rows go from 1 to {size}.", value=repr(row), size=self.rows)
            )
        if not isinstance(column, int) or isinstance(column, bool) or not 1 <= column <= self.columns:
            raise StateError(
                t(
                    "There is no column {value} on this map; columns go from 1 to {size}.",
                    value=repr(column),
                    size=self.columns,
                )
            )
        return row, column

    def find(self, name: str) -> tuple[str, int]:
        """("place" or "route", its index) of the place or route called `name` (any case); else a StateError."""
        wanted = " ".join(str(name).split()).casefold()
        for index, place in enumerate(self.places):
            if place.name.casefold() == wanted:
                return "place", index
        for index, route in enumerate(self.routes):
            if route.name.casefold() == wanted:
                return "route", index
        raise StateError(t("There is no place or route called {name} on this map.", name=repr(name)))

    def stop(self, stop: Any) -> tuple[int, int]:
        """The square of a route's stop: a place's name or a (row, column) pair (from 1)."""
        if isinstance(stop, str):
            kind, index = self.find(stop)
            if kind != "place":
                raise StateError(t("{name} is a route, not a place.", name=stop))
            return self.places[index].row, self.places[index].column
        if not isinstance(stop, tuple | list) or len(stop) != 2:
            raise StateError(t("A stop is a place's name or a (row, column) pair, not {stop}.", stop=repr(stop)))
        return self.check_square(stop[0], stop[1])

    def check_free_name(self, name: str, but: int | None = None) -> None:
        """A StateError if a place (other than the one at index `but`) is called `name` already."""
        for index, place in enumerate(self.places):
            if index != but and place.name.casefold() == name.casefold():
                raise StateError(t("There is already a place called {name}. Give this one another name.", name=name))

    def place_at(self, row: int, column: int) -> int | None:
        """The index of the place on a square, or None."""
        return next((i for i, p in enumerate(self.places) if (p.row, p.column) == (row, column)), None)


# ---------------------------------------------------------------------------- checks


def check_side(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
        raise StateError(f"A map's {what} must be a whole number from 1 to {MAX_SIDE}, not {value!r}.")
    return value


def check_metres(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_METRES:
        raise StateError(f"Metres per square must be a whole number from 1 to {MAX_METRES}, not {value!r}.")
    return value


def check_name(value: Any, what: str, limit: int = MAX_NAME, empty: bool = False) -> str:
    """A name a learner typed, trimmed: text of 1 to `limit` characters (0 with `empty`), no hidden characters."""
    if not isinstance(value, str):
        raise StateError(t("A {what} must be text, not {type}.", what=what, type=type(value).__name__))
    name = " ".join(value.split())
    if not name and not empty:
        raise StateError(t("Type a {what} first.", what=what))
    if len(name) > limit:
        raise StateError(
            t(
                "The {what} {name}... is too long: use at most {limit} letters.",
                what=what,
                name=repr(name[:20]),
                limit=limit,
            )
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise StateError(
            t("The {what} {name} has a hidden character in it; type it again.", what=what, name=repr(name))
        )
    return name


def check_map(state: dict[str, Any]) -> MapData:
    """A saved map, checked as a whole before anything shows it. Raises StateError, KeyError or TypeError."""
    data = MapData.blank(state["rows"], state["columns"], state["title"], state["metres_per_square"])
    ground = state["ground"]
    if (
        not isinstance(ground, list)
        or len(ground) != data.rows
        or any(not isinstance(line, list) or len(line) != data.columns for line in ground)
    ):
        raise StateError("The saved ground does not match the saved map size.")
    unknown = {repr(name) for line in ground for name in line if not isinstance(name, str) or name not in GROUNDS}
    if unknown:
        raise StateError(f"The saved map uses grounds it does not know: {', '.join(sorted(unknown)[:5])}.")
    data.ground = [list(line) for line in ground]
    places, routes = state["places"], state["routes"]
    if not isinstance(places, list) or len(places) > MAX_PLACES:
        raise StateError(f"A map holds a list of at most {MAX_PLACES} places.")
    if not isinstance(routes, list) or len(routes) > MAX_ROUTES:
        raise StateError(f"A map holds a list of at most {MAX_ROUTES} routes.")
    for saved in places:
        place = Place(
            check_name(saved["name"], _("place name")), saved["kind"], *data.check_square(saved["row"], saved["column"])
        )
        if place.kind not in KINDS:
            raise StateError(f"{place.kind!r} is not a kind of place; use one of {', '.join(KINDS)}.")
        if data.place_at(place.row, place.column) is not None:
            raise StateError(f"Two places are on the same square (row {place.row}, column {place.column}).")
        if any(other.name.casefold() == place.name.casefold() for other in data.places):
            raise StateError(f"Two places are called {place.name!r}.")
        data.places.append(place)
    for saved in routes:
        stops = saved["stops"]
        if not isinstance(stops, list) or not 1 <= len(stops) <= MAX_STOPS:
            raise StateError(f"A route has 1 to {MAX_STOPS} stops.")
        checked = []
        for stop in stops:
            if not isinstance(stop, list) or len(stop) != 2:
                raise StateError(f"A route's stop is [row, column], not {stop!r}.")
            checked.append(data.check_square(stop[0], stop[1]))
        data.routes.append(Route(check_name(saved["name"], _("route name")), checked))
    return data


# -------------------------------------------------------------------------- geometry


def route_squares(stops: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every square a route goes through, in order: its stops and the squares on the straight lines between."""
    if not stops:
        return []
    squares = [stops[0]]
    for (r0, c0), (r1, c1) in zip(stops, stops[1:], strict=False):
        steps = max(abs(r1 - r0), abs(c1 - c0))
        for step in range(1, steps + 1):
            square = (round(r0 + (r1 - r0) * step / steps), round(c0 + (c1 - c0) * step / steps))
            if square != squares[-1]:
                squares.append(square)
    return squares


def route_length(stops: list[tuple[int, int]]) -> float:
    """How long a route is, in squares (centre to centre, straight between stops), to one decimal place."""
    total = sum(math.dist(a, b) for a, b in zip(stops, stops[1:], strict=False))
    return round(total, 1)


def square_values(
    data: MapData, words: dict[str, str], marks: dict[str, str]
) -> tuple[list[list[str]], dict[str, str], dict[str, str]]:
    """What each square of the grid says (its title, e.g. "road, route A"), and each such value's colour and mark.

    `words` and `marks` name each ground (`ground_words`, `ground_marks`); a place's square
    is marked with its number, a route's squares with a dot and its letter ("•A").
    """
    on_route: dict[tuple[int, int], str] = {}
    for index, route in enumerate(data.routes):
        for square in route_squares(route.stops):
            on_route[square] = on_route.get(square, "") + route_letter(index)
    places = {(p.row, p.column): (n, p.name) for n, p in enumerate(data.places, 1)}
    values: list[list[str]] = []
    colours: dict[str, str] = {}
    shown: dict[str, str] = {}
    for r, line in enumerate(data.ground, 1):
        values.append([])
        for c, ground in enumerate(line, 1):
            word, mark = words[ground], marks[ground]
            if (r, c) in places:
                number, name = places[(r, c)]
                word, mark = t("{ground}, place {number}: {name}", ground=word, number=number, name=name), str(number)
            elif (r, c) in on_route:
                letters = on_route[(r, c)]
                # A dot before the letter: route B must not read as B for building.
                word, mark = t("{ground}, route {letters}", ground=word, letters=letters), "•" + letters
            values[-1].append(word)
            colours[word], shown[word] = GROUNDS[ground], mark
    return values, colours, shown


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def describe(data: MapData) -> list[str]:
    """The map in plain sentences, one a line, for a learner and a screen reader."""
    kinds = kind_words()
    lines = [
        t(
            "{title}: a map of {rows} rows and {columns} columns of squares. One square is {metres} metres.",
            title=data.title or _("My map"),
            rows=data.rows,
            columns=data.columns,
            metres=data.metres_per_square,
        )
    ]
    if not data.places:
        lines.append(_("No places yet."))
    for number, place in enumerate(data.places, 1):
        lines.append(
            t(
                "Place {number}: {name} ({kind}), row {row}, column {column}.",
                number=number,
                name=place.name,
                kind=kinds[place.kind],
                row=place.row,
                column=place.column,
            )
        )
    if not data.routes:
        lines.append(_("No routes yet."))
    for index, route in enumerate(data.routes):
        length = route_length(route.stops)
        (first_row, first_column), (last_row, last_column) = route.stops[0], route.stops[-1]
        lines.append(
            t(
                "Route {letter}: {name}, from row {row}, column {column} to row {end_row}, column {end_column}: "
                "{length} squares, about {metres} metres.",
                letter=route_letter(index),
                name=route.name,
                row=first_row,
                column=first_column,
                end_row=last_row,
                end_column=last_column,
                length=_number(length),
                metres=_number(round(length * data.metres_per_square)),
            )
        )
    return lines


# ---------------------------------------------------------------------------- picture


def _fit(draw: Any, text: str, font: Any, width: float) -> str:
    """`text`, cut short with "…" so it fits in `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _marker(draw: Any, centre: tuple[float, float], radius: float, number: int, font: Any) -> None:
    x, y = centre
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill="white", outline="black", width=2)
    draw.text((x, y), str(number), fill="black", font=font, anchor="mm")


def _route_tag(draw: Any, centre: tuple[float, float], half: float, letter: str, colour: str, font: Any) -> None:
    x, y = centre
    draw.rectangle((x - half, y - half, x + half, y + half), fill=colour, outline="white", width=1)
    draw.text((x, y), letter, fill="white", font=font, anchor="mm")


def to_png(data: MapData, scale: int = 24) -> bytes:
    """The map as one PNG: the squares with their letters, route lines, numbered places, and a key under it."""
    from PIL import Image, ImageDraw

    if not isinstance(scale, int) or isinstance(scale, bool) or not 12 <= scale <= 48:
        raise ValueError(f"Scale must be a whole number from 12 to 48, not {scale!r}.")
    words, marks, kinds = ground_words(), ground_marks(), kind_words()
    margin, line = 8, 20
    small, body_font, title_font = text_font(max(8, scale * 2 // 5)), text_font(13), text_font(16)
    map_width, map_height = data.columns * scale, data.rows * scale
    width = max(map_width + 2 * margin, 360)
    top = margin + (26 if data.title else 0)
    used = [name for name in GROUNDS if any(name in row for row in data.ground) and name != "empty"]
    per_line = max(1, (width - 2 * margin) // 110)
    key_lines = 2 + len(data.places) + len(data.routes) + math.ceil(len(used) / per_line)
    height = top + map_height + 12 + key_lines * line + margin
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    if data.title:
        draw.text(
            (margin, margin), _fit(draw, data.title, title_font, width - 2 * margin), fill="black", font=title_font
        )

    def centre(row: int, column: int) -> tuple[float, float]:
        return margin + (column - 0.5) * scale, top + (row - 0.5) * scale

    for r, ground_row in enumerate(data.ground):
        for c, name in enumerate(ground_row):
            x, y = margin + c * scale, top + r * scale
            # A slightly darker edge on each square, so squares can be counted along a route.
            edge = tuple(int(int(GROUNDS[name][i : i + 2], 16) * 0.85) for i in (1, 3, 5))
            draw.rectangle((x, y, x + scale - 1, y + scale - 1), fill=GROUNDS[name], outline=edge)
            if marks[name]:  # never colour alone: each square carries its ground's letter
                draw.text((x + 2, y + 1), marks[name], fill=text_colour(GROUNDS[name]), font=small)
    draw.rectangle((margin - 1, top - 1, margin + map_width, top + map_height), outline="black", width=1)
    thick = max(3, scale // 6)
    for index, route in enumerate(data.routes):
        points = [centre(*stop) for stop in route.stops]
        colour = ROUTE_COLOURS[index][1]
        if len(points) > 1:
            draw.line(points, fill="white", width=thick + 4, joint="curve")
            draw.line(points, fill=colour, width=thick, joint="curve")
        # The route's letter sits halfway along it, where no place marker covers it.
        squares = route_squares(route.stops)
        _route_tag(draw, centre(*squares[len(squares) // 2]), scale * 0.3, route_letter(index), colour, small)
    for number, place in enumerate(data.places, 1):
        _marker(draw, centre(place.row, place.column), scale * 0.42, number, small)

    # The key, under the map, in words.
    x0, y = margin, top + map_height + 12
    text_width = width - 2 * margin - 30
    heading = t("Key. One square is {metres} metres.", metres=data.metres_per_square)
    draw.text((x0, y), _fit(draw, heading, body_font, width - 2 * margin), fill="black", font=body_font)
    y += line
    for number, place in enumerate(data.places, 1):
        _marker(draw, (x0 + 9, y + 8), 9, number, small)
        entry = f"{place.name} ({kinds[place.kind]})"
        draw.text((x0 + 26, y + 1), _fit(draw, entry, body_font, text_width), fill="black", font=body_font)
        y += line
    for index, route in enumerate(data.routes):
        colour = ROUTE_COLOURS[index][1]
        _route_tag(draw, (x0 + 9, y + 8), 8, route_letter(index), colour, small)
        entry = t("{name}: {length} squares", name=route.name, length=_number(route_length(route.stops)))
        draw.text((x0 + 26, y + 1), _fit(draw, entry, body_font, text_width), fill="black", font=body_font)
        y += line
    for i, name in enumerate(used):
        x = x0 + (i % per_line) * 110
        if i and i % per_line == 0:
            y += line
        draw.rectangle((x, y, x + 16, y + 16), fill=GROUNDS[name], outline="black")
        draw.text((x + 8, y + 8), marks[name], fill=text_colour(GROUNDS[name]), font=small, anchor="mm")
        draw.text((x + 22, y + 1), _fit(draw, words[name], body_font, 84), fill="black", font=body_font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
