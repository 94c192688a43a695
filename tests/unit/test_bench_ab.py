"""bench/ab.py: the arms of an interleaved A/B and the order they are driven in."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.ab import AUDIT_OFF, _pg_kind, default_arms, parse_arm, rotation


def test_an_arm_is_a_name_and_its_settings() -> None:
    assert parse_arm("batch:BENHAN_AUDIT_READS=batch,X=a=b") == ("batch", {"BENHAN_AUDIT_READS": "batch", "X": "a=b"})
    assert parse_arm("wait:") == ("wait", {})
    assert parse_arm("cd:DATABASE_URL={url}&commit_delay=100") == ("cd", {"DATABASE_URL": "{url}&commit_delay=100"})


@pytest.mark.parametrize("text", ["wait", ":X=1", "a:X", "a:=1"])
def test_a_malformed_arm_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="arm"):
        parse_arm(text)


def test_the_default_arms_compare_each_tree_audited_with_itself_unaudited(tmp_path: Path) -> None:
    arms = default_arms(tmp_path)
    assert [(name, base) for name, _env, base in arms] == [
        ("A off", "A off"), ("A on", "A off"), ("B off", "B off"), ("B on", "B off")]
    assert arms[3][1] == {"PYTHONPATH": str(tmp_path / "src")}
    assert arms[2][1] == {"PYTHONPATH": str(tmp_path / "src"), **AUDIT_OFF}


def test_each_round_starts_one_arm_later() -> None:
    names = ["a", "b", "c"]
    assert [rotation(names, r) for r in range(4)] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"],
                                                      ["a", "b", "c"]]


@pytest.mark.parametrize(("title", "app", "kind"), [
    ("postgres: bench bench_1 127.0.0.1(5123) idle", "benhan-audit", "audit"),
    ("postgres: bench bench_1 127.0.0.1(5124) SELECT", "benhan", "requests"),
    ("postgres: 15/main: walwriter ", None, "walwriter"),
    ("postgres: autovacuum worker bench_1", None, "autovacuum"),
    ("postgres: checkpointer ", None, "checkpointer"),
    ("postgres: background writer ", None, "other"),
])
def test_postgres_processes_are_told_apart_by_title_and_application_name(title: str, app: str | None,
                                                                         kind: str) -> None:
    assert _pg_kind(title, app) == kind
