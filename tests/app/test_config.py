import pytest

from survey_app import create_app
from survey_app.config import DEFAULT_SECRET_KEY, ConfigError


def test_refuses_production_with_default_secret(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


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
