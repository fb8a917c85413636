"""The hostile-input walk: every route of the URL map (so a new route is covered without
being named here), anonymous and signed in, with hostile values in its path, its query, its
form, as JSON, as files and in the Authorization header. No answer may be a 5xx."""

from __future__ import annotations

import base64
import io
import re

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.conftest import csrf_token, sign_in

HOSTILE = [
    "\x00", "Le\x00fèvre", "１２３４５６", "١٢٣٤٥٦", "¹²³⁴⁵⁶", "²", "-1", "0",
    "99999999999999999999", "1e309", "A" * 5000, "https://evil.example/\t", "//evil.example",
    "\\\\evil.example", "<script>alert(1)</script>", "' OR '1'='1", "../../../etc/passwd",
    "%00", "\u202e", "\ufeff", "[]", "{}", "null", "a b\r\nX-Injected: 1",
]
# Names a form or a protocol request may carry; the names of the fields on the pages visited
# are added to these, so a new form is walked too.
KNOWN_NAMES = {
    "next", "siret", "lang", "prompt", "max_age", "client_id", "redirect_uri", "scope",
    "response_type", "response_mode", "state", "nonce", "code_challenge",
    "code_challenge_method", "login_hint", "acr_values", "id_token_hint",
    "post_logout_redirect_uri", "page", "per_page", "token", "token_type_hint", "grant_type",
    "code", "refresh_token", "code_verifier", "client_secret", "client_assertion",
    "client_assertion_type", "cible", "vers", "profile", "services", "habilitation",
    "decision", "key", "last_name", "first_name", "password", "email", "answer",
    "new_password", "confirm_password", "_login", "logout_hint", "ui_locales",
}
# One field at a time gets these while the others are plausible, so checks deeper than the
# first field's are reached too.
FOCUSED = ["\x00", "１２３４５６", "²", "99999999999999999999", "A" * 5000,
           "https://evil.example/\t"]
PLAUSIBLE = {
    "siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
    "password": "Camions2026", "email": "sophie@example.fr", "code": "123456",
    "client_id": "demo-portail-dsn", "redirect_uri": "http://127.0.0.1:5001/callback",
    "response_type": "code", "scope": "openid profile siret habilitations", "state": "s",
    "nonce": "n", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256", "grant_type": "client_credentials",
    "client_secret": "demo-secret-portail-dsn-2026", "new_password": "Nouveau2030",
    "confirm_password": "Nouveau2030", "answer": "Gratin dauphinois", "page": "1",
}
PROTOCOL_NAMES = {"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                  "code_challenge", "code_challenge_method", "grant_type", "client_secret",
                  "code", "refresh_token", "token", "token_type_hint", "id_token_hint",
                  "post_logout_redirect_uri", "max_age", "prompt", "response_mode", "page",
                  "per_page", "code_verifier", "login_hint", "acr_values"}
AUTHORIZATIONS = [
    b"Basic " + base64.b64encode(b"\xff\xfe:\xff"), b"Basic ###", "Basic é".encode("latin-1"),
    b"Basic " + base64.b64encode(b"demo-portail-dsn\x00:x"), b"Bearer \xff", b"Bearer a.b.c",
]
SKIPPED = {"HEAD", "OPTIONS"}
# What reaches an XML endpoint (/authentifier/1.0/): entities, external references, depth,
# bytes that are not UTF-8, a NUL in a value.
XML_BODIES = [
    b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><identifiants>&e;</identifiants>',
    b'<!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><identifiants>&b;'
    b'</identifiants>',
    b"<identifiants>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</identifiants>",
    b"<identifiants><siret>\xff\xfe</siret></identifiants>",
    b"<identifiants><siret>52814432200013</siret><nom>\x00</nom></identifiants>",
    b'<?xml version="1.0" encoding="ebcdic"?><identifiants/>',
    b"<identifiants><siret>52814432200013</siret><nom>A</nom><prenom>B</prenom>"
    b"<motdepasse>\xc3\xa9" + b"x" * 1000 + b"</motdepasse><service>DSN\x7f</service>"
    b"</identifiants>",
]


def routes(app) -> list[tuple[str, str, list[str]]]:
    """(method, rule, paths with hostile arguments) for every route of the app."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        variants: list[dict] = [{}]
        for name, converter in rule._converters.items():
            if isinstance(converter, AnyConverter):
                choices = sorted(converter.items)
            elif isinstance(converter, IntegerConverter):
                choices = [0, 2**64 + 1, 10**20]
            else:
                choices = HOSTILE
            variants = [{**variant, name: choice} for variant in variants for choice in choices]
        paths = sorted({rule.build(variant, append_unknown=False)[1] for variant in variants})
        found += [(method, rule.rule, paths) for method in sorted(rule.methods - SKIPPED)]
    return found


class Walk:
    """Sends the requests and keeps every 5xx (or exception) with what caused it."""

    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []
        self.names = set(KNOWN_NAMES)
        self.page_names: dict[str, set[str]] = {}  # the fields of each page visited
        self.sent = 0

    def send(self, method: str, path: str, what: str, **kwargs) -> None:
        self.sent += 1
        try:
            response = self.client.open(path, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 (TESTING propagates: that is a 500)
            self.failures.append(f"{method} {path} [{what}]: {type(exc).__name__}: {exc}"[:300])
            return
        if response.status_code >= 500:
            self.failures.append(f"{method} {path} [{what}]: {response.status_code}")
        elif method == "GET" and response.mimetype == "text/html":
            names = set(re.findall(r'name="([\w-]+)"', response.get_data(as_text=True)))
            self.names |= names
            self.page_names.setdefault(path, set()).update(names)


def walk(client, app) -> Walk:
    run = Walk(client)
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    everything = routes(app)
    # GETs first: the pages visited tell the field names the POSTs then fill.
    everything.sort(key=lambda item: (item[0] != "GET", item[1] in ("/deconnexion",
                                                                       "/oidc/logout")))
    for method, _rule, paths in everything:
        for path in paths:
            run.send(method, path, "as is", headers=headers)
        path = paths[0]
        for value in HOSTILE:
            fields = {name: value for name in sorted(run.names) if not name.endswith("csrf_token")}
            fields |= {name: token for name in run.names if name.endswith("csrf_token")}
            fields["csrf_token"] = token
            if method == "GET":
                run.send(method, path, f"query {value[:20]!r}", query_string=fields,
                         headers=headers)
            else:
                run.send(method, path, f"form {value[:20]!r}", data=fields, headers=headers,
                         query_string={"next": value, "client_id": value})
        # One field at a time, the others plausible (a page's own fields, or the protocol's).
        own = run.page_names.get(path, set()) | (
            PROTOCOL_NAMES if path.startswith(("/oidc", "/api")) else set())
        own = {name for name in own if not name.endswith("csrf_token")}
        for name in sorted(own):
            for value in FOCUSED:
                fields = {other: PLAUSIBLE.get(other.rpartition("-")[2], "1") for other in own}
                fields |= {name: value, "csrf_token": token}
                fields |= {other: token for other in run.page_names.get(path, ())
                           if other.endswith("csrf_token")}
                where = {"query_string": fields} if method == "GET" else {"data": fields}
                run.send(method, path, f"{name}={value[:20]!r}", headers=headers, **where)
        if method != "GET":
            for body in ("[1, 2]", "null", '"x"', "[" * 5000 + "]" * 5000, "{\"a\": "):
                run.send(method, path, f"json {body[:10]!r}", data=body,
                         content_type="application/json", headers=headers)
            for body in XML_BODIES:
                run.send(method, path, f"xml {body[:20]!r}", data=body,
                         content_type="application/xml", headers=headers)
            run.send(method, path, "bytes", data=b"\xff\xfe\x00\x80=\xff",
                     content_type="application/x-www-form-urlencoded", headers=headers)
            files = {name: (io.BytesIO(b"\x00\xff fichier"), "f.txt")
                     for name in sorted(run.names) if not name.endswith("csrf_token")}
            run.send(method, path, "files", data={**files, "csrf_token": token},
                     content_type="multipart/form-data", headers=headers)
        for authorization in AUTHORIZATIONS:
            run.send(method, path, f"authorization {authorization[:12]!r}",
                     headers={**headers, "Authorization": authorization})
    return run


def report(run: Walk) -> str:
    return f"{len(run.failures)} of {run.sent} requests answered 5xx:\n" + "\n".join(
        run.failures[:40])


def test_no_5xx_anonymous(demo):
    run = walk(demo.test_client(), demo)
    assert run.sent > 1000
    assert not run.failures, report(run)


def test_no_5xx_signed_in(demo):
    client = demo.test_client()
    assert sign_in(client).status_code == 302
    run = walk(client, demo)
    assert not run.failures, report(run)


@pytest.mark.parametrize("cookie", ["\x00", "A" * 5000, "é", "../x"])
def test_no_5xx_with_a_hostile_session_cookie(demo, cookie):
    client = demo.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/compte").status_code < 500
