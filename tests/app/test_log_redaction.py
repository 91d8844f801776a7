import logging

from survey_app.log_redaction import RedactCodes, redact


def test_codes_are_masked_in_access_log_lines():
    line = '127.0.0.1 - - "GET /r/7KQ2M-9XWPD-H3RTA?lang=ug HTTP/1.1" 302 -'
    assert redact(line) == '127.0.0.1 - - "GET /r/<code>?lang=ug HTTP/1.1" 302 -'
    assert redact('"GET /start HTTP/1.1" 200') == '"GET /start HTTP/1.1" 200'


def test_school_contact_links_are_masked_too():
    line = '10.0.0.9 - - "GET /contact/WzEsMl0.abcDEF123 HTTP/1.1" 200 -'
    assert redact(line) == '10.0.0.9 - - "GET /contact/<token> HTTP/1.1" 200 -'


def test_filter_masks_arguments_as_werkzeug_logs_them():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - "%s" %s',
        ("1.2.3.4", "GET /r/ABCDE-FGHJK-MNPQR HTTP/1.1", "302"),
        None,
    )
    assert RedactCodes().filter(record)
    assert "ABCDE" not in record.getMessage()


def test_the_app_installs_the_filter(app):
    assert any(isinstance(f, RedactCodes) for f in logging.getLogger("werkzeug").filters)


def test_gunicorn_config_uses_the_filter():
    import runpy
    from pathlib import Path

    config = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    assert config["logconfig_dict"]["filters"]["redact_codes"]["()"] is RedactCodes
