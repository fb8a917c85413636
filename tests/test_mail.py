"""Without SMTP settings, the delivery worker writes e-mails as .eml files in the outbox, and
the log says where."""

from __future__ import annotations

import email
import logging
from email.policy import default as default_policy

import pytest

from tests.conftest import PASSWORD, csrf_token, run_deliveries
from tests.conftest import sign_in as fill_login


@pytest.fixture
def outbox_settings(settings, tmp_path):
    settings.update(SMTP_HOST=None, OUTBOX_DIR=str(tmp_path / "outbox"))
    return settings


def test_embedded_default_writes_eml_files(outbox_settings, app, account, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="idp.mail")
    client = app.test_client()
    fill_login(client)
    token = csrf_token(client.get("/compte/securite").get_data(as_text=True))
    client.post("/compte/securite/mot-de-passe", data={
        "pw-csrf_token": token, "pw-current_password": PASSWORD,
        "pw-new_password": "Nouveau2027x", "pw-confirm_password": "Nouveau2027x"})
    assert list((tmp_path / "outbox").glob("*.eml")) == []  # queued, not sent in the request
    assert run_deliveries(app).sent == 1
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message["To"] == "sophie@example.fr"
    assert message["Subject"] == "Modification de votre compte net-entreprises.fr"
    assert "nouveau mot de passe" in message.get_body(("plain",)).get_content()
    assert message.get_body(("html",)) is not None
    assert str(path) in caplog.text
    assert "Nouveau2027x" not in caplog.text
