from __future__ import annotations

import pytest
from pydantic import ValidationError

from benhan.settings import DEFAULT_PSEUDONYM_KEY, DEFAULT_SECRET, Settings

KEY = "p" * 40


def test_production_refuses_default_secret() -> None:
    with pytest.raises(ValidationError, match="BENHAN_SECRET_KEY"):
        Settings(mode="production", secret_key=DEFAULT_SECRET)


def test_production_refuses_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(mode="production", secret_key="short")


def test_demo_allows_default_secret_and_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENHAN_MODE", "demo")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("BENHAN_PORT", "9000")
    s = Settings()
    assert s.secret_key == DEFAULT_SECRET
    assert s.database_url == "postgresql://u@h/db"
    assert s.port == 9000
    assert s.effective_log_format == "console"


def test_settings_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    f = Path(str(tmp_path)) / "benhan.env"
    f.write_text("BENHAN_SECRET_KEY=" + "k" * 40 + "\nBENHAN_PSEUDONYM_KEY=" + KEY
                 + "\nBENHAN_WORKERS=3\nBENHAN_LOG_FORMAT=json\n")
    s = Settings(_env_file=f)  # type: ignore[call-arg]
    assert s.workers == 3
    assert s.effective_log_format == "json"


def test_head_revision_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from benhan import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config("unused"))
    assert migrate.head_revision() == script.get_current_head()


def test_audit_cannot_be_switched_off_in_production() -> None:
    with pytest.raises(ValidationError, match="benchmarks only"):
        Settings(mode="production", secret_key="k" * 40, pseudonym_key=KEY, audit_enabled=False)
    assert Settings(mode="test", audit_enabled=False).audit_enabled is False


def test_production_refuses_default_pseudonym_key() -> None:
    with pytest.raises(ValidationError, match="BENHAN_PSEUDONYM_KEY"):
        Settings(mode="production", secret_key="k" * 40, pseudonym_key=DEFAULT_PSEUDONYM_KEY)
    with pytest.raises(ValidationError, match="BENHAN_PSEUDONYM_KEY"):
        Settings(mode="production", secret_key="k" * 40, pseudonym_key="short")
    assert Settings(mode="production", secret_key="k" * 40, pseudonym_key=KEY).pseudonym_key == KEY
