"""Helpers to walk the registration journey as a person does, through HTTP."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from idp.demo import load_catalogue
from idp.extensions import db
from tests.conftest import csrf_token

PASSWORD = "Boulange2026"


@pytest.fixture(autouse=True)
def catalogue(directory):
    """The sample directory and the service catalogue (DSN, DUCS, ATMP…)."""
    with directory.app_context():
        load_catalogue(db.session)
        db.session.commit()
    return directory
BOULANGERIE = "81234567600017"


def post(client, path, **data):
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def details(client, siret=BOULANGERIE, last_name="Martin", first_name="Paul",
            email="paul.martin@boulangerie.example", **overrides):
    fields = {"siret": siret, "last_name": last_name, "first_name": first_name,
              "phone": "04 72 00 00 01", "mobile": "", "email": email, "confirm_email": email}
    fields.update(overrides)
    return post(client, "/inscription", **fields)


def walk(client, services=("DSN",), profile="entreprise", **identity):
    """Every step with valid answers; return the last response (the summary page)."""
    assert details(client, **identity).headers["Location"] == "/inscription/conditions"
    assert post(client, "/inscription/conditions", decision="accept").status_code == 302
    assert post(client, "/inscription/etablissement").status_code == 302
    response = post(client, "/inscription/mot-de-passe", new_password=PASSWORD,
                    confirm_password=PASSWORD,
                    secret_question="Quel est votre plat préféré ?",
                    secret_answer="Quenelles")
    assert response.headers["Location"] == "/inscription/recapitulatif", response.data
    assert post(client, "/inscription/recapitulatif").status_code == 302
    token = csrf_token(client.get("/inscription/services").get_data(as_text=True))
    response = client.post("/inscription/services", data={
        "csrf_token": token, "profile": profile, "services": list(services)})
    assert response.headers["Location"] == "/inscription/habilitations"
    page = client.get("/inscription/habilitations").get_data(as_text=True)
    boxes = re.findall(r'name="habilitation"[^>]*value="([^"]+)"', page)
    response = client.post("/inscription/habilitations", data={
        "csrf_token": csrf_token(page), "habilitation": boxes})
    assert response.headers["Location"] == "/inscription/compte-rendu"
    return client.get("/inscription/compte-rendu")


def letter_text(path: Path) -> str:
    """The text of a PDF letter written by fpdf2 (its content streams, inflated)."""
    raw = path.read_bytes()
    text = ""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S):
        try:
            text += zlib.decompress(stream).decode("latin-1")
        except zlib.error:
            continue
    return text
