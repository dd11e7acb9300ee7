"""The app factory: configuration from a dict or the environment, and the instance folder."""

import stat

from node import create_app


def test_factory_uses_the_given_config_and_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANCHLINE_BASE_URL", "https://from-env.example")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "x", "TESTING": True})
    assert app.testing
    assert app.config["BASE_URL"] == "http://127.0.0.1:5000"


def test_environment_configures_the_node(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANCHLINE_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("BRANCHLINE_BASE_URL", "https://branch.example")
    monkeypatch.setenv("BRANCHLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("BRANCHLINE_LOGIN_MAX_FAILURES_PER_ACCOUNT", "9")
    app = create_app()
    assert app.config["BASE_URL"] == "https://branch.example"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.db")
    assert app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] == 9
    assert app.config["SESSION_COOKIE_SECURE"] is True  # an https base URL means secure cookies
    assert app.instance_path == str(tmp_path / "inst")


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'inst'}/branchline.sqlite3"
    )


def test_generated_secret_key_is_owner_only_and_stable(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    second = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    secret = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "inst").stat().st_mode) == 0o700


def test_responses_carry_security_headers(client):
    response = client.get("/static/style.css")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
