"""Production mode: refuses insecure secrets, and `check --deploy` is clean."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "AUDIT_SIGNING_KEY", "AUDIT_SIGNING_KEY_FILE"}}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", PAAS_ENV="production", ALLOWED_HOSTS="paas.example.com")
    assert result.returncode != 0
    assert "needs a real SECRET_KEY" in result.stderr


def test_production_refuses_the_development_key_and_debug():
    from django.conf import settings

    weak = _manage("check", PAAS_ENV="production", ALLOWED_HOSTS="x.example", SECRET_KEY="short")
    assert weak.returncode != 0
    dev_key = _manage("check", PAAS_ENV="production", ALLOWED_HOSTS="x.example",
                      SECRET_KEY=settings.SECRET_KEY if not settings.PRODUCTION else "x")
    assert dev_key.returncode != 0
    debug = _manage("check", PAAS_ENV="production", ALLOWED_HOSTS="x.example",
                    SECRET_KEY=secrets.token_urlsafe(60), DEBUG="1")
    assert debug.returncode != 0 and "DEBUG must be off" in debug.stderr


def test_production_refuses_to_start_without_an_audit_signing_key(tmp_path):
    base = {"PAAS_ENV": "production", "ALLOWED_HOSTS": "x.example", "SECRET_KEY": secrets.token_urlsafe(60)}
    for extra in ({}, {"AUDIT_SIGNING_KEY_FILE": str(tmp_path / "absent.key")}):
        result = _manage("check", **base, **extra)
        assert result.returncode != 0
        assert "needs an audit signing key" in result.stderr
    assert not (tmp_path / "absent.key").exists()  # production never generates one
    key_file = tmp_path / "audit.key"
    key_file.write_text("hmac-sha256:" + secrets.token_urlsafe(40))
    assert _manage("check", **base, AUDIT_SIGNING_KEY_FILE=str(key_file)).returncode == 0


def test_check_deploy_is_clean_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", PAAS_ENV="production",
                     SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="paas.example.com",
                     AUDIT_SIGNING_KEY="hmac-sha256:" + secrets.token_urlsafe(40))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
