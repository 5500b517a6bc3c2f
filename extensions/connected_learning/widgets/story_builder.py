"""StoryBuilder: write a branching story scene by scene, play it through, export Markdown and HTML.

The editor shows one scene at a time: its title, what happens, and its choices, each with
the scene it leads to. "Add a choice" also makes the new scene the choice leads to, so a
story grows by branching. The play-through shows a scene and one button per choice. Learner
text reaches the page only as widget text (labels, button descriptions, option names) or
through `html.escape` in the HTML widget, so it can never become markup.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.

State: the story itself, as described in `story.py`.
"""

from __future__ import annotations

import copy
import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from connected_learning.widgets import story as model
from connected_learning.widgets.base import WIDE, CreationState, close_all, export_row, make_status
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import _, t

__all__ = ["StoryBuilder"]

_FULL = widgets.Layout(width="95%")
_FIT = widgets.Layout(width="auto")  # a button as wide as its words (the default width cuts them off)


class StoryBuilder(CreationState, widgets.VBox):
    """A branching-story builder with a play-through mode.

    Args:
        sidecar: a JSON file in the learner's folder that keeps the story between sessions.
    """

    kind = "story_builder"

    def __init__(self, *, sidecar: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self.status = make_status()
        self.story = model.new_story()
        self.editing = self.story["start"]
        self.playing: str | None = None
        self._quiet = False
        self.story_title = widgets.Text(
            description=_("Story title:"), style=WIDE, layout=_FULL, continuous_update=False
        )
        self.scene_choice = widgets.Dropdown(description=_("Scene to edit:"), style=WIDE)
        self.scene_title = widgets.Text(
            description=_("Scene title:"), style=WIDE, layout=_FULL, continuous_update=False
        )
        self.scene_text = widgets.Textarea(
            description=_("What happens:"),
            style=WIDE,
            continuous_update=False,
            placeholder=_("Write what happens in this scene."),
            layout=widgets.Layout(width="95%", height="8em"),
        )
        self.choices_box = widgets.VBox()
        self.add_choice_button = widgets.Button(
            description=_("Add a choice"),
            icon="code-fork",
            layout=_FIT,
            tooltip=_("Add a choice to this scene; it leads to a new scene"),
        )
        self.add_scene_button = widgets.Button(
            description=_("Add a scene"), icon="plus", layout=_FIT, tooltip=_("Add an empty scene")
        )
        self.delete_button = widgets.Button(
            description=_("Delete this scene"),
            icon="trash",
            layout=_FIT,
            tooltip=_("Delete this scene and the choices that lead to it"),
        )
        self.start_button = widgets.Button(
            description=_("Start the story here"), icon="flag", layout=_FIT, tooltip=_("Make this scene the first one")
        )
        self.play_button = widgets.Button(
            description=_("Play the story"),
            icon="play",
            layout=_FIT,
            button_style="primary",
            tooltip=_("Read your story from the start and make choices"),
        )
        self.add_choice_button.on_click(lambda _: self.add_choice())
        self.add_scene_button.on_click(lambda _: self.add_scene())
        self.delete_button.on_click(lambda _: self.delete_scene())
        self.start_button.on_click(lambda _: self.set_start())
        self.play_button.on_click(lambda _: self.play())
        self.story_title.observe(self._on_story_title, "value")
        self.scene_choice.observe(self._on_pick, "value")
        self.scene_title.observe(self._on_scene_title, "value")
        self.scene_text.observe(self._on_scene_text, "value")
        self.play_view = widgets.HTML(layout=_FULL)
        self.play_choices = widgets.VBox()
        self.choice_buttons: list[widgets.Button] = []
        self.markdown_name, self.markdown_button, markdown = export_row(
            "my_story.md", _("Save Markdown"), self.export_markdown, self.status
        )
        self.html_name, self.html_button, html_row = export_row(
            "my_story.html", _("Save web page"), self.export_html, self.status
        )
        super().__init__(
            children=[
                widgets.HTML(_("<b>Story builder</b>: write scenes, give them choices, then play your story.")),
                self.story_title,
                self.scene_choice,
                self.scene_title,
                self.scene_text,
                self.choices_box,
                widgets.HBox([self.add_choice_button, self.add_scene_button, self.delete_button, self.start_button]),
                self.play_button,
                self.play_view,
                self.play_choices,
                markdown,
                html_row,
                self.status,
            ],
            **kwargs,
        )
        self._refresh()
        self._start_sidecar(sidecar)

    def scene(self, scene_id: str | None = None) -> dict[str, Any]:
        """The scene with `scene_id` (the one being edited by default)."""
        wanted = scene_id or self.editing
        return next(scene for scene in self.story["scenes"] if scene["id"] == wanted)

    def _options(self) -> list[tuple[str, str]]:
        return [
            (
                f"{number}. {' '.join(scene['title'].split()) or 'untitled'}"
                + (" (start)" if scene["id"] == self.story["start"] else ""),
                scene["id"],
            )
            for number, scene in enumerate(self.story["scenes"], 1)
        ]

    def _refresh(self) -> None:
        """Show the story in the editor, without the editor's own observers writing it back."""
        self._quiet = True
        try:
            scene = self.scene()
            self.story_title.value = self.story["title"]
            self.scene_choice.options = self._options()
            self.scene_choice.value = self.editing
            self.scene_title.value = scene["title"]
            self.scene_text.value = scene["text"]
            rows = []
            for number, choice in enumerate(scene["choices"], 1):
                label = widgets.Text(
                    value=choice["label"],
                    description=t("Choice {number}:", number=number),
                    style=WIDE,
                    continuous_update=False,
                    placeholder=_("What the reader can choose"),
                )
                target = widgets.Dropdown(
                    options=self._options(), value=choice["target"], description=_("leads to:"), style=WIDE
                )
                remove = widgets.Button(
                    description=t("Remove choice {number}", number=number),
                    icon="times",
                    layout=_FIT,
                    tooltip=t("Remove choice {number} (its scene stays)", number=number),
                )
                label.observe(lambda change, c=choice: self._edit(c, "label", change["new"]), "value")
                target.observe(lambda change, c=choice: self._edit(c, "target", change["new"]), "value")
                remove.on_click(lambda _, index=number - 1: self.remove_choice(index))
                rows.append(widgets.HBox([label, target, remove]))
            close_all(self.choices_box.children)
            self.choices_box.children = rows or [widgets.Label(_("This scene has no choices yet: it is an ending."))]
            self.add_choice_button.disabled = len(scene["choices"]) >= model.MAX_CHOICES
            self.add_scene_button.disabled = len(self.story["scenes"]) >= model.MAX_SCENES
            self.delete_button.disabled = len(self.story["scenes"]) == 1
        finally:
            self._quiet = False

    def _edit(self, target: dict[str, Any], key: str, value: str) -> None:
        if self._quiet:
            return
        target[key] = value[: model.MAX_TEXT if key == "text" else model.MAX_TITLE]
        if key == "title":
            self._refresh()
        self._changed()

    def _on_story_title(self, change: dict[str, Any]) -> None:
        self._edit(self.story, "title", change["new"])

    def _on_scene_title(self, change: dict[str, Any]) -> None:
        self._edit(self.scene(), "title", change["new"])

    def _on_scene_text(self, change: dict[str, Any]) -> None:
        self._edit(self.scene(), "text", change["new"])

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self.edit(change["new"])

    def edit(self, scene_id: str) -> None:
        """Show the scene `scene_id` in the editor."""
        self.scene(scene_id)
        self.editing = scene_id
        self._refresh()

    def add_scene(self) -> str:
        """Add an empty scene, show it in the editor, and return its id."""
        if len(self.story["scenes"]) >= model.MAX_SCENES:
            self._say(t("A story can have {count} scenes at most.", count=model.MAX_SCENES))
            return self.editing
        scene_id = model.new_scene_id(self.story)
        self.story["scenes"].append(
            {
                "id": scene_id,
                "title": t("Scene {number}", number=len(self.story["scenes"]) + 1),
                "text": "",
                "choices": [],
            }
        )
        self.edit(scene_id)
        self._changed()
        return scene_id

    def add_choice(self, label: str = "") -> None:
        """Give the scene being edited a new choice that leads to a new scene (the editor stays on this scene)."""
        scene = self.scene()
        if len(scene["choices"]) >= model.MAX_CHOICES:
            self._say(t("A scene can have {count} choices at most.", count=model.MAX_CHOICES))
            return
        here = self.editing
        target = self.add_scene()
        if target == here:
            return
        scene["choices"].append(
            {"label": label or t("Choice {number}", number=len(scene["choices"]) + 1), "target": target}
        )
        self.edit(here)
        self._changed()

    def remove_choice(self, index: int) -> None:
        """Remove a choice from the scene being edited; the scene it led to stays."""
        del self.scene()["choices"][index]
        self._refresh()
        self._changed()

    def delete_scene(self) -> None:
        """Delete the scene being edited and every choice that leads to it."""
        if len(self.story["scenes"]) == 1:
            self._say(_("A story needs at least one scene."))
            return
        gone = self.editing
        self.story["scenes"] = [scene for scene in self.story["scenes"] if scene["id"] != gone]
        for scene in self.story["scenes"]:
            scene["choices"] = [choice for choice in scene["choices"] if choice["target"] != gone]
        if self.story["start"] == gone:
            self.story["start"] = self.story["scenes"][0]["id"]
        self.editing = self.story["start"]
        self._refresh()
        self._changed()

    def set_start(self) -> None:
        """Make the scene being edited the first scene of the story."""
        self.story["start"] = self.editing
        self._refresh()
        self._changed()

    def play(self, scene_id: str | None = None) -> None:
        """Show a scene in the play-through (the start by default), with one button per choice."""
        scene = self.scene(scene_id or self.story["start"])
        self.playing = scene["id"]
        text = "<br>".join(html.escape(line) for line in scene["text"].strip().splitlines())
        self.play_view.value = (
            f"<h3>{html.escape(scene['title'] or _('Untitled scene'))}</h3>"
            f"<p>{text or _('<i>(This scene has no text yet.)</i>')}</p>"
        )
        self.choice_buttons = []
        for choice in scene["choices"]:
            label = " ".join(choice["label"].split()) or _("Go on")
            button = widgets.Button(
                description=label[:60], tooltip=t("Choose: {label}", label=label), layout=widgets.Layout(width="auto")
            )
            button.on_click(lambda _, target=choice["target"]: self.play(target))
            self.choice_buttons.append(button)
        again = widgets.Button(
            description=_("Start again") if scene["choices"] else _("The end. Play again"),
            icon="repeat",
            layout=_FIT,
            tooltip=_("Go back to the first scene"),
        )
        again.on_click(lambda _: self.play())
        close_all(self.play_choices.children)
        self.play_choices.children = [*self.choice_buttons, again]

    def to_markdown(self) -> str:
        """The story as Markdown."""
        return model.to_markdown(self.story)

    def to_html(self) -> str:
        """The story as a self-contained web page with no script."""
        return model.to_html(self.story)

    def export_markdown(self, path: str | os.PathLike[str]) -> Path:
        """Save the story as Markdown in the learner's folder (atomically); returns the path written."""
        return export(path, lambda: self.to_markdown().encode("utf-8"), suffix=".md")

    def export_html(self, path: str | os.PathLike[str]) -> Path:
        """Save the story as a web page in the learner's folder (atomically); returns the path written."""
        return export(path, lambda: self.to_html().encode("utf-8"), suffix=".html")

    def _dump(self) -> dict[str, Any]:
        return copy.deepcopy(self.story)

    def _restore(self, state: dict[str, Any]) -> None:
        story = model.check_story(state)
        self.story = story
        self.editing = story["start"]
        self.playing = None
        self.play_view.value = ""
        close_all(self.play_choices.children)
        self.play_choices.children = []
        self.choice_buttons = []
        self._refresh()
