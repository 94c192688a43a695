"""Front-end assets from npm (``package.json`` + lockfile): which file of which package the pages load.

``tools/build_web.py`` copies them into ``static/vendor/`` (gitignored); when that copy is missing (a fresh
checkout before ``make assets``) they are served straight from ``node_modules``. Nothing is copied by hand.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
NODE_MODULES = WEB_DIR.parents[2] / "node_modules"

#: URL name under /static/vendor/ → path inside node_modules
VENDOR: dict[str, str] = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "chart.umd.js": "chart.js/dist/chart.umd.js",
    "jsQR.js": "jsqr/dist/jsQR.js",
}


def vendor_file(name: str) -> Path | None:
    """The built copy if present, else the file in node_modules; None for names not in the manifest."""
    source = VENDOR.get(name)
    if source is None:
        return None
    built = VENDOR_DIR / name
    if built.is_file():
        return built
    fallback = NODE_MODULES / source
    return fallback if fallback.is_file() else None
