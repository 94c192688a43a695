"""Catalogue import from CSV and Excel: validation, per-row errors, all-or-nothing."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook

from benhan.terminology import catalogue

HEADER = (
    "MA_THUOC,TEN_HOAT_CHAT,TEN_THUOC,DON_VI_TINH,HAM_LUONG,DUONG_DUNG,GIA,LIEU_TOI_DA_LAN,LIEU_TOI_DA_NGAY,DON_VI_LIEU"
)


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def test_valid_csv_imports_every_row() -> None:
    report = catalogue.import_drugs(
        _csv(
            "T1,Paracetamol,Paracetamol 500mg,viên,500mg,UONG,350.5,1000,4000,mg",
            "T2,Metformin,Metformin 500mg,viên,500mg,UONG,450,,,",
        ),
        "thuoc.csv",
    )
    assert report.ok
    assert report.rows_read == 2
    assert [d.ma_thuoc for d in report.items] == ["T1", "T2"]
    assert report.items[0].don_gia == Decimal("350.5")
    assert report.items[0].lieu_toi_da_ngay == Decimal("4000")


def test_errors_are_reported_per_row_and_nothing_is_imported() -> None:
    report = catalogue.import_drugs(
        _csv(
            "T1,Paracetamol,Paracetamol 500mg,viên,500mg,UONG,350,1000,4000,mg",
            "T2,,Amoxicillin 500mg,viên,500mg,UONG,abc,,,",
            "T1,Ceftriaxon,Ceftriaxon 1g,lọ,1g,TIEMTM,-5,,,",
            "T4,Omeprazol,Omeprazol 20mg,viên,20mg,UONG,600,80,40,mg",
        ),
        "thuoc.csv",
    )
    assert not report.ok
    assert report.items == ()
    got = {(e.row, e.column) for e in report.errors}
    assert got == {
        (3, "TEN_HOAT_CHAT"),
        (3, "DON_GIA"),
        (4, "DUONG_DUNG"),
        (4, "DON_GIA"),
        (4, "MA_THUOC"),
        (5, "LIEU_TOI_DA_LAN"),
    }
    by_key = {(e.row, e.column): e for e in report.errors}
    assert by_key[(3, "TEN_HOAT_CHAT")].message_vi == "Thiếu giá trị bắt buộc"
    assert by_key[(3, "TEN_HOAT_CHAT")].message_en == "Required value is missing"
    assert "dòng 2" in by_key[(4, "MA_THUOC")].message_vi
    assert "row 2" in by_key[(4, "MA_THUOC")].message_en
    assert by_key[(3, "DON_GIA")].value == "abc"


def test_missing_column_unknown_column_and_bad_file() -> None:
    report = catalogue.import_services(b"MA_DICH_VU;TEN_DICH_VU;GHI_CHU\nK01;Kham Noi;x\n", "dv.csv")
    assert [(e.row, e.column) for e in report.errors] == [(1, "DON_GIA")]
    assert report.ignored_columns == ("GHI_CHU",)
    bad = catalogue.import_supplies(b"not a spreadsheet", "vattu.pdf")
    assert not bad.ok
    assert bad.errors[0].row == 0
    assert not catalogue.import_supplies(b"", "vattu.csv").ok
    broken = catalogue.import_supplies(b"PK\x03\x04broken", "vattu.xlsx")
    assert not broken.ok
    assert broken.errors[0].row == 0


def test_excel_import_with_numeric_cells() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["MA_VAT_TU", "TEN_VAT_TU", "DON_VI_TINH", "DON_GIA"])
    ws.append(["VT1", "Bơm tiêm 5ml", "cái", 1200])
    ws.append([None, None, None, None])
    ws.append(["VT2", "Kim luồn 22G", "cái", "9500.5"])
    ws.append(["VT3", "Găng tay", "", 3200.0])
    buf = io.BytesIO()
    wb.save(buf)
    report = catalogue.import_supplies(buf.getvalue(), "vattu.xlsx")
    assert [(e.row, e.column) for e in report.errors] == [(5, "DON_VI_TINH")]
    assert report.items == ()
    assert report.rows_read == 3
    ws.delete_rows(5)
    buf = io.BytesIO()
    wb.save(buf)
    fixed = catalogue.import_supplies(buf.getvalue(), "vattu.xlsx")
    assert fixed.ok
    assert [(s.ma_vat_tu, s.don_gia) for s in fixed.items] == [("VT1", Decimal("1200")), ("VT2", Decimal("9500.5"))]


def test_demo_catalogues_load_and_search() -> None:
    drugs = catalogue.demo_drugs()
    names = {d.ten_hoat_chat for d in drugs}
    assert {"Paracetamol", "Amoxicillin", "Ceftriaxon", "Omeprazol", "Metformin", "Amlodipin", "Natri clorid"} <= names
    assert all(d.ma_thuoc.startswith("DEMO.") and "(demo)" in d.ten_thuoc for d in drugs)
    assert drugs.search("natri clorid", 1)[0].ten_hoat_chat == "Natri clorid"
    tamsulosin = drugs.search("tamsulosin", 1)[0]
    assert tamsulosin.chong_chi_dinh_gioi == "female"
    services = catalogue.demo_services()
    appendectomy = services.lookup("03.4071.2039")
    assert appendectomy is not None
    assert appendectomy.ma_pttt_qt == "47.01"
    assert len(catalogue.demo_supplies()) > 0
