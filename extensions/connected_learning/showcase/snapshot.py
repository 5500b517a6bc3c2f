"""The copy of a piece that gets published: checked, stripped and scrubbed of who made it.

When a teacher approves a piece for the showcase, the service reads the files of
the approved version (`pieces.version_files`), passes them through `clean_snapshot`, stores
what comes back and renders it with `render.render_page`. Everything here is pure:
bytes in, bytes out, nothing read from or written to disk, so it can be tested exhaustively.

What the published copy keeps and loses (rule 2 of DESIGN.md, "Rules that protect people"):

- Only files of the types in `ALLOWED_TYPES`, with plain names, each within `max_file_bytes`
  and all together within `max_total_bytes`. Pictures must really be the PNG, JPEG or GIF
  their name says (checked by their first bytes), sounds real WAV; text must be UTF-8.
  Pictures and sounds are kept byte for byte.
- Notebooks lose all notebook and cell metadata except what rendering needs: the widget
  state (`application/vnd.jupyter.widget-state+json`, pruned to the widgets still shown, so
  saved creations still show), the kernel's name and language, and a `remove-input` tag.
  Execution counts, error outputs, stderr (warnings and tracebacks) and raw cells go, and so
  do outputs of a type no page shows (JavaScript, for one) and nbgrader's hidden tests.
- Hidden parts go too, following the Jupyter Book, nbconvert and JupyterLab conventions (tags
  are compared lowercase, with "_" read as "-"):
    * tag `remove-cell`, `hide-cell`, `hide` or `hidden`: the whole cell is left out;
    * tag `remove-output` or `hide-output`, or JupyterLab's collapsed outputs
      (`jupyter.outputs_hidden`): the outputs are left out;
    * tag `remove-input` or `hide-input`, or collapsed code (`jupyter.source_hidden`): the
      code stays (a live version needs it) but is marked `remove-input`, so no page shows it.
  A page cannot open a collapsed part without JavaScript, so "hidden" means "not published".
- Every user name in `usernames` becomes the display name, in file names a plain-letters form
  of it ("Ana G." -> "ana-g"); every home folder (those in `home_paths`, any `/home/<name>`,
  any `.../homes/<name>`) becomes `~`; e-mail addresses become `[e-mail]`. This runs over
  every string in sources, outputs (text, HTML, JSON, SVG), widget state, the text files and
  the file names, in one pass, so a replacement is never replaced again. A name counts only
  as a whole word: "ana" goes, "banana" stays.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import nbformat

from ..errors import ClhubError

__all__ = [
    "ALLOWED_TYPES",
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "TEXT_TYPES",
    "Scrubber",
    "SnapshotError",
    "clean_notebook",
    "clean_snapshot",
    "sniff_audio",
    "sniff_image",
]

#: Picture types and the MIME type their first bytes must show.
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
AUDIO_TYPES = {".wav": "audio/wav"}
#: Text files: scrubbed, kept as UTF-8. `.json` (the widgets' sidecars, for remixes) is kept but not shown.
TEXT_TYPES = (".md", ".txt", ".csv", ".html", ".json")
#: The same list as the peer-review folders' default (`folders.DEFAULT_TYPES`), so a shared piece can be published.
ALLOWED_TYPES = (".ipynb", *IMAGE_TYPES, *AUDIO_TYPES, *TEXT_TYPES)
#: Largest single file, and largest snapshot, in bytes. The page inlines everything, so these bound it too.
MAX_FILE_BYTES = 5_000_000
MAX_TOTAL_BYTES = 10_000_000
MAX_NAME = 120
MAX_DISPLAY_NAME = 80

REMOVE_CELL_TAGS = frozenset({"remove-cell", "hide-cell", "hide", "hidden"})
REMOVE_OUTPUT_TAGS = frozenset({"remove-output", "hide-output"})
REMOVE_INPUT_TAGS = frozenset({"remove-input", "hide-input"})
#: The one tag a published notebook keeps: its code is never shown.
REMOVE_INPUT = "remove-input"

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Output types a page can show without running anything; the rest are dropped.
OUTPUT_TYPES = frozenset(
    {
        "text/plain",
        "text/html",
        "text/markdown",
        "text/latex",
        "image/svg+xml",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        WIDGET_VIEW,
    }
)
BINARY_OUTPUTS = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/gif": "image/gif"}

_HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
_MODEL_REF = re.compile(r"IPY_MODEL_([0-9A-Za-z_-]+)")
# Another learner's home, even one nobody listed: /home/<name> and <data>/homes/<name>.
_ANY_HOME = r"(?<![\w.:/~-])(?:/home|(?:/[\w.-]+)+/homes)/[A-Za-z_][\w-]*(?![\w-])"
_EMAIL = r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
# A name is a whole word when no letter or digit touches it ("ana" in "ana_pet.png", not in "banana").
_BEFORE, _AFTER = r"(?<![^\W_])", r"(?![^\W_])"


class SnapshotError(ClhubError):
    """A piece that cannot be published as it is; the message names the file and what to do."""

    code = "bad-snapshot"


def sniff_image(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG or GIF picture from its first bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def sniff_audio(data: bytes) -> str | None:
    """The MIME type "audio/wav" for a RIFF/WAVE sound, None for anything else."""
    return "audio/wav" if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE" else None


def display_slug(display: str) -> str:
    """The display name as it may appear in a file name: "Ana G." -> "ana-g" ("learner" if nothing is left)."""
    plain = unicodedata.normalize("NFKD", display).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:40] or "learner"


@dataclass(frozen=True)
class Scrubber:
    """Replaces user names, home folders and e-mail addresses in text, in one pass.

    Build it with `Scrubber.build`; `text` cleans a string, `name` a file name, `value` every
    string inside a JSON value. `renames` (old file name -> new one) are applied in the same
    pass, so a notebook that shows "agarcia_pet.png" points at the renamed file.
    """

    display: str
    slug: str
    pattern: re.Pattern[str]
    renames: Mapping[str, str]

    @classmethod
    def build(
        cls,
        display: str,
        usernames: Collection[str],
        home_paths: Collection[str],
        renames: Mapping[str, str] | None = None,
    ) -> Scrubber:
        renames = dict(renames or {})
        homes = sorted(
            {h.rstrip("/") for h in home_paths if isinstance(h, str) and h.strip("/")}, key=len, reverse=True
        )
        names = sorted({u for u in usernames if isinstance(u, str) and u.strip()}, key=len, reverse=True)
        parts = []
        if homes:
            parts.append("(?P<home>" + "|".join(re.escape(h) for h in homes) + r")(?![\w.-])")
        if renames:
            old = sorted(renames, key=len, reverse=True)
            parts.append(_BEFORE + "(?P<file>" + "|".join(re.escape(n) for n in old) + ")" + _AFTER)
        parts.append(f"(?P<anyhome>{_ANY_HOME})")
        parts.append(f"(?P<email>{_EMAIL})")
        if names:
            parts.append(_BEFORE + "(?P<user>(?i:" + "|".join(re.escape(n) for n in names) + "))" + _AFTER)
        pattern = re.compile("|".join(parts))
        return cls(display, display_slug(display), pattern, renames)

    def _replace(self, match: re.Match[str], user: str) -> str:
        kind = match.lastgroup
        if kind in ("home", "anyhome"):
            return "~"
        if kind == "file":
            return self.renames[match.group()]
        if kind == "email":
            return "[e-mail]"
        return user

    def text(self, text: str) -> str:
        """`text` with names, homes and e-mail addresses replaced."""
        if not text:
            return text
        return self.pattern.sub(lambda m: self._replace(m, self.display), text)

    def name(self, name: str) -> str:
        """A file name with user names replaced by the display slug (never spaces or dots)."""
        return self.pattern.sub(lambda m: self._replace(m, self.slug), name)

    def value(self, value: Any, *, keys: bool = True) -> Any:
        """Every string inside the JSON value `value` scrubbed; dict keys too unless `keys` is False.

        Widget state passes `keys=False`: its keys are the names of traits, not data.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item, keys=keys) for item in value]
        if isinstance(value, dict):
            return {(self.text(k) if keys else k): self.value(v, keys=keys) for k, v in value.items()}
        return value


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise SnapshotError("A file in this piece has no name; share it again.", code="bad-file-name")
    shown = name[:60]
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or len(name) > MAX_NAME
        or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name)
    ):
        raise SnapshotError(
            f"The file name {shown!r} cannot be published: use a plain name such as 'my_pet.png', "
            f"without folders, a leading dot or hidden characters, at most {MAX_NAME} characters.",
            code="bad-file-name",
        )
    return name


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _decode_base64(data: Any) -> bytes | None:
    if isinstance(data, list):  # nbformat allows multiline strings for any output
        data = "".join(data)
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def _tags(metadata: Mapping[str, Any]) -> set[str]:
    tags = metadata.get("tags")
    if not isinstance(tags, list):
        return set()
    return {t.strip().lower().replace("_", "-") for t in tags if isinstance(t, str)}


def _jupyter_flag(metadata: Mapping[str, Any], flag: str) -> bool:
    view = metadata.get("jupyter")
    return isinstance(view, dict) and view.get(flag) is True


def _clean_output(output: Mapping[str, Any], scrub: Scrubber) -> dict[str, Any] | None:
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") != "stdout":
            return None  # stderr: warnings and tracebacks, often with paths
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        return nbformat.v4.new_output("stream", name="stdout", text=scrub.text(text))
    if kind not in ("display_data", "execute_result"):
        return None  # "error" (the traceback) and anything unknown
    raw = output.get("data")
    if not isinstance(raw, dict):
        return None
    data: dict[str, Any] = {}
    for mime, value in raw.items():
        if mime not in OUTPUT_TYPES:
            continue
        if mime in BINARY_OUTPUTS:
            decoded = _decode_base64(value)
            if decoded is not None and sniff_image(decoded) == BINARY_OUTPUTS[mime]:
                data[mime] = base64.b64encode(decoded).decode("ascii")
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "".join(value)
        data[mime] = scrub.value(value)
    if not data:
        return None
    metadata: dict[str, Any] = {}
    raw_meta = output.get("metadata")
    if isinstance(raw_meta, dict):
        for mime in data:
            size = raw_meta.get(mime)
            if isinstance(size, dict):
                kept = {k: v for k, v in size.items() if k in ("width", "height") and isinstance(v, int | float)}
                if kept:
                    metadata[mime] = kept
    if kind == "execute_result":
        return nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=None)
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata)


def _clean_attachments(attachments: Any, scrub: Scrubber) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if not isinstance(attachments, dict):
        return kept
    for name, bundle in attachments.items():
        if not isinstance(bundle, dict):
            continue
        for mime, value in bundle.items():
            decoded = _decode_base64(value) if mime in BINARY_OUTPUTS else None
            if decoded is not None and sniff_image(decoded) == mime:
                kept[scrub.name(str(name))] = {mime: base64.b64encode(decoded).decode("ascii")}
                break
    return kept


def _clean_widget_state(widgets: Any, shown: set[str], scrub: Scrubber) -> dict[str, Any] | None:
    """The saved widget state, keeping only models reachable from the widgets still shown."""
    if not isinstance(widgets, dict) or not isinstance(widgets.get(WIDGET_STATE), dict):
        return None
    saved = widgets[WIDGET_STATE]
    models = saved.get("state")
    if not isinstance(models, dict):
        return None
    keep: dict[str, Any] = {}
    todo = [m for m in shown if m in models]
    while todo:
        model_id = todo.pop()
        if model_id in keep or not isinstance(models.get(model_id), dict):
            continue
        model = models[model_id]
        keep[model_id] = model
        todo.extend(m for m in _MODEL_REF.findall(json.dumps(model.get("state", {}))) if m in models)
    if not keep:
        return None
    cleaned: dict[str, Any] = {}
    for model_id, model in keep.items():
        entry = {
            k: scrub.value(v, keys=False)
            for k, v in model.items()
            if k in ("model_name", "model_module", "model_module_version", "state")
        }
        buffers = model.get("buffers")
        if isinstance(buffers, list):
            # Pictures and sounds travel as base64 buffers: kept byte for byte, never scrubbed as text.
            entry["buffers"] = [
                {"encoding": "base64", "path": b["path"], "data": base64.b64encode(decoded).decode("ascii")}
                for b in buffers
                if isinstance(b, dict)
                and isinstance(b.get("path"), list)
                and b.get("encoding") == "base64"
                and (decoded := _decode_base64(b.get("data"))) is not None
            ]
        cleaned[model_id] = entry
    return {
        WIDGET_STATE: {
            "version_major": saved.get("version_major", 2),
            "version_minor": saved.get("version_minor", 0),
            "state": cleaned,
        }
    }


def _notebook_metadata(metadata: Mapping[str, Any], scrub: Scrubber) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    spec = metadata.get("kernelspec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        # The schema wants name and display_name; a live version needs the name to start a kernel.
        kept["kernelspec"] = {
            k: scrub.text(str(spec[k])[:80]) for k in ("name", "display_name", "language") if k in spec
        }
        kept["kernelspec"].setdefault("display_name", kept["kernelspec"]["name"])
    info = metadata.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        kept["language_info"] = {"name": info["name"][:40]}
    return kept


def clean_notebook(data: bytes, scrub: Scrubber, *, shown_as: str = "the notebook") -> bytes:
    """The published copy of one notebook (see the module docstring for what it keeps).

    Raises:
        SnapshotError: the notebook cannot be read, or is damaged in a way nbformat rejects.
    """
    damaged = SnapshotError(
        f"{shown_as!r} is not a notebook that can be read. Open it in JupyterLab, save it, and try again.",
        code="bad-notebook",
    )
    try:
        source = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception:  # nbformat raises many kinds (NotJSONError, ValidationError, KeyError...) for a bad file
        raise damaged from None
    try:
        cells: list[nbformat.NotebookNode] = []
        shown_widgets: set[str] = set()
        for cell in source.cells:
            kind = cell.get("cell_type")
            if kind not in ("markdown", "code"):
                continue  # raw cells are for conversion tools, not for people
            meta = cell.get("metadata") or {}
            tags = _tags(meta)
            if tags & REMOVE_CELL_TAGS:
                continue
            text = cell.get("source", "")
            text = scrub.text(_HIDDEN_TESTS.sub("", "".join(text) if isinstance(text, list) else str(text)))
            hide_input = bool(tags & REMOVE_INPUT_TAGS) or _jupyter_flag(meta, "source_hidden")
            new_meta: dict[str, Any] = {"tags": [REMOVE_INPUT]} if hide_input else {}
            if kind == "markdown":
                new = nbformat.v4.new_markdown_cell(text, metadata=new_meta)
                attachments = _clean_attachments(cell.get("attachments"), scrub)
                if attachments:
                    new["attachments"] = attachments
            else:
                outputs = []
                if not (tags & REMOVE_OUTPUT_TAGS or _jupyter_flag(meta, "outputs_hidden")):
                    for output in cell.get("outputs") or []:
                        cleaned = _clean_output(output, scrub) if isinstance(output, dict) else None
                        if cleaned is not None:
                            outputs.append(cleaned)
                            view = cleaned.get("data", {}).get(WIDGET_VIEW)
                            if isinstance(view, dict) and isinstance(view.get("model_id"), str):
                                shown_widgets.add(view["model_id"])
                new = nbformat.v4.new_code_cell(text, metadata=new_meta, outputs=outputs, execution_count=None)
            new["id"] = f"cell-{len(cells) + 1}"  # the author's ids could say anything
            cells.append(new)
        metadata = source.get("metadata") or {}
        notebook = nbformat.v4.new_notebook(cells=cells, metadata=_notebook_metadata(metadata, scrub))
        widgets = _clean_widget_state(metadata.get("widgets"), shown_widgets, scrub)
        if widgets:
            notebook.metadata["widgets"] = widgets
        nbformat.validate(notebook)
    except (KeyError, TypeError, AttributeError, ValueError, nbformat.ValidationError):
        raise damaged from None
    return nbformat.writes(notebook).encode("utf-8")


def _clean_text(name: str, data: bytes, scrub: Scrubber) -> bytes:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SnapshotError(
            f"{name!r} is not UTF-8 text. Save it again as UTF-8 (JupyterLab does) and try again.", code="bad-text"
        ) from None
    if _suffix(name) == ".json":
        try:
            value = json.loads(text)
        except ValueError:
            raise SnapshotError(
                f"{name!r} is not valid JSON. Save it again from its widget and try again.", code="bad-text"
            ) from None
        return json.dumps(scrub.value(value), ensure_ascii=False, indent=1).encode("utf-8")
    return scrub.text(text).encode("utf-8")


def _check_display(author_display: str) -> str:
    display = author_display.strip() if isinstance(author_display, str) else ""
    if not display or len(display) > MAX_DISPLAY_NAME or any(unicodedata.category(ch) == "Cc" for ch in display):
        raise SnapshotError(
            f"The display name {str(author_display)[:40]!r} cannot be shown to families: use a first name and "
            f"an initial or an approved pseudonym, 1 to {MAX_DISPLAY_NAME} characters.",
            code="bad-display-name",
        )
    return display


def clean_snapshot(
    files: Mapping[str, bytes],
    *,
    author_display: str,
    usernames: Collection[str],
    home_paths: Collection[str] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> dict[str, bytes]:
    """The published copy of a piece's files: checked, cleaned and scrubbed of who made it.

    Args:
        files: file name -> bytes, as `pieces.version_files` reads one version of a piece.
        author_display: the name families see (first name and initial, or an approved pseudonym).
        usernames: every account name that must not appear (the author's, and any other the
            caller knows of, such as the group's members).
        home_paths: home folders to replace with "~", e.g. "/home/agarcia" or
            "/var/lib/clhub/homes/agarcia"; `/home/<name>` and `.../homes/<name>` go anyway.
        max_file_bytes, max_total_bytes: size limits for one file and for all together.

    Returns:
        Cleaned file name -> cleaned bytes, in the order of `files`.

    Raises:
        SnapshotError: with a `code` ("file-type", "too-large", "bad-file-name", "bad-image",
            "bad-audio", "bad-text", "bad-notebook", "bad-display-name", "empty") and a message
            that names the file and says what to do.
    """
    display = _check_display(author_display)
    if not files:
        raise SnapshotError("This piece has no files to publish. Share it again with its files.", code="empty")
    total = 0
    for name, data in files.items():
        _check_name(name)
        suffix = _suffix(name)
        if suffix not in ALLOWED_TYPES:
            raise SnapshotError(
                f"{name!r}: files of type {suffix or '(none)'!r} cannot be published; "
                f"allowed: {', '.join(ALLOWED_TYPES)}. Leave it out, or save your work as one of these.",
                code="file-type",
            )
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"the content of {name!r} must be bytes")
        total += len(data)
        if len(data) > max_file_bytes or total > max_total_bytes:
            limit = max_file_bytes if len(data) > max_file_bytes else max_total_bytes
            raise SnapshotError(
                f"{name!r} makes this piece too large to publish (the limit is {limit / 1_000_000:.1f} MB"
                f"{'' if limit == max_file_bytes else ' for all files together'}). "
                "Leave it out, or make it smaller (a shorter sound, a smaller picture).",
                code="too-large",
            )
        if suffix in IMAGE_TYPES and sniff_image(bytes(data)) != IMAGE_TYPES[suffix]:
            raise SnapshotError(
                f"{name!r} is not a real {suffix[1:].upper()} picture (maybe another kind of file was renamed). "
                "Save the picture again from its widget and try again.",
                code="bad-image",
            )
        if suffix in AUDIO_TYPES and sniff_audio(bytes(data)) is None:
            raise SnapshotError(
                f"{name!r} is not a real WAV sound. Save the sound again from its widget and try again.",
                code="bad-audio",
            )

    plain = Scrubber.build(display, usernames, home_paths)
    renames = {name: plain.name(name) for name in files if plain.name(name) != name}
    scrub = Scrubber.build(display, usernames, home_paths, renames)
    cleaned: dict[str, bytes] = {}
    for name, data in files.items():
        new_name = renames.get(name, name)
        if new_name in cleaned or (new_name != name and new_name in files):
            raise SnapshotError(
                f"Two files would both be called {new_name!r} once names are hidden. Rename {name!r} and try again.",
                code="bad-file-name",
            )
        suffix = _suffix(name)
        if suffix == ".ipynb":
            cleaned[new_name] = clean_notebook(bytes(data), scrub, shown_as=name)
        elif suffix in TEXT_TYPES:
            cleaned[new_name] = _clean_text(name, bytes(data), scrub)
        else:
            cleaned[new_name] = bytes(data)
    return cleaned
