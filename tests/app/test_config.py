import pytest

from survey_app import create_app
from survey_app.config import DEFAULT_SECRET_KEY, ConfigError, check_config, load_config


def test_refuses_production_with_default_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_config(load_config(str(tmp_path)))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": DEFAULT_SECRET_KEY})


def test_refuses_empty_secret(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError):
        create_app({"SECRET_KEY": ""})


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.sqlite3")


def test_embedded_default_is_sqlite_under_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x" + DEFAULT_SECRET_KEY})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "sqlite:///" + app.instance_path + "/survey.sqlite3"
    )


def test_installation_secret_file_is_used_when_env_is_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("abc123\n")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "abc123"
    assert load_config(str(tmp_path / "none"))["SECRET_KEY"] == DEFAULT_SECRET_KEY


def test_sqlite_keeps_a_write_ahead_log_with_durable_commits(app_ctx):
    """The embedded default survives a killed server with every acknowledged commit."""
    from sqlalchemy import text

    from survey_app.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL: durable by default")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5", "five percent", "nan"])
def test_refuses_an_integrity_rate_outside_zero_to_one(monkeypatch, tmp_path, value):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("INTEGRITY_FDR", value)
    with pytest.raises(ConfigError, match="INTEGRITY_FDR"):
        check_config(load_config(str(tmp_path)))


def test_takes_an_integrity_rate_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("INTEGRITY_FDR", "0.01")
    config = load_config(str(tmp_path))
    check_config(config)
    assert config["INTEGRITY_FDR"] == 0.01


@pytest.mark.parametrize("value", ["-1", "601", "three", "nan", "inf"])
def test_refuses_a_build_wait_outside_zero_to_600_seconds(monkeypatch, tmp_path, value):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("BUILD_WAIT_SECONDS", value)
    with pytest.raises(ConfigError, match="BUILD_WAIT_SECONDS"):
        check_config(load_config(str(tmp_path)))


def test_takes_a_build_wait_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("BUILD_WAIT_SECONDS", "0")
    config = load_config(str(tmp_path))
    check_config(config)
    assert config["BUILD_WAIT_SECONDS"] == 0.0
