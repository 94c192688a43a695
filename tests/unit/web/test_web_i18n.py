"""The web catalogues: every message id of the templates and routes is translated to Vietnamese, the
placeholders survive translation, and every vendor asset of the manifest comes from an npm package."""

from __future__ import annotations

import json
import re
from pathlib import Path

from babel.messages.pofile import read_po

from benhan.web.assets import VENDOR
from benhan.web.i18n import I18N_DIR, translations
from benhan.web.templating import vn_date, vn_datetime

ROOT = Path(__file__).resolve().parents[3]


def test_vietnamese_catalogue_is_complete_and_keeps_placeholders() -> None:
    template = read_po((I18N_DIR / "messages.pot").open("rb"))
    vi = read_po((I18N_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb"), locale="vi")
    ids = {m.id for m in template if m.id}
    assert ids
    assert ids <= {m.id for m in vi if m.string}
    for m in vi:
        if m.id and m.string:
            assert sorted(re.findall(r"%\(\w+\)s", str(m.id))) == sorted(re.findall(r"%\(\w+\)s", str(m.string)))


def test_translations_switch() -> None:
    assert translations("vi").gettext("Reception") == "Tiếp đón"
    assert translations("en").gettext("Reception") == "Reception"
    assert translations("xx").gettext("Reception") == "Tiếp đón"  # unknown → Vietnamese


def test_vendor_assets_come_from_package_json() -> None:
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for source in VENDOR.values():
        package = source.split("/dist/")[0]
        assert package in deps, source


def test_dates_are_dd_mm_yyyy_in_vietnam_time() -> None:
    assert vn_date("1990-02-01") == "01/02/1990"
    assert vn_date("2025-03-01T18:30:00Z") == "02/03/2025"  # 01:30 on the 2nd in UTC+7
    assert vn_datetime("2025-03-01T18:30:00Z") == "01:30 02/03/2025"
