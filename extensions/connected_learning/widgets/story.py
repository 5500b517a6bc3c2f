"""A branching story as plain data, its validation, and its Markdown and HTML exports.

A story is {"title", "start": scene id, "scenes": [{"id", "title", "text", "choices":
[{"label", "target": scene id}]}]}. `check_story` is the one place a story from outside (a
sidecar, a peer's file to remix) is validated. The exports escape every piece of learner
text: the HTML has no script at all (its Content-Security-Policy forbids scripts anyway),
so a story can be shown to anyone; jumping between scenes is done with links, and a modern
browser shows one scene at a time through CSS `:target`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from connected_learning.widgets.base import StateError
from connected_learning.widgets.i18n import _, language, t

__all__ = ["MAX_CHOICES", "MAX_SCENES", "check_story", "new_scene_id", "new_story", "to_html", "to_markdown"]

MAX_SCENES = 60
MAX_CHOICES = 6
MAX_TITLE = 120
MAX_TEXT = 5000
_SCENE_ID = re.compile(r"^scene-[1-9][0-9]{0,3}$")


def new_story() -> dict[str, Any]:
    """A story with one empty scene to start from."""
    return {
        "title": _("My story"),
        "start": "scene-1",
        "scenes": [{"id": "scene-1", "title": _("The beginning"), "text": "", "choices": []}],
    }


def new_scene_id(story: dict[str, Any]) -> str:
    """An id no scene of `story` uses yet."""
    used = {scene["id"] for scene in story["scenes"]}
    return next(f"scene-{n}" for n in range(1, MAX_SCENES * 10) if f"scene-{n}" not in used)


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise StateError(f"{what} must be text, not {type(value).__name__}.")
    if len(value) > limit:
        raise StateError(f"{what} is longer than {limit} characters; make it shorter.")
    return value


def check_story(data: Any) -> dict[str, Any]:
    """Validate a story from outside and return a clean copy. Raises StateError naming the bad part."""
    if not isinstance(data, dict):
        raise StateError("A story must be a JSON object with a title, a start and scenes.")
    scenes = data.get("scenes")
    if not isinstance(scenes, list) or not 1 <= len(scenes) <= MAX_SCENES:
        raise StateError(f"A story needs 1 to {MAX_SCENES} scenes.")
    clean: list[dict[str, Any]] = []
    for number, scene in enumerate(scenes, 1):
        if not isinstance(scene, dict):
            raise StateError(f"Scene {number} must be a JSON object.")
        scene_id = scene.get("id")
        if not isinstance(scene_id, str) or not _SCENE_ID.match(scene_id):
            raise StateError(f"Scene {number} has a bad id {scene_id!r}; ids look like 'scene-3'.")
        choices = scene.get("choices")
        if not isinstance(choices, list) or len(choices) > MAX_CHOICES:
            raise StateError(f"Scene {number} may have at most {MAX_CHOICES} choices.")
        clean.append(
            {
                "id": scene_id,
                "title": _text(scene.get("title"), f"The title of scene {number}", MAX_TITLE),
                "text": _text(scene.get("text"), f"The text of scene {number}", MAX_TEXT),
                "choices": [
                    {
                        "label": _text(
                            choice.get("label") if isinstance(choice, dict) else None,
                            f"A choice in scene {number}",
                            MAX_TITLE,
                        ),
                        "target": choice.get("target") if isinstance(choice, dict) else None,
                    }
                    for choice in choices
                ],
            }
        )
    ids = [scene["id"] for scene in clean]
    if len(set(ids)) != len(ids):
        raise StateError("Two scenes have the same id; every scene needs its own.")
    for scene in clean:
        for choice in scene["choices"]:
            if choice["target"] not in ids:
                raise StateError(f"A choice in {scene['title']!r} leads to {choice['target']!r}, which is not a scene.")
    if data.get("start") not in ids:
        raise StateError(f"The story starts at {data.get('start')!r}, which is not a scene.")
    return {"title": _text(data.get("title"), "The story title", MAX_TITLE), "start": data["start"], "scenes": clean}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _titles(story: dict[str, Any]) -> dict[str, str]:
    return {
        scene["id"]: _one_line(scene["title"]) or t("Scene {number}", number=number)
        for number, scene in enumerate(story["scenes"], 1)
    }


def _ordered(story: dict[str, Any]) -> list[dict[str, Any]]:
    """Scenes with the start scene first, the others in the order they were made."""
    return sorted(story["scenes"], key=lambda scene: scene["id"] != story["start"])


def to_markdown(story: dict[str, Any]) -> str:
    """The story as Markdown: one section per scene, choices as links to the scenes they lead to.

    '<', '>' and '&' in learner text are written as HTML entities, so a Markdown viewer
    shows them as text and never as HTML.
    """

    def plain(text: str) -> str:
        return html.escape(text, quote=False)

    def label(text: str) -> str:
        return plain(_one_line(text)).replace("[", "\\[").replace("]", "\\]")

    titles = _titles(story)
    lines = [f"# {plain(_one_line(story['title'])) or 'My story'}", ""]
    for scene in _ordered(story):
        lines += [f'<a id="{scene["id"]}"></a>', "", f"## {plain(titles[scene['id']])}", ""]
        if scene["text"].strip():
            lines += [plain(scene["text"].strip()), ""]
        for choice in scene["choices"]:
            lines.append(
                f"- [{label(choice['label']) or 'Go on'}](#{choice['target']})"
                f" (goes to: {plain(titles[choice['target']])})"
            )
        lines += [""] if scene["choices"] else ["*The end.*", ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}
section{border-top:1px solid #ccc;padding:1em 0}
a{font-size:1.1em}
@supports selector(:has(a)){section{display:none}section:target{display:block}
body:not(:has(section:target)) section.start{display:block}}"""


def to_html(story: dict[str, Any]) -> str:
    """The story as one self-contained HTML page with no script; every piece of learner text is escaped."""

    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    titles = _titles(story)
    title = esc(_one_line(story["title"]) or _("My story"))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{language()}">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
    ]
    for scene in _ordered(story):
        start = ' class="start"' if scene["id"] == story["start"] else ""
        parts.append(f'<section id="{esc(scene["id"])}"{start}>')
        parts.append(f"<h2>{esc(titles[scene['id']])}</h2>")
        for paragraph in scene["text"].strip().split("\n\n"):
            if paragraph.strip():
                parts.append("<p>" + "<br>\n".join(esc(line) for line in paragraph.strip().splitlines()) + "</p>")
        if scene["choices"]:
            parts.append("<ul>")
            parts += [
                f'<li><a href="#{esc(choice["target"])}">{esc(_one_line(choice["label"])) or esc(_("Go on"))}</a></li>'
                for choice in scene["choices"]
            ]
            parts.append("</ul>")
        else:
            parts.append(f'<p><em>The end.</em> <a href="#{esc(story["start"])}">Start again</a></p>')
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
