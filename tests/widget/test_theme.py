"""A partner's theme: values from an allow-list, registered with ``flask widget theme``; the
page's ``theme`` option changes only the keys the partner allowed; never raw CSS."""

from __future__ import annotations

import json

import pytest

from idp.widget.theme import InvalidTheme, check_registered, resolve
from tests.widget.conftest import Widget, policy

THEME = {"primaryColor": "#1F4E79", "logoUrl": "https://compte-atmp.example/logo.svg",
         "title": "Connexion à Compte AT/MP", "pageMaySet": ["title", "primaryColor"]}


def set_theme(app, client_id, theme, tmp_path):
    path = tmp_path / "theme.json"
    path.write_text(json.dumps(theme), encoding="utf-8")
    return app.test_cli_runner().invoke(args=["widget", "theme", client_id, str(path)])


@pytest.fixture
def themed(demo, widget_partner, tmp_path):
    result = set_theme(demo, widget_partner.client_id, THEME, tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["primaryColor"] == "#1f4e79"
    return widget_partner


def style_nonce(response) -> str:
    return policy(response)["style-src"].split("'nonce-")[1].rstrip("'")


def test_the_registered_theme_is_shown(issuer, themed, http):
    page = Widget(issuer, themed, http).open()
    nonce = style_nonce(page)
    assert f'<style nonce="{nonce}">:root {{ --blue: #1f4e79; }}</style>' in page.text
    assert '<img class="widget-logo" src="https://compte-atmp.example/logo.svg"' in page.text
    assert "<h1>Connexion à Compte AT/MP</h1>" in page.text
    assert policy(page)["img-src"] == "'self' https://compte-atmp.example"


def test_the_page_changes_only_what_the_partner_allowed(issuer, themed, http):
    option = {"title": "Espace <b>employeur</b>", "primaryColor": "#000000",
              "logoUrl": "https://evil.example/logo.svg"}
    page = Widget(issuer, themed, http, theme=json.dumps(option)).open()
    assert "<h1>Espace &lt;b&gt;employeur&lt;/b&gt;</h1>" in page.text
    assert "--blue: #000000;" in page.text
    assert 'src="https://evil.example' not in page.text  # logoUrl is not in pageMaySet
    assert "evil.example" not in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("option", [
    {"primaryColor": "red; } body { display: none"},
    {"primaryColor": "#ffff00"},  # white on yellow is unreadable
    {"title": "x" * 61},
    {"title": "a\u0007b"},
    {"title": 12},
    "not json", "[1]", "{" * 5000,
])
def test_bad_option_values_are_ignored(issuer, themed, http, option):
    raw = option if isinstance(option, str) else json.dumps(option)
    page = Widget(issuer, themed, http, theme=raw).open()
    if '"\\u0007' in raw:  # a control character is a malformed request
        assert page.status_code == 400
        return
    assert page.status_code in (200, 400)
    if page.status_code == 200:
        assert "--blue: #1f4e79;" in page.text
        assert "<h1>Connexion à Compte AT/MP</h1>" in page.text


def test_without_a_theme_the_idp_look(issuer, widget_partner, http):
    page = Widget(issuer, widget_partner, http,
                  theme=json.dumps({"title": "Ignoré", "primaryColor": "#000000"})).open()
    assert "<style" not in page.text and "<h1>Vous connecter</h1>" in page.text
    assert policy(page)["img-src"] == "'self'"


@pytest.mark.parametrize(("theme", "problem"), [
    ({"primaryColor": "#fff"}, "primaryColor"),
    ({"primaryColor": "#ffff00"}, "primaryColor"),
    ({"logoUrl": "http://compte-atmp.example/logo.svg"}, "logoUrl"),
    ({"logoUrl": "javascript:alert(1)"}, "logoUrl"),
    ({"title": ""}, "title"),
    ({"css": "body{}"}, "clés inconnues"),
    ({"pageMaySet": ["css"]}, "pageMaySet"),
    ({"pageMaySet": [{}]}, "pageMaySet"),
    ([], "objet JSON"),
])
def test_the_command_refuses_a_bad_theme(demo, widget_partner, tmp_path, theme, problem):
    result = set_theme(demo, widget_partner.client_id, theme, tmp_path)
    assert result.exit_code != 0 and problem in result.output


def test_the_command_needs_a_partner(demo, tmp_path):
    result = set_theme(demo, "inconnu", {}, tmp_path)
    assert result.exit_code != 0 and "aucun site partenaire inconnu" in result.output


def test_an_empty_theme_clears_it(issuer, demo, themed, http, tmp_path):
    assert set_theme(demo, themed.client_id, {}, tmp_path).exit_code == 0
    assert "<h1>Vous connecter</h1>" in Widget(issuer, themed, http).open().text


def test_the_rules():
    assert check_registered({"primaryColor": "#003189"}) == {"primaryColor": "#003189"}
    assert check_registered({"logoUrl": "http://127.0.0.1:5002/logo.png"})
    with pytest.raises(InvalidTheme):
        check_registered({"logoUrl": "https://a b/"})
    assert resolve({"title": "x" * 61}, None).title is None  # stored by hand: still checked
    assert resolve(None, '{"title": "t"}').title is None
