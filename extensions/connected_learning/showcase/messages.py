"""The words a showcase page adds around the student's work, in English and Spanish.

`MESSAGES` is a plain table, one dict per language. gettext would need compiled .mo files
and a build step for so few strings; `message()` is the one place to change should the
catalog grow into .po files. The page (`render`), its saved widgets (`saved_widgets`) and
the gallery use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MESSAGES", "message", "page_language"]

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "made_by": "Made by {name}",
        "play": "Play with it",
        "play_hint": "Opens the live version, where the buttons work.",
        "live_only": "This part is interactive: open the live version to play with it.",
        "not_saved": "This part was interactive; it was not saved, so it cannot be shown here.",
        "more_rows": "… and {count} more rows",
        "no_audio": "Your browser cannot play this sound.",
        "shown_above": "{name}: at the top of this page.",
        "picture": "A picture from the notebook",
        "footer": "Made with Connected Learning Hub. Published with a teacher's approval.",
    },
    "es": {
        "made_by": "Creado por {name}",
        "play": "Pruébalo",
        "play_hint": "Abre la versión en vivo, donde los botones funcionan.",
        "live_only": "Esta parte es interactiva: abre la versión en vivo para probarla.",
        "not_saved": "Esta parte era interactiva; no se guardó, así que no se puede mostrar aquí.",
        "more_rows": "… y {count} filas más",
        "no_audio": "Tu navegador no puede reproducir este sonido.",
        "shown_above": "{name}: al principio de esta página.",
        "picture": "Una imagen del cuaderno",
        "footer": "Hecho con Connected Learning Hub. Publicado con la aprobación de un docente.",
    },
}


def page_language(lang: str) -> str:
    """The catalog language for `lang` ("es-MX" -> "es"); English when there is no such catalog."""
    base = str(lang or "").replace("_", "-").split("-")[0].lower()
    return base if base in MESSAGES else "en"


def message(key: str, lang: str, **values: Any) -> str:
    """The page text `key` in `lang` (English if missing), with `values` filled in (not escaped)."""
    table = MESSAGES[page_language(lang)]
    return table.get(key, MESSAGES["en"][key]).format(**values)
