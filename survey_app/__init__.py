"""The survey platform's Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from survey_app.config import check_config, load_config
from survey_app.transactions import SurveyFlask

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app: settings from defaults, environment, then ``config``; no I/O here."""
    app = SurveyFlask(
        __name__,
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
        instance_relative_config=True,
    )
    app.config.from_mapping(load_config(app.instance_path, config))
    check_config(app.config)

    from survey_app.numpy_memory import advise_no_huge_pages

    advise_no_huge_pages()

    from survey_app.untrusted import BoundedJSONProvider

    app.json = BoundedJSONProvider(app)

    from survey_app import (
        cli,
        cookie_session,
        errors,
        i18n,
        log_redaction,
        security,
        transactions,
        untrusted,
    )
    from survey_app.database import configure_engine
    from survey_app.extensions import csrf, db, migrate
    from survey_app.rate_limits import rate_limits
    from survey_app.respond.views import bp as respond_bp

    cookie_session.init_app(app)
    db.init_app(app)
    transactions.init_app(app)
    with app.app_context():
        configure_engine(db.engine)  # event listeners only; no connection is opened
    migrate.init_app(
        app, db, directory=os.path.join(PROJECT_ROOT, "migrations"), render_as_batch=True
    )
    untrusted.init_app(app)  # before CSRFProtect: an upload's limit is raised first
    csrf.init_app(app)
    rate_limits.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(respond_bp)
    from survey_app.admin.views import bp as admin_bp
    from survey_app.auth import views as auth_views
    from survey_app.contact.views import bp as contact_bp
    from survey_app.plan.views import bp as plan_bp
    from survey_app.results.views import bp as results_bp

    auth_views.init_app(app)
    app.register_blueprint(plan_bp)
    app.register_blueprint(results_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(contact_bp)  # a school contact's counts: signed link, no login
    from survey_app.verify.views import bp as verify_bp

    app.register_blueprint(verify_bp)  # a report's public check: /verify/<id>, no login
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Without this, every respondent behind the proxy shares one rate-limit bucket.
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    cli.init_app(app)
    log_redaction.install("werkzeug")  # the dev server's access log
    return app
