"""Build the web app's generated files: vendor assets from node_modules and compiled gettext catalogues.

    python tools/build_web.py            # copy vendor assets + compile .po → .mo   (make assets)
    python tools/build_web.py extract    # re-extract message ids into messages.pot and merge into each .po

Sources: ``package.json``/``package-lock.json`` (npm) for the assets listed in ``benhan.web.assets.VENDOR``;
templates and ``benhan/web/**.py`` for the message ids (Babel, Jinja2 extractor). Outputs
(``static/vendor/``, ``*.mo``) are gitignored; ``.pot`` and ``.po`` are committed.
"""

from __future__ import annotations

import shutil
import sys

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from benhan.web.assets import NODE_MODULES, VENDOR, VENDOR_DIR, WEB_DIR
from benhan.web.i18n import I18N_DIR, LANGUAGES

METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}


def copy_vendor() -> None:
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, source in VENDOR.items():
        src = NODE_MODULES / source
        if not src.is_file():
            sys.exit(f"{src} is missing: run `npm ci` (make install) first")
        shutil.copyfile(src, VENDOR_DIR / name)
        print(f"vendor {name} <- node_modules/{source}")


def extract() -> None:
    template = Catalog(project="benhan", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB_DIR, METHODS, options_map=OPTIONS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    with (I18N_DIR / "messages.pot").open("wb") as fh:
        write_po(fh, template, omit_header=True, sort_output=True, include_lineno=False)
    for lang in LANGUAGES:
        po = I18N_DIR / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_po(po.open("rb"), locale=lang) if po.is_file() else Catalog(locale=lang)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as fh:
            write_po(fh, catalog, omit_header=True, sort_output=True, include_lineno=False, ignore_obsolete=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{lang}: {len(catalog)} messages, {len(missing)} untranslated")


def compile_catalogues() -> None:
    for lang in LANGUAGES:
        po = I18N_DIR / lang / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)
        print(f"compiled {po.with_suffix('.mo').relative_to(WEB_DIR)}")


def main(argv: list[str]) -> None:
    if argv[1:] == ["extract"]:
        extract()
        return
    copy_vendor()
    compile_catalogues()


if __name__ == "__main__":
    main(sys.argv)
