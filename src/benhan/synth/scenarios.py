"""Clinical scenarios the generator draws from: a diagnosis with who gets it, where it is treated, what is
measured and what is prescribed (illustrative, not epidemiology).

Codes: ICD-10 of QĐ 4469 (every code is checked against the list and its sex/age rules when drawn),
drugs and services of the packaged demo catalogue (``terminology/data/demo_*.csv``), labs from the
LOINC subset (``terminology/data/loinc_subset.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Setting = Literal["outpatient", "inpatient", "emergency"]
Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class Scenario:
    icd10: str
    weight: float
    setting: Setting
    department: str  # department code in the demo province (see benhan.demo.province DEPARTMENTS)
    min_age: int = 0
    max_age: int = 120
    sex: Sex | None = None
    chronic: bool = False
    panels: tuple[str, ...] = ()  # panel keys of LAB_PANELS
    drugs: tuple[tuple[str, str, int], ...] = ()  # (drug code, dose text, doses per day)
    #: LOINC code -> factor applied to the normal value (abnormal results)
    abnormal: tuple[tuple[str, float], ...] = ()
    fever: bool = False
    hypoxia: bool = False
    hypertension: bool = False
    procedure: tuple[str, str, str] | None = None  # (ICD-9-CM, service code, Vietnamese name)
    stay_days: tuple[int, int] = (3, 7)


LAB_PANELS: dict[str, tuple[str, tuple[str, ...]]] = {
    # key: (panel LOINC, member LOINC codes) — all from the packaged subset
    "cbc": ("58410-2", ("718-7", "789-8", "4544-3", "787-2", "777-3", "6690-2", "751-8", "731-0")),
    "chem": ("24323-8", ("14749-6", "14937-7", "14682-9", "1742-6", "1920-8", "2951-2", "2823-3", "2075-0")),
    "lipids": ("57698-3", ("35200-5", "35217-9", "2085-9", "13457-7")),
    "hba1c": ("4548-4", ("4548-4",)),
    "crp": ("1988-5", ("1988-5",)),
    "renal": ("24323-8", ("14937-7", "14682-9", "14933-6", "2951-2", "2823-3")),
    "liver": ("24323-8", ("14631-6", "1742-6", "1920-8", "2324-2", "1751-7")),
}
PANEL_SERVICE = {"cbc": "DEMO.XN01", "chem": "DEMO.XN02", "lipids": "DEMO.XN10", "hba1c": "DEMO.XN07",
                 "crp": "DEMO.XN08", "renal": "DEMO.XN03", "liver": "DEMO.XN05"}  # fmt: skip

_PARA = ("DEMO.0001", "500 mg", 3)
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("J06.9", 14, "outpatient", "kham", drugs=(_PARA, ("DEMO.0003", "500 mg", 3)), fever=True),
    Scenario("K29.7", 8, "outpatient", "kham", min_age=12, drugs=(("DEMO.0009", "20 mg", 2),)),
    Scenario("I10", 12, "outpatient", "kham", min_age=35, chronic=True, panels=("renal", "lipids"),
             drugs=(("DEMO.0013", "5 mg", 1), ("DEMO.0014", "50 mg", 1)), hypertension=True),
    Scenario("E11.9", 9, "outpatient", "kham", min_age=30, chronic=True, panels=("chem", "hba1c"),
             drugs=(("DEMO.0011", "500 mg", 2), ("DEMO.0012", "30 mg", 1)),
             abnormal=(("14749-6", 1.9), ("4548-4", 1.5))),
    Scenario("E78.5", 5, "outpatient", "kham", min_age=30, chronic=True, panels=("lipids",),
             drugs=(("DEMO.0015", "20 mg", 1),), abnormal=(("35200-5", 1.6), ("13457-7", 1.7))),
    Scenario("N40", 3, "outpatient", "kham", min_age=50, sex="male", drugs=(("DEMO.0025", "0,4 mg", 1),)),
    Scenario("J45.9", 3, "outpatient", "kham", min_age=5, drugs=(("DEMO.0019", "2,5 mg", 3),)),
    Scenario("S01.8", 4, "emergency", "cap-cuu", procedure=("86.59", "03.2245.0216", "Khâu vết thương phần mềm")),
    Scenario("J18.9", 8, "inpatient", "noi", panels=("cbc", "crp"), fever=True, hypoxia=True,
             drugs=(("DEMO.0005", "1 g", 2), _PARA), abnormal=(("6690-2", 1.8), ("1988-5", 12.0))),
    Scenario("A09", 6, "inpatient", "nhi", max_age=15, panels=("cbc", "renal"), fever=True,
             drugs=(("DEMO.0023", "500 ml", 2), _PARA), stay_days=(2, 4)),
    Scenario("A90", 5, "inpatient", "noi", panels=("cbc",), fever=True, drugs=(("DEMO.0023", "500 ml", 2), _PARA),
             abnormal=(("777-3", 0.3), ("4544-3", 1.15)), stay_days=(3, 6)),
    Scenario("I21.9", 2, "inpatient", "hstc", min_age=45, panels=("cbc", "chem", "lipids"), hypertension=True,
             drugs=(("DEMO.0016", "81 mg", 1), ("DEMO.0017", "75 mg", 1), ("DEMO.0015", "40 mg", 1)),
             stay_days=(5, 10)),
    Scenario("I50.9", 3, "inpatient", "lao-tim", min_age=55, panels=("cbc", "renal"), hypoxia=True,
             drugs=(("DEMO.0018", "20 mg", 2), ("DEMO.0014", "50 mg", 1)), abnormal=(("14682-9", 1.6),)),
    Scenario("J44.1", 3, "inpatient", "lao-tim", min_age=50, panels=("cbc", "crp"), hypoxia=True,
             drugs=(("DEMO.0019", "2,5 mg", 4), ("DEMO.0020", "40 mg", 1)), abnormal=(("1988-5", 6.0),)),
    Scenario("I63.9", 2, "inpatient", "noi", min_age=50, panels=("cbc", "chem", "lipids"), hypertension=True,
             drugs=(("DEMO.0016", "81 mg", 1), ("DEMO.0015", "40 mg", 1)), stay_days=(7, 14)),
    Scenario("N39.0", 3, "inpatient", "noi", min_age=18, panels=("cbc", "crp"), fever=True,
             drugs=(("DEMO.0007", "500 mg", 2), _PARA), abnormal=(("6690-2", 1.5), ("1988-5", 8.0))),
    Scenario("K35.8", 3, "inpatient", "ngoai", min_age=8, panels=("cbc", "crp"), fever=True,
             drugs=(("DEMO.0005", "1 g", 2), ("DEMO.0008", "500 mg", 3)), abnormal=(("6690-2", 1.7),),
             procedure=("47.01", "03.4071.2039", "Phẫu thuật nội soi cắt ruột thừa"), stay_days=(3, 6)),
    Scenario("O80", 4, "inpatient", "san", min_age=18, max_age=42, sex="female", panels=("cbc",),
             drugs=(("DEMO.0024", "5 IU", 1),), stay_days=(2, 4)),
    Scenario("N18.9", 2, "outpatient", "kham", min_age=40, chronic=True, panels=("renal",),
             drugs=(("DEMO.0018", "20 mg", 1),), abnormal=(("14682-9", 2.5), ("14937-7", 2.2))),
)
