"""``flask idp client create|list|delete`` and the registry's storage of secrets."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import OAuthClient


def run(app, *args):
    return app.test_cli_runner().invoke(args=["idp", "client", *args])


def test_create_prints_the_client_once_with_its_secret(demo):
    result = run(demo, "create", "--name", "Portail", "--redirect-uri", "https://a.example/cb",
                 "--redirect-uri", "https://a.example/cb2", "--post-logout-redirect-uri",
                 "https://a.example/", "--backchannel-logout-uri", "https://a.example/bc",
                 "--service", "DSN", "--service", "ATMP", "--id-token-alg", "ES256")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["redirect_uris"] == ["https://a.example/cb", "https://a.example/cb2"]
    assert created["services"] == ["ATMP", "DSN"]
    assert created["id_token_signed_response_alg"] == "ES256"
    assert len(created["client_secret"]) >= 43
    with demo.app_context():
        row = db.session.scalar(select(OAuthClient).where(
            OAuthClient.client_id == created["client_id"]))
        # Only the SHA-256 is kept.
        assert row.client_secret_digest == hashlib.sha256(
            created["client_secret"].encode()).hexdigest()
    listed = json.loads(run(demo, "list").stdout)
    mine = next(c for c in listed if c["client_id"] == created["client_id"])
    assert "client_secret" not in mine


def test_public_client_has_no_secret(demo):
    created = json.loads(run(demo, "create", "--name", "Mobile", "--redirect-uri",
                             "https://m.example/cb", "--public").stdout)
    assert "client_secret" not in created
    assert created["token_endpoint_auth_method"] == "none"
    assert "client_credentials" not in created["grant_types"]


def test_unknown_service_is_refused(demo):
    result = run(demo, "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                 "--service", "NIMPORTE")
    assert result.exit_code != 0
    assert "service inconnu : NIMPORTE" in result.output


def test_private_key_jwt_needs_keys(demo):
    result = run(demo, "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                 "--auth-method", "private_key_jwt")
    assert result.exit_code != 0
    assert "private_key_jwt demande --jwks-file" in result.output


def test_delete(demo):
    created = json.loads(run(demo, "create", "--name", "Éphémère", "--redirect-uri",
                             "https://e.example/cb").stdout)
    assert run(demo, "delete", created["client_id"]).exit_code == 0
    assert created["client_id"] not in run(demo, "list").stdout
    missing = run(demo, "delete", created["client_id"])
    assert missing.exit_code != 0 and "aucun site partenaire" in missing.output
