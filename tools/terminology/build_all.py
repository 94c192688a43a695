"""Regenerate every terminology data file in order (ICD-9 before the demo catalogue that reads it).

Run: ``.venv/bin/python tools/terminology/build_all.py`` (needs the reference data folder, see _common.py).
"""

from __future__ import annotations

import build_admin_units
import build_demo_catalogue
import build_icd9
import build_icd10
import build_loinc

if __name__ == "__main__":
    build_icd10.main()
    build_icd9.main()
    build_admin_units.main()
    build_loinc.main()
    build_demo_catalogue.main()
