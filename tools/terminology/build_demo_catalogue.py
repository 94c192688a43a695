"""Generate the DEMO drug, service and supply catalogues (``demo_*.csv``) in the facility import format.

THIS IS DEMO DATA, NOT AN OFFICIAL CATALOGUE. Drugs are common hospital medicines by active ingredient
with plausible strengths and prices; codes start with ``DEMO`` so that they can never be mistaken for
DMDC codes, and route codes are mnemonic placeholders (the official DMDC route code list is not in the
reference data). Four surgical services take their real equivalent code, name and ICD-9-CM mapping
from Decision 4440 (the packaged ``icd9cm_vn.json.gz``, so run ``build_icd9.py`` first); their
prices are invented and the cost group (MA_NHOM, QĐ 5937 Annex 3) is left empty. Maximum doses,
contraindicated sex and minimum ages are illustrative only.
Run: ``.venv/bin/python tools/terminology/build_demo_catalogue.py``.
"""

from __future__ import annotations

import csv
import gzip
import io

import orjson
from _common import OUT_DIR

DRUG_HEADER = [
    "MA_THUOC", "TEN_HOAT_CHAT", "TEN_THUOC", "DON_VI_TINH", "HAM_LUONG", "DUONG_DUNG", "TEN_DUONG_DUNG",
    "DANG_BAO_CHE", "DON_GIA", "MA_NHOM", "LIEU_TOI_DA_LAN", "LIEU_TOI_DA_NGAY", "DON_VI_LIEU",
    "CHONG_CHI_DINH_GIOI", "TUOI_TOI_THIEU",
]  # fmt: skip
UONG, TIEM_TM, TRUYEN, TIEM_B, KHI_DUNG = ("UONG", "uống"), ("TMCH", "tiêm tĩnh mạch"), ("TTM", "truyền tĩnh mạch"), (
    "TB", "tiêm bắp"), ("KD", "khí dung")  # fmt: skip

# ingredient, strength, unit, form, route, price (VND), max single, max daily, dose unit, sex, min age
DRUGS = [
    ("Paracetamol", "500mg", "viên", "viên nén", UONG, 350, 1000, 4000, "mg", "", ""),
    ("Paracetamol", "1g/100ml", "chai", "dung dịch truyền", TRUYEN, 28000, 1000, 4000, "mg", "", "12"),
    ("Amoxicillin", "500mg", "viên", "viên nang", UONG, 900, 1000, 3000, "mg", "", ""),
    ("Amoxicillin + Acid clavulanic", "875mg + 125mg", "viên", "viên nén bao phim", UONG, 6500, 1, 2, "viên", "", "12"),
    ("Ceftriaxon", "1g", "lọ", "bột pha tiêm", TIEM_TM, 18000, 2000, 4000, "mg", "", ""),
    ("Cefuroxim", "500mg", "viên", "viên nén bao phim", UONG, 4200, 500, 1000, "mg", "", ""),
    ("Ciprofloxacin", "500mg", "viên", "viên nén bao phim", UONG, 1200, 750, 1500, "mg", "", "18"),
    ("Metronidazol", "250mg", "viên", "viên nén", UONG, 300, 500, 2000, "mg", "", ""),
    ("Omeprazol", "20mg", "viên", "viên nang tan trong ruột", UONG, 600, 40, 80, "mg", "", ""),
    ("Omeprazol", "40mg", "lọ", "bột pha tiêm", TIEM_TM, 32000, 80, 160, "mg", "", "18"),
    ("Metformin", "500mg", "viên", "viên nén bao phim", UONG, 450, 1000, 2550, "mg", "", "10"),
    ("Gliclazid", "30mg", "viên", "viên nén giải phóng có kiểm soát", UONG, 1100, 120, 120, "mg", "", "18"),
    ("Amlodipin", "5mg", "viên", "viên nén", UONG, 250, 10, 10, "mg", "", "6"),
    ("Losartan", "50mg", "viên", "viên nén bao phim", UONG, 700, 100, 100, "mg", "", "6"),
    ("Atorvastatin", "20mg", "viên", "viên nén bao phim", UONG, 800, 80, 80, "mg", "", "10"),
    ("Acid acetylsalicylic", "81mg", "viên", "viên nén bao tan trong ruột", UONG, 200, 325, 325, "mg", "", "16"),
    ("Clopidogrel", "75mg", "viên", "viên nén bao phim", UONG, 1500, 300, 300, "mg", "", "18"),
    ("Furosemid", "20mg/2ml", "ống", "dung dịch tiêm", TIEM_TM, 2500, 80, 600, "mg", "", ""),
    ("Salbutamol", "2,5mg/2,5ml", "ống", "dung dịch khí dung", KHI_DUNG, 4500, 5, 40, "mg", "", ""),
    ("Methylprednisolon", "40mg", "lọ", "bột pha tiêm", TIEM_TM, 25000, 1000, 1000, "mg", "", ""),
    ("Natri clorid", "0,9% 500ml", "chai", "dung dịch truyền", TRUYEN, 9500, "", "", "", "", ""),
    ("Glucose", "5% 500ml", "chai", "dung dịch truyền", TRUYEN, 10500, "", "", "", "", ""),
    ("Ringer lactat", "500ml", "chai", "dung dịch truyền", TRUYEN, 11000, "", "", "", "", ""),
    ("Oxytocin", "5 IU/ml", "ống", "dung dịch tiêm", TIEM_B, 4000, 10, 40, "IU", "male", "12"),
    ("Tamsulosin", "0,4mg", "viên", "viên nang giải phóng kéo dài", UONG, 5500, 0.4, 0.4, "mg", "female", "18"),
]

SERVICES = [
    ("DEMO.KB01", "Khám Nội", "lần", 34500, 1),
    ("DEMO.KB02", "Khám Nhi", "lần", 34500, 1),
    ("DEMO.KB03", "Khám Sản phụ khoa", "lần", 34500, 1),
    ("DEMO.GB01", "Ngày giường bệnh Nội khoa, loại 1", "ngày", 230000, 15),
    ("DEMO.XN01", "Tổng phân tích tế bào máu ngoại vi (bằng máy đếm laser)", "lần", 46000, 3),
    ("DEMO.XN02", "Định lượng Glucose [Máu]", "lần", 21500, 3),
    ("DEMO.XN03", "Định lượng Creatinin [Máu]", "lần", 21500, 3),
    ("DEMO.XN04", "Điện giải đồ (Na, K, Cl) [Máu]", "lần", 29000, 3),
    ("DEMO.XN05", "Đo hoạt độ ALT (GPT) [Máu]", "lần", 21500, 3),
    ("DEMO.XN06", "Đo hoạt độ AST (GOT) [Máu]", "lần", 21500, 3),
    ("DEMO.XN07", "Định lượng HbA1c [Máu]", "lần", 101000, 3),
    ("DEMO.XN08", "Định lượng CRP", "lần", 53600, 3),
    ("DEMO.XN09", "Tổng phân tích nước tiểu (bằng máy tự động)", "lần", 27400, 3),
    ("DEMO.XN10", "Định lượng Cholesterol toàn phần [Máu]", "lần", 26900, 3),
    ("DEMO.CD01", "Chụp X-quang ngực thẳng", "lần", 65400, 4),
    ("DEMO.CD02", "Siêu âm ổ bụng", "lần", 43900, 4),
    ("DEMO.TD01", "Điện tim thường", "lần", 32800, 4),
]
# Real equivalent codes of Decision 4440 Appendix 3 (names and ICD-9-CM taken from the packaged mapping).
MAPPED_SERVICES = [
    ("03.4071.2039", 2650000),
    ("03.2245.0216", 180000),
    ("03.0077.1888", 550000),
    ("03.0155.0140", 950000),
]

SUPPLIES = [
    ("DEMO.VT001", "Bơm tiêm nhựa 5ml", "cái", 1200, 10),
    ("DEMO.VT002", "Kim luồn tĩnh mạch 22G", "cái", 9500, 10),
    ("DEMO.VT003", "Bộ dây truyền dịch", "bộ", 6500, 10),
    ("DEMO.VT004", "Găng tay khám vô khuẩn", "đôi", 3200, 10),
    ("DEMO.VT005", "Ống nội khí quản số 7.5", "cái", 38000, 10),
    ("DEMO.VT006", "Chỉ khâu tổng hợp tiêu 3/0", "sợi", 45000, 10),
    ("DEMO.VT007", "Bông y tế thấm nước 100g", "gói", 22000, 10),
]


def write_csv(name: str, header: list[str], rows: list[list[object]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = OUT_DIR / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {path.name} ({len(rows)} rows) - DEMO DATA, not official")


def main() -> None:
    drugs = []
    for n, (ingredient, strength, unit, form, route, price, single, daily, dose_unit, sex, min_age) in enumerate(
        DRUGS, start=1
    ):
        name = f"{ingredient} {strength} (demo)"
        drugs.append([f"DEMO.{n:04d}", ingredient, name, unit, strength, route[0], route[1], form, price, "",
                      single, daily, dose_unit, sex, min_age])  # fmt: skip
    write_csv("demo_drugs.csv", DRUG_HEADER, drugs)

    mapping = orjson.loads(gzip.decompress((OUT_DIR / "icd9cm_vn.json.gz").read_bytes()))
    by_code = {s[0]: s for s in mapping["services"]}
    services: list[list[object]] = [[c, name, price, unit, "", ""] for c, name, unit, price, _group in SERVICES]
    for code, price in MAPPED_SERVICES:
        svc = by_code[code]
        services.append([code, svc[1], price, "lần", "", ";".join(svc[6])])
    write_csv("demo_services.csv", ["MA_DICH_VU", "TEN_DICH_VU", "DON_GIA", "DON_VI_TINH", "MA_NHOM", "MA_PTTT_QT"],
              services)  # fmt: skip
    write_csv("demo_supplies.csv", ["MA_VAT_TU", "TEN_VAT_TU", "DON_VI_TINH", "DON_GIA", "MA_NHOM"],
              [[c, name, unit, price, ""] for c, name, unit, price, _group in SUPPLIES])  # fmt: skip


if __name__ == "__main__":
    main()
