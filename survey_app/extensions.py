"""Flask extensions, created unbound and bound to an app in ``create_app``."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from survey_app.models.base import Base


def keyed_hash(text: str) -> str:
    """A keyed hash of ``text`` (an address, an e-mail), for counters that must not hold
    the text itself."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


T = TypeVar("T")
_made_lock = threading.Lock()


def made_once(app: Flask, name: str, make: Callable[[], T]) -> T:
    """``app.extensions[name]``, made by ``make`` on its first use in this process (a
    background worker's thread pool or queue: made lazily, so no connection is opened
    at import or in gunicorn's master, and once though requests ask at the same time)."""
    found: T | None = app.extensions.get(name)
    if found is None:
        with _made_lock:
            found = app.extensions.get(name)
            if found is None:
                found = make()
                app.extensions[name] = found
    return found


def client_fingerprint() -> str:
    """Rate-limit key: a keyed hash of the client address, so no raw IP is kept anywhere."""
    return keyed_hash(request.remote_addr or "unknown")


# A session lives for one request: objects need not be re-read after its one commit.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
