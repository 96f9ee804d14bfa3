"""The typed settings: read from EHQA_* variables, bounded, unknown names refused, documented."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ehqa import settings as settings_module
from ehqa.settings import Settings, SettingsError, load, markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("EHQA_") and not name.startswith(("EHQA_TEST_", "EHQA_BENCH_")):
            monkeypatch.delenv(name)


def test_defaults_without_any_variable() -> None:
    found = load()
    assert found.database_url == "ehqa.db"
    assert found.default_policy == "st-helens"
    assert found.today is None and found.sweep_interval == 300 and found.background


def test_variables_are_read_and_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EHQA_DATABASE_URL", "postgresql://x@127.0.0.1/db")
    monkeypatch.setenv("EHQA_TODAY", "2026-03-02")
    monkeypatch.setenv("EHQA_SWEEP_INTERVAL", "60")
    monkeypatch.setenv("EHQA_BACKGROUND", "0")
    monkeypatch.setenv("EHQA_POLICY_DIR", str(tmp_path))
    found = load()
    assert found.database_url == "postgresql://x@127.0.0.1/db"
    assert found.today == date(2026, 3, 2)
    assert found.sweep_interval == 60.0 and found.background is False
    assert found.policy_dir == tmp_path


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHQA_DATABASE_URL", "from-env.db")
    assert load(database_url="from-option.db").database_url == "from-option.db"
    assert load(database_url=None).database_url == "from-env.db"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("EHQA_TODAY", "yesterday", "EHQA_TODAY"),
        ("EHQA_SWEEP_INTERVAL", "0", "EHQA_SWEEP_INTERVAL"),
        ("EHQA_SWEEP_INTERVAL", "nan", "EHQA_SWEEP_INTERVAL"),
        ("EHQA_LOG_FORMAT", "xml", "EHQA_LOG_FORMAT"),
        ("EHQA_DATABASE_URL", "", "EHQA_DATABASE_URL"),
        ("EHQA_DATABSE_URL", "typo.db", "EHQA_DATABSE_URL"),
        ("EHQA_OIDC_ISSUER", "https://login.example", "EHQA_OIDC_AUDIENCE"),
        ("EHQA_OIDC_AUDIENCE", "ehqa", "EHQA_OIDC_ISSUER"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load()


def test_oidc_needs_exactly_one_key_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EHQA_OIDC_ISSUER", "https://login.example")
    monkeypatch.setenv("EHQA_OIDC_AUDIENCE", "ehqa")
    with pytest.raises(SettingsError, match="EHQA_OIDC_JWKS_FILE"):
        load()
    monkeypatch.setenv("EHQA_OIDC_JWKS_FILE", str(tmp_path / "jwks.json"))
    assert load().oidc_jwks_file == tmp_path / "jwks.json"
    monkeypatch.setenv("EHQA_OIDC_JWKS_URL", "https://login.example/keys")
    with pytest.raises(SettingsError, match="exactly one"):
        load()


def test_the_clock_takes_today_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from ehqa.clock import from_environment

    monkeypatch.setenv("EHQA_TODAY", "2025-12-31")
    assert from_environment()() == date(2025, 12, 31)
    monkeypatch.setenv("EHQA_TODAY", "31/12/2025")
    with pytest.raises(SettingsError, match="EHQA_TODAY"):
        from_environment()


def test_settings_are_frozen() -> None:
    with pytest.raises(Exception, match="frozen"):
        Settings().database_url = "other.db"  # type: ignore[misc]


def test_docs_list_every_setting_and_are_current() -> None:
    written = (ROOT / "docs" / "settings.md").read_text()
    assert written == markdown(), "regenerate: python -m ehqa.settings > docs/settings.md"
    for name in Settings.model_fields:
        assert f"`EHQA_{name.upper()}`" in written
    assert settings_module.get_settings() is settings_module.get_settings()
