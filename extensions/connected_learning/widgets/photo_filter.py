"""PhotoFilterLab: sliders and named effects on a picture from the learner's folder, a before/after view, PNG export.

    lab = PhotoFilterLab("data/coffee.jpg", sidecar="my_photo.json")

The learner opens a picture (a .png or .jpg inside their folder: `read_picture` refuses a
path that leaves it, a shortcut (symbolic link), a file that is not a picture and a picture
so big it could be a decompression bomb), moves sliders (brightness, contrast, colour,
sharpness, blur, warmth) and ticks effects (black and white, sepia, posterize, mirror,
pixelate, invert, outline). Every change redraws the "After" picture, an `ipywidgets.Image`
made from a copy of the picture shrunk to at most `PREVIEW_SIDE` pixels, so a slider move
stays quick and the notebook's saved widget state (which the showcase's static page draws)
stays small. "Save PNG" applies the same filters to the full-size picture. Blur and pixelate
are measured against the picture's size, so the preview and the saved file look alike.

Every control is a slider, a check box, a text box or a button with a text label: all work
with Tab, the arrow keys, Space and Enter. A line under the pictures says in words which
effects are on.

State: {"picture": the picture's path in the learner's folder ("" for none),
"settings": {slider name: whole number}, "effects": [effect names, in `EFFECTS` order]}.
Loading it opens the picture again, so a sidecar naming a picture that is gone, or a path
that is not allowed, gives a StateError.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from connected_learning.widgets import pictures
from connected_learning.widgets.base import (
    CreationState,
    SharedModels,
    StateError,
    TitledImage,
    export_row,
    live_showcase,
    make_status,
)
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import _, t
from connected_learning.widgets.pictures import MAX_PICTURE_BYTES, MAX_PIXELS, PictureError

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "EFFECTS",
    "MAX_PICTURE_BYTES",
    "MAX_PIXELS",
    "PREVIEW_SIDE",
    "SLIDERS",
    "PhotoFilterLab",
    "PictureError",
    "apply_filters",
    "read_picture",
]

#: name -> (lowest, highest, unchanged value). `_slider_words` gives each its label and tooltip.
SLIDERS: dict[str, tuple[int, int, int]] = {
    "brightness": (-100, 100, 0),
    "contrast": (-100, 100, 0),
    "colour": (-100, 100, 0),
    "sharpness": (0, 100, 0),
    "blur": (0, 100, 0),
    "warmth": (-100, 100, 0),
    "blocks": (4, 96, 32),
    "steps": (2, 8, 4),
}
#: The named effects, in the order they are applied. `_effect_words` gives each its label and tooltip.
EFFECTS = ("mirror", "pixelate", "outline", "black and white", "sepia", "posterize", "invert")
#: The longest side of the before and after pictures on screen, in pixels.
PREVIEW_SIDE = 360
_MAX_NAME = 1000


def _slider_words() -> dict[str, tuple[str, str]]:
    """Slider name -> (its label, its tooltip), in the language of the widgets now."""
    return {
        "brightness": (_("Brightness"), _("Left: darker. Right: brighter.")),
        "contrast": (_("Contrast"), _("Left: flat and grey. Right: strong darks and lights.")),
        "colour": (_("Colour"), _("Left: fewer colours, down to grey. Right: stronger colours.")),
        "sharpness": (_("Sharpness"), _("Right: edges and details stand out more.")),
        "blur": (_("Blur"), _("Right: softer and more blurry.")),
        "warmth": (_("Warmth"), _("Left: cooler and more blue. Right: warmer and more orange.")),
        "blocks": (
            _("Pixelate: blocks across"),
            _("How many squares across the picture when Pixelate is on."),
        ),
        "steps": (_("Posterize: colour steps"), _("How many steps of each colour when Posterize is on.")),
    }


def _effect_words() -> dict[str, tuple[str, str]]:
    """Effect name -> (its label, its tooltip), in the language of the widgets now."""
    return {
        "mirror": (_("Mirror"), _("Flip the picture left to right.")),
        "pixelate": (_("Pixelate"), _("Turn the picture into big square blocks.")),
        "outline": (_("Outline"), _("Keep only the edges, as dark lines on white.")),
        "black and white": (_("Black and white"), _("Only greys, from black to white.")),
        "sepia": (_("Sepia"), _("Brown and cream, like a very old photo.")),
        "posterize": (_("Posterize"), _("Only a few flat colours, like a poster.")),
        "invert": (_("Invert"), _("Swap dark and light, and each colour for its opposite.")),
    }


def read_picture(name: str | os.PathLike[str]) -> tuple[str, PILImage.Image]:
    """`pictures.read_picture`, in RGB: see-through parts become white."""
    from PIL import Image

    shown, picture = pictures.read_picture(name)
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return shown, flat
    return shown, picture.convert("RGB")


def _levels(steps: int) -> list[int]:
    """A lookup table that rounds 0..255 to `steps` evenly spaced values."""
    return [round(round(v * (steps - 1) / 255) * 255 / (steps - 1)) for v in range(256)]


def apply_filters(picture: PILImage.Image, settings: dict[str, int], effects: list[str]) -> PILImage.Image:
    """`picture` (RGB) with the sliders' `settings` and then the `effects` applied, in `EFFECTS` order.

    Pure: the same picture, settings and effects give the same result. Blur and pixelate are
    measured against the picture's size, so a small preview looks like the full-size result.
    """
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    value = {name: settings.get(name, spec[2]) for name, spec in SLIDERS.items()}
    image = picture
    if "mirror" in effects:
        image = ImageOps.mirror(image)
    for name, enhancer in (
        ("brightness", ImageEnhance.Brightness),
        ("contrast", ImageEnhance.Contrast),
        ("colour", ImageEnhance.Color),
    ):
        if value[name]:
            image = enhancer(image).enhance(1 + value[name] / 100)
    if value["sharpness"]:
        image = ImageEnhance.Sharpness(image).enhance(1 + value["sharpness"] / 25)
    if value["warmth"]:
        shift = value["warmth"] * 0.4
        red, green, blue = image.split()
        red = red.point([max(0, min(255, round(v + shift))) for v in range(256)])
        blue = blue.point([max(0, min(255, round(v - shift))) for v in range(256)])
        image = Image.merge("RGB", (red, green, blue))
    if value["blur"]:
        image = image.filter(ImageFilter.GaussianBlur(value["blur"] / 100 * max(image.size) / 40))
    if "pixelate" in effects:
        across = max(1, min(value["blocks"], image.width))
        down = max(1, round(image.height * across / image.width))
        small = image.resize((across, down), Image.Resampling.BOX)
        image = small.resize(image.size, Image.Resampling.NEAREST)
    if "outline" in effects:
        edges = image.convert("L").filter(ImageFilter.SMOOTH_MORE).filter(ImageFilter.FIND_EDGES)
        image = ImageOps.invert(ImageOps.autocontrast(edges)).convert("RGB")
    if "black and white" in effects or "sepia" in effects:
        grey = image.convert("L")
        image = (
            ImageOps.colorize(grey, black=(45, 25, 10), white=(255, 238, 200), mid=(165, 115, 65))
            if "sepia" in effects
            else grey.convert("RGB")
        )
    if "posterize" in effects:
        image = image.point(_levels(value["steps"]) * 3)
    if "invert" in effects:
        image = ImageOps.invert(image)
    return image


def _encode(picture: PILImage.Image, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    if kind == "JPEG":
        picture.save(buffer, format="JPEG", quality=85)
    else:
        picture.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _shrink(picture: PILImage.Image) -> PILImage.Image:
    from PIL import Image

    small = picture.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    return small


class PhotoFilterLab(CreationState, widgets.VBox):
    """Filters on a picture: sliders and effects, a before and after view, "Reset", "Save PNG".

    Args:
        picture: a .png or .jpg in the learner's folder, like "data/coffee.jpg" (None: none yet).
        settings: starting slider values, like {"warmth": 30} (a saved creation wins over them).
        effects: effects ticked at the start, like ["sepia"].
        sidecar: a JSON file in the learner's folder that keeps the picture's name and the filters.
        file_name: the name "Save PNG" offers.
    """

    kind = "photo_filter"

    def __init__(
        self,
        picture: str | os.PathLike[str] | None = None,
        *,
        settings: dict[str, int] | None = None,
        effects: list[str] | tuple[str, ...] = (),
        sidecar: str | os.PathLike[str] | None = None,
        file_name: str = "my_photo.png",
        **kwargs: Any,
    ) -> None:
        import PIL.Image  # noqa: F401  (Pillow loads with the first lab, not with the package)

        shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared)
        self.picture_name = ""
        self._original: PILImage.Image | None = None
        self._small: PILImage.Image | None = None
        self._quiet = False  # Reset and loading change many controls: redraw once, at the end
        start = _check_settings(settings or {})
        start_effects = _check_effects(list(effects))

        self.picture_box = widgets.Text(
            value="",
            description=_("Picture file:"),
            placeholder="data/coffee.jpg",
            style={"description_width": "initial"},
            layout=plain,
            tooltip=_("A .png or .jpg picture in your folder"),
        )
        self.open_button = widgets.Button(
            description=_("Open picture"),
            icon="folder-open",
            tooltip=_("Open the picture named on the left"),
            style=shared.button,
            layout=shared.fit,
        )
        self.open_button.on_click(lambda _button: self._open_pressed())
        hidden = widgets.Layout(display="none") if live_showcase() else plain
        open_row = widgets.HBox([self.picture_box, self.open_button], layout=hidden)

        self.before = TitledImage(format="jpeg", tooltip=_("Before"), layout=plain)
        self.after = TitledImage(format="jpeg", tooltip=_("After"), layout=plain)
        before_box = widgets.VBox([widgets.Label(_("Before"), style=shared.label, layout=plain), self.before])
        after_box = widgets.VBox([widgets.Label(_("After"), style=shared.label, layout=plain), self.after])
        self.sliders: dict[str, widgets.IntSlider] = {}
        slider_words, self._effect_labels = _slider_words(), _effect_words()
        for name, (low, high, _unchanged) in SLIDERS.items():
            label, tip = slider_words[name]
            slider = widgets.IntSlider(
                value=start[name],
                min=low,
                max=high,
                description=label,
                tooltip=tip,
                continuous_update=False,  # redraw when the slider is let go, not at every pixel of a drag
                style=shared.slider,
                layout=plain,
            )
            slider.observe(self._control_changed, "value")
            self.sliders[name] = slider
        self.effect_boxes: dict[str, widgets.Checkbox] = {}
        for name in EFFECTS:
            label, tip = self._effect_labels[name]
            box = widgets.Checkbox(
                value=name in start_effects, description=label, tooltip=tip, indent=False, layout=shared.fit
            )
            box.observe(self._control_changed, "value")
            self.effect_boxes[name] = box
        self.summary = widgets.Label(self._summary_text(start_effects), style=shared.label, layout=plain)
        self.reset_button = widgets.Button(
            description=_("Reset"),
            icon="undo",
            tooltip=_("Put every slider back to the middle and untick every effect"),
            style=shared.button,
            layout=shared.fit,
        )
        self.reset_button.on_click(lambda _button: self.reset())
        self.file_name, self.export_button, export = export_row(
            file_name, _("Save PNG"), self.export_png, self.status, shared
        )
        adjust = [self.sliders[name] for name in ("brightness", "contrast", "colour", "sharpness", "blur", "warmth")]
        kwargs.setdefault("layout", plain)
        super().__init__(
            children=[
                widgets.HTML(
                    _(
                        "<b>Photo lab</b>: move the sliders and tick the effects. "
                        "The <b>After</b> picture changes each time. <b>Save PNG</b> saves it at full size."
                    ),
                    layout=plain,
                ),
                open_row,
                widgets.HBox([before_box, after_box], layout=widgets.Layout(flex_flow="row wrap")),
                self.summary,
                widgets.Label(_("Adjust:"), style=shared.label, layout=plain),
                widgets.VBox(adjust, layout=plain),
                widgets.Label(_("Effects:"), style=shared.label, layout=plain),
                widgets.HBox(list(self.effect_boxes.values()), layout=widgets.Layout(flex_flow="row wrap")),
                widgets.VBox([self.sliders["blocks"], self.sliders["steps"]], layout=plain),
                self.reset_button,
                export,
                self.status,
            ],
            **kwargs,
        )
        if picture is not None:
            try:
                self.open_picture(picture)
            except PictureError as error:
                self._say(str(error))
        else:
            self._say(_("Type the file name of a picture in your folder, then press Open picture."))
        self._start_sidecar(sidecar)

    # -- what the learner does

    def open_picture(self, name: str | os.PathLike[str]) -> None:
        """Open the picture `name` from the learner's folder (the filters stay as they are)."""
        shown, picture = read_picture(name)
        self._original, self._small = picture, _shrink(picture)
        self.picture_name = shown
        self.picture_box.value = shown
        self.before.value = _encode(self._small, "JPEG")
        self._redraw()
        self._say(
            t("Opened {name}: {width} x {height} pixels.", name=shown, width=picture.width, height=picture.height)
        )
        self._changed()

    def _open_pressed(self) -> None:
        try:
            self.open_picture(self.picture_box.value.strip())
        except PictureError as error:
            self._say(str(error))

    def reset(self) -> None:
        """Every slider back to where it starts, every effect off."""
        self._quiet = True
        try:
            for name, slider in self.sliders.items():
                slider.value = SLIDERS[name][2]
            for box in self.effect_boxes.values():
                box.value = False
        finally:
            self._quiet = False
        self._redraw()
        self._say(_("Back to the picture as it was."))
        self._changed()

    @property
    def settings(self) -> dict[str, int]:
        """The slider values, by name."""
        return {name: int(slider.value) for name, slider in self.sliders.items()}

    @property
    def effects(self) -> list[str]:
        """The effects that are on, in the order they are applied."""
        return [name for name, box in self.effect_boxes.items() if box.value]

    def result(self, full_size: bool = True) -> PILImage.Image:
        """The filtered picture (RGB), full size or the small preview. Raises PictureError with no picture."""
        picture = self._original if full_size else self._small
        if picture is None:
            raise PictureError(_("Open a picture first."))
        return apply_filters(picture, self.settings, self.effects)

    def to_png(self) -> bytes:
        """The filtered picture, full size, as PNG bytes."""
        return _encode(self.result())

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Save the filtered picture, full size, as a PNG in the learner's folder (atomically)."""
        return export(path, self.to_png, suffix=".png")

    # -- drawing

    def _control_changed(self, _change: dict[str, Any]) -> None:
        if self._quiet or self._restoring:
            return
        self._redraw()
        self._changed()

    def _redraw(self) -> None:
        self.summary.value = self._summary_text(self.effects)
        if self._small is not None:
            self.after.value = _encode(apply_filters(self._small, self.settings, self.effects), "JPEG")

    def _summary_text(self, effects: list[str]) -> str:
        if not effects:
            return _("Effects on: none")
        return t("Effects on: {effects}", effects=", ".join(self._effect_labels[name][0] for name in effects))

    # -- saving

    def _dump(self) -> dict[str, Any]:
        return {"picture": self.picture_name, "settings": self.settings, "effects": self.effects}

    def _restore(self, state: dict[str, Any]) -> None:
        # Check everything, and open the picture, before changing anything on screen.
        picture, settings, effects = state["picture"], state["settings"], state["effects"]
        if not isinstance(picture, str) or len(picture) > _MAX_NAME:
            raise StateError(_("The saved picture name is not a file name."))
        checked = _check_settings(settings, complete=True)
        chosen = _check_effects(effects)
        opened = read_picture(picture) if picture else None
        self._quiet = True
        try:
            for name, slider in self.sliders.items():
                slider.value = checked[name]
            for name, box in self.effect_boxes.items():
                box.value = name in chosen
        finally:
            self._quiet = False
        if opened is None:
            self._original = self._small = None
            self.picture_name = ""
            self.before.value = self.after.value = b""
        else:
            self.picture_name, self._original = opened
            self._small = _shrink(self._original)
            self.picture_box.value = self.picture_name
            self.before.value = _encode(self._small, "JPEG")
            size = {"width": self._original.width, "height": self._original.height}
            self._say(t("Opened {name}: {width} x {height} pixels.", name=self.picture_name, **size))
        self._redraw()


def _check_settings(settings: Any, complete: bool = False) -> dict[str, int]:
    """Every slider's value from `settings` (missing ones unchanged, unless `complete`), checked."""
    if not isinstance(settings, dict):
        raise StateError(_("The saved slider values are damaged."))
    unknown = sorted(str(name) for name in settings if name not in SLIDERS)
    if unknown:
        raise StateError(t("There is no slider called {name}.", name=unknown[0][:40]))
    checked = {}
    words = _slider_words()
    for name, (low, high, unchanged) in SLIDERS.items():
        label = words[name][0]
        if name not in settings and complete:
            raise StateError(t("The saved work has no value for {slider}.", slider=label))
        value = settings.get(name, unchanged)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise StateError(
                t("{slider} must be a whole number from {low} to {high}.", slider=label, low=low, high=high)
            )
        checked[name] = value
    return checked


def _check_effects(effects: Any) -> list[str]:
    if not isinstance(effects, list) or len(effects) > len(EFFECTS):
        raise StateError(_("The saved effects are damaged."))
    unknown = [str(name)[:40] for name in effects if not isinstance(name, str) or name not in EFFECTS]
    if unknown:
        raise StateError(t("There is no effect called {name}.", name=unknown[0]))
    return [name for name in EFFECTS if name in effects]
