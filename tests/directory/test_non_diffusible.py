"""Non-diffusible units (statutDiffusion P, « [ND] » in the open data): never shown as
« [ND] », said « Informations non diffusibles », and usable for registration and sign-in."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select
from stdnum import luhn

from idp.directory.models import Company, Establishment
from idp.extensions import db
from tests.conftest import make_account, sign_in
from tests.directory.test_import import HEADER, row, run_import, write_csv
from tests.registration.conftest import details, post

SIREN = "90000000" + luhn.calc_check_digit("90000000")
SIRET = SIREN + "0001" + luhn.calc_check_digit(SIREN + "0001")
UNIT_HEADER = ["siren", "statutDiffusionUniteLegale", "denominationUniteLegale",
               "nomUniteLegale", "prenom1UniteLegale"]


@pytest.fixture
def hidden(directory, tmp_path):
    """A sole trader whose data INSEE withholds, imported as the open data gives it."""
    units = tmp_path / "unites.csv"
    with units.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([UNIT_HEADER, [SIREN, "P", "", "[ND]", "[ND]"]])
    places = write_csv(tmp_path / "etab.csv", [row(
        SIRET, name="[ND]", numeroVoieEtablissement="[ND]", libelleVoieEtablissement="[ND]",
        typeVoieEtablissement="", codePostalEtablissement="38000",
        libelleCommuneEtablissement="GRENOBLE", statutDiffusionEtablissement="P")],
        header=[*HEADER, "statutDiffusionEtablissement"])
    result = run_import(directory, places, "--unites-legales", units)
    assert result.exit_code == 0, result.output
    return directory


def test_nothing_withheld_is_stored(hidden):
    with hidden.app_context():
        company = db.session.get(Company, SIREN)
        place = db.session.get(Establishment, SIRET)
        assert (company.name, company.diffusible) == (None, False)
        assert (place.name, place.street_number, place.street_name, place.diffusible) == (
            None, None, None, False)
        assert place.address == "38000 GRENOBLE"
        assert place.display_name == "Informations non diffusibles"
        assert db.session.scalar(select(Establishment.diffusible).where(
            Establishment.siret == "52814432200013")) is True


def test_registration_shows_informations_non_diffusibles(hidden, client):
    assert details(client, siret=SIRET).headers["Location"] == "/inscription/conditions"
    assert post(client, "/inscription/conditions", decision="accept").status_code == 302
    page = client.get("/inscription/etablissement").get_data(as_text=True)
    assert "Informations non diffusibles" in page and "[ND]" not in page
    assert SIRET in page


def test_sign_in_and_the_account_page(hidden, client):
    make_account(hidden, siret=SIRET, last_name="Martin", first_name="Paul")
    assert sign_in(client, siret=SIRET, last_name="Martin", first_name="Paul").status_code == 302
    page = client.get("/compte").get_data(as_text=True)
    assert "Informations non diffusibles" in page and "[ND]" not in page
    english = client.get("/compte?lang=en").get_data(as_text=True)
    assert "Information not made public" in english and "[ND]" not in english
