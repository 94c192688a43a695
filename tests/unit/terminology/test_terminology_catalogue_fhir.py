"""A facility catalogue as CodeSystem + ValueSet and back, and the per-row import report the CLI prints."""

from __future__ import annotations

from decimal import Decimal

from benhan.cli_catalogue import report_lines
from benhan.fhir.model import validate_resource
from benhan.terminology import catalogue, catalogue_fhir
from benhan.terminology.facility_catalogues import CatalogueImport


def test_every_column_survives_the_round_trip() -> None:
    for kind, items in (("drug", catalogue.demo_drugs()), ("service", catalogue.demo_services()),
                        ("supply", catalogue.demo_supplies())):  # fmt: skip
        cs = catalogue_fhir.to_codesystem(kind, "bv-1", "Bệnh viện 1", list(items), "20260101-080000")  # type: ignore[arg-type]
        assert cs["id"] == f"{catalogue_fhir.catalogue_id(kind, 'bv-1')}"  # type: ignore[arg-type]
        assert validate_resource(cs) == []
        back = catalogue_fhir.items_of(kind, cs)  # type: ignore[arg-type]
        assert list(back) == list(items)
        vs = catalogue_fhir.to_valueset(cs)
        assert validate_resource(vs) == []
        assert vs["compose"]["include"] == [{"system": cs["url"], "version": "20260101-080000"}]


def test_drug_concept_carries_ingredient_as_designation_and_exact_prices() -> None:
    drug = catalogue.DrugItem("T1", "Paracetamol", "Panadol 500mg", "viên", "500mg", "1.01", Decimal("1234.5"),
                              lieu_toi_da_ngay=Decimal(4000), don_vi_lieu="mg",
                              chong_chi_dinh_gioi="female")  # fmt: skip
    cs = catalogue_fhir.to_codesystem("drug", "bv-1", "BV", [drug], "v1")
    [concept] = cs["concept"]
    assert concept["display"] == "Panadol 500mg"
    assert concept["designation"][0]["value"] == "Paracetamol"
    props = {p["code"]: p for p in concept["property"]}
    assert props["DON_GIA"] == {"code": "DON_GIA", "valueDecimal": 1234.5}
    assert props["LIEU_TOI_DA_NGAY"] == {"code": "LIEU_TOI_DA_NGAY", "valueDecimal": 4000}
    assert props["CHONG_CHI_DINH_GIOI"] == {"code": "CHONG_CHI_DINH_GIOI", "valueCode": "female"}
    assert catalogue_fhir.drugs_of(cs).lookup("T1") == drug
    assert catalogue_fhir.is_catalogue_system(cs["url"], "drug")
    assert not catalogue_fhir.is_catalogue_system(cs["url"], "service")


def test_report_names_row_column_value_in_both_languages() -> None:
    data = "MA_THUOC,TEN_HOAT_CHAT,TEN_THUOC,DON_VI_TINH,HAM_LUONG,DUONG_DUNG,DON_GIA\n" \
           "T1,Paracetamol,Panadol,viên,500mg,1.01,12,5\n" \
           "T2,Amoxicillin,,viên,500mg,1.01,900\n"  # fmt: skip
    report = catalogue.import_drugs(data.encode(), "thuoc.csv")
    lines = report_lines(CatalogueImport("drug", "bv-1", "thuoc.csv", report, stored=False))
    assert lines[0] == "thuoc.csv: 2 dòng/rows, 1 lỗi/errors"
    assert lines[1].startswith("  dòng/row 3, TEN_THUOC: Thiếu giá trị bắt buộc / Required value is missing")
    assert report.items == ()
