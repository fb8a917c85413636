"""French first, English through Flask-Babel; the catalogue is complete and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "idp" / "translations" / "en" / "LC_MESSAGES"


def test_pages_are_french_by_default(client):
    html = client.get("/connexion").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "<h1>Vous connecter</h1>" in html


def test_english_on_request_and_remembered(client):
    html = client.get("/connexion?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html
    assert ">Forgotten password?<" in html
    assert 'placeholder="Enter your SIRET number: 14 digits"' in html
    # The choice sticks (cookie) on the next page without ?lang=.
    assert "<h1>Sign in</h1>" in client.get("/connexion").get_data(as_text=True)
    assert "<h1>Vous connecter</h1>" in client.get("/connexion?lang=fr").get_data(as_text=True)


def test_french_stays_the_default_whatever_the_browser_says(client):
    html = client.get("/connexion", headers={"Accept-Language": "en-GB,en;q=0.8"}) \
        .get_data(as_text=True)
    assert "<h1>Vous connecter</h1>" in html


def test_language_switch_keeps_the_page_and_its_query(client):
    html = client.get("/connexion?next=/compte").get_data(as_text=True)
    assert 'href="/connexion?next=%2Fcompte&amp;lang=en"' in html


def test_error_messages_are_translated(client, account):
    page = client.get("/connexion?lang=en").get_data(as_text=True)
    from tests.conftest import csrf_token

    response = client.post("/connexion", data={"csrf_token": csrf_token(page), "siret": "123",
                                               "last_name": "", "first_name": "x",
                                               "password": "y"})
    html = response.get_data(as_text=True)
    assert "The SIRET number must have 14 digits." in html
    assert "This field is required" in html


def as_tuple(value) -> tuple:
    """A catalogue id or string as a tuple: one item, or a plural's forms."""
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def test_catalogue_is_complete_and_up_to_date(tmp_path):
    template = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k",
        "lazy_gettext", "--no-location", "--omit-header", "-o", str(template), str(ROOT)])
    with template.open("rb") as stream:
        source_ids = {m.id for m in read_po(stream) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as stream:
        po = {m.id: m.string for m in read_po(stream) if m.id}
    assert source_ids - set(po) == set(), "run scripts/translations and translate"
    assert [msgid for msgid, text in po.items() if not all(as_tuple(text))] == []
    with (CATALOGUE / "messages.mo").open("rb") as stream:
        # read_mo gives a plural entry's id and forms as lists, read_po as tuples.
        mo = {as_tuple(m.id): as_tuple(m.string) for m in read_mo(stream) if m.id}
    po = {as_tuple(msgid): as_tuple(text) for msgid, text in po.items()}
    assert mo == po, "messages.mo is stale: run scripts/translations"
