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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *(("INTEGRITY_FDR", v) for v in ("0", "1", "-0.1", "1.5", "five percent", "nan")),
        *(("BUILD_WAIT_SECONDS", v) for v in ("-1", "601", "three", "nan", "inf")),
    ],
)
def test_refuses_a_number_setting_out_of_its_range(monkeypatch, tmp_path, name, value):
    """The integrity rate is between 0 and 1, the build wait 0 to 600 seconds."""
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        check_config(load_config(str(tmp_path)))


@pytest.mark.parametrize(
    ("name", "value", "taken"), [("INTEGRITY_FDR", "0.01", 0.01), ("BUILD_WAIT_SECONDS", "0", 0.0)]
)
def test_takes_a_number_setting_from_the_environment(monkeypatch, tmp_path, name, value, taken):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv(name, value)
    config = load_config(str(tmp_path))
    check_config(config)
    assert config[name] == taken
