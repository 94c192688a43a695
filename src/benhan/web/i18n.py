"""Gettext catalogues (Babel): Vietnamese by default, English switchable per user (a ``lang`` cookie).

Message ids are English; ``i18n/vi/LC_MESSAGES/messages.po`` translates them. ``tools/build_web.py``
extracts the ids from templates and routes and compiles ``.mo`` files (gitignored). If a ``.mo`` is missing
or older than its ``.po`` the catalogue is compiled in memory, so a fresh checkout still speaks Vietnamese.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

I18N_DIR = Path(__file__).resolve().parent / "i18n"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    po = I18N_DIR / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick_language(cookie: str | None) -> str:
    """The user's choice (cookie) wins; otherwise Vietnamese, whatever the browser says (Vietnamese first)."""
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
