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


def test_gunicorn_logs_requests_without_the_client_address(capsys):
    import runpy
    from datetime import timedelta
    from pathlib import Path
    from types import SimpleNamespace

    from gunicorn.config import Config

    from survey_app.access_log import AccessLogger

    settings = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    assert settings["logger_class"] == "survey_app.access_log.AccessLogger"
    config = Config()
    for name in ("accesslog", "logconfig_dict"):
        config.set(name, settings[name])
    logger = AccessLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/r/7KQ2M-9XWPD-H3RTA",
        "QUERY_STRING": "lang=ug",
        "RAW_URI": "/r/7KQ2M-9XWPD-H3RTA?lang=ug",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": "MicroMessenger",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="302 FOUND", sent=189, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(microseconds=1450))
    line = capsys.readouterr().out.strip()
    assert line.endswith("GET /r/<code> 302 189 1.4ms"), line
    for secret in ("7KQ2M", "203.0.113", "MicroMessenger", "lang=ug"):
        assert secret not in line
