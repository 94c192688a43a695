"""Administrative units (06/2024 list) and loading a newer list of the same shape."""

from __future__ import annotations

import pytest

from benhan.terminology import admin_units


def test_ca_mau_province_and_its_units() -> None:
    units = admin_units.default()
    assert units.version == "2024-06"
    ca_mau = units.province("96")
    assert ca_mau is not None
    assert ca_mau.name == "Tỉnh Cà Mau"
    districts = {d.code: d.name for d in units.districts_of("96")}
    assert districts["970"] == "Huyện Đầm Dơi"
    assert districts["964"] == "Thành phố Cà Mau"
    assert all(c.district == "970" and c.province == "96" for c in units.communes_of("970"))
    assert len(units.provinces()) == 63


def test_lookup_by_code_length_and_address() -> None:
    assert admin_units.lookup("96") == admin_units.default().province("96")
    district = admin_units.lookup("970")
    assert district is not None
    assert district.level == "district"
    commune = admin_units.lookup("32002")
    assert commune is not None
    assert commune.level == "commune"
    address = admin_units.default().address_of("32002")
    assert address is not None
    assert [u.code for u in address if u is not None] == ["32002", "964", "96"]
    assert admin_units.lookup("9") is None


def test_accent_insensitive_search() -> None:
    units = admin_units.default()
    assert units.search("ca mau", 5, level="province")[0].code == "96"
    names = [u.name for u in units.search("dam doi", 10)]
    assert "Huyện Đầm Dơi" in names
    assert all(u.level == "commune" for u in units.search("phuong 1", 5, level="commune"))


def test_newer_list_without_districts_is_accepted() -> None:
    newer = admin_units.from_json(
        {
            "version": "2025-07",
            "provinces": [["96", "Tỉnh Cà Mau"]],
            "communes": [["32002", "Phường An Xuyên", "Phường", "", "96"]],
        }
    )
    assert newer.version == "2025-07"
    assert [c.name for c in newer.communes_of("96")] == ["Phường An Xuyên"]
    address = newer.address_of("32002")
    assert address is not None
    assert address[1] is None
    assert address[2].code == "96"


def test_list_without_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        admin_units.from_json({"provinces": [], "communes": []})
