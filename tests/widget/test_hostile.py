"""Hostile values past the first checks: a real partner and origin, then each parameter and
each form field in turn (the suite's walk only reaches the widget's refusals, since no demo
partner has a widget origin). Never a 5xx."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from tests.test_hostile_inputs import FOCUSED, HOSTILE
from tests.widget.conftest import ORIGIN

VALUES = sorted(set(HOSTILE + FOCUSED + ["{" * 5000, '{"title": "' + "é" * 900 + '"}',
                                         '{"primaryColor": []}', "[" * 900]))


def params(partner, **changes):
    base = {"response_type": "code", "client_id": partner.client_id, "redirect_uri": ORIGIN,
            "scope": "openid profile", "state": "s1", "nonce": "n1",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256", "response_mode": "web_message"}
    return {**base, **changes}


def test_no_5xx_in_the_widget(demo, widget_partner):
    client = demo.test_client()
    failures = []
    names = [*params(widget_partner), "theme", "prompt", "max_age", "login_hint",
             "acr_values", "lang"]
    for name in names:
        for value in VALUES:
            url = "/widget/v1/connexion?" + urlencode(params(widget_partner, **{name: value}))
            for method in ("GET", "POST"):
                response = client.open(url, method=method, data={"transaction": "x"})
                if response.status_code >= 500:
                    failures.append(f"{method} {name}={value[:20]!r}")

    url = "/widget/v1/connexion?" + urlencode(params(widget_partner))
    fields = ["transaction", "siret", "last_name", "first_name", "password", "code"]
    for name in fields:
        for value in VALUES:
            page = client.get(url).get_data(as_text=True)
            token = re.search(r'name="transaction" type="hidden" value="([^"]*)"', page)
            form = {"transaction": token.group(1), "siret": "52814432200013",
                    "last_name": "Lefèvre", "first_name": "Sophie", "password": "x",
                    name: value}
            response = client.post(url, data=form)
            if response.status_code >= 500:
                failures.append(f"POST field {name}={value[:20]!r}")
        for body in ("[1, 2]", "null", "[" * 5000 + "]" * 5000):
            response = client.post(url, data=body, content_type="application/json")
            if response.status_code >= 500:
                failures.append(f"POST json {body[:10]!r}")
    assert not failures, failures[:20]
