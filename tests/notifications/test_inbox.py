"""Who sees a notice, by every path of the rules, and « Vos notifications » per person: the
badge, the list and its filters, consulting, archiving, deleting, the official document."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.habilitations.models import DeclarantLink
from idp.models_common import utcnow
from idp.notifications.inbox import VISIBLE_SECONDS
from tests.conftest import csrf_token, load_demo
from tests.notifications.conftest import (
    CLIENT,
    GRENOBLE,
    VILLEURBANNE,
    account_id,
    browser_of,
    notice,
    published,
    rate,
)


def titles(browser, query: str = "") -> list[str]:
    """The notices' titles on « Vos notifications », in the order shown."""
    page = browser.get(f"/compte/notifications{query}")
    assert page.status_code == 200
    return [html.unescape(t) for t in re.findall(
        r'<a href="/compte/notifications/\d+">([^<]*)</a>', page.get_data(as_text=True))]


def badge(browser) -> int:
    """The red badge of « Votre compte » (0 when not shown)."""
    found = re.search(r'<span class="badge"[^>]*>(\d+)</span>',
                      browser.get("/compte").get_data(as_text=True))
    return int(found.group(1)) if found else 0


def press(browser, notification_id: int, action: str):
    page = browser.get("/compte/notifications").get_data(as_text=True)
    return browser.post(f"/compte/notifications/{notification_id}/{action}",
                        data={"csrf_token": csrf_token(page)})


def test_every_path_sees_it_and_no_one_else(demo, issuer, token):
    grenoble = published(issuer, token, notice(GRENOBLE, title="Grenoble ATMP"))
    implied = published(issuer, token, notice(GRENOBLE, "PPREV", title="Grenoble PPREV"))
    client_rate = published(issuer, token, rate(CLIENT, title="Taux du client"))
    client_other = published(issuer, token, notice(CLIENT, title="Autre avis du client"))
    seen = {name: set(titles(browser_of(demo, name)))
            for name in ("Élodie", "Sophie", "Julie", "Marc", "Karim")}
    # Élodie: ATMP on her SIRET, and PPREV that ATMP implies.
    assert seen["Élodie"] == {"Grenoble ATMP", "Grenoble PPREV"}
    # Sophie: ATMP (and MCF, which implies PPREV) for the whole SIREN.
    assert seen["Sophie"] == {"Grenoble ATMP", "Grenoble PPREV"}
    # Julie: ATMP through the cabinet's portfolio (the DSN link is recent).
    assert seen["Julie"] == {"Taux du client", "Autre avis du client"}
    # Marc: no ATMP right, but the cabinet filed the client's latest DSN: the rate only.
    assert seen["Marc"] == {"Taux du client"}
    # Karim: DSN and DUCS in Villeurbanne: nothing here, not even by its address.
    assert seen["Karim"] == set()
    karim = browser_of(demo, "Karim")
    for notification_id in (grenoble, implied, client_rate, client_other, 10**30):
        assert karim.get(f"/compte/notifications/{notification_id}").status_code == 404
        assert press(karim, notification_id, "archiver").status_code == 302
    assert badge(browser_of(demo, "Élodie")) == 2


def test_a_right_given_later_shows_older_notices(demo, issuer, token, clock):
    notification_id = published(issuer, token, notice(VILLEURBANNE, title="Avant le droit"))
    karim = browser_of(demo, "Karim")
    assert titles(karim) == [] and badge(karim) == 0
    with demo.app_context():
        habilitation_service().grant(account_id(demo, "Karim"), "ATMP", siret=VILLEURBANNE,
                                     rights=["consulter"],
                                     effective_from=utcnow() - timedelta(minutes=1))
        db.session.commit()
    # Opening it asks the rules at once; the list and the badge follow within their lag.
    assert karim.get(f"/compte/notifications/{notification_id}").status_code == 200
    clock.advance(VISIBLE_SECONDS + 1)
    assert titles(karim, "?statut=lues") == ["Avant le droit"]


def test_a_new_notice_shows_at_once_in_the_kept_list(demo, issuer, token):
    elodie = browser_of(demo, "Élodie")
    published(issuer, token, notice(GRENOBLE, title="Premier"))
    assert badge(elodie) == 1
    published(issuer, token, notice(GRENOBLE, title="Second"))
    assert badge(elodie) == 2 and titles(elodie) == ["Second", "Premier"]


def test_a_firm_that_no_longer_files_the_dsn_no_longer_sees_the_rate(demo, issuer, token,
                                                                     clock):
    notification_id = published(issuer, token, rate(CLIENT, title="Taux du client"))
    marc = browser_of(demo, "Marc")
    assert titles(marc) == ["Taux du client"]
    with demo.app_context():  # another firm filed the client's latest DSN
        db.session.add(DeclarantLink(declarant_siret=GRENOBLE, declared_siret=CLIENT,
                                     last_dsn_at=utcnow()))
        db.session.commit()
    assert marc.get(f"/compte/notifications/{notification_id}").status_code == 404
    clock.advance(VISIBLE_SECONDS + 1)
    assert titles(marc) == [] and badge(marc) == 0


def test_reading_archiving_and_deleting_are_each_persons(demo, issuer, token):
    first = published(issuer, token, notice(GRENOBLE, title="Premier"))
    second = published(issuer, token, notice(GRENOBLE, title="Second"))
    elodie, sophie = browser_of(demo, "Élodie"), browser_of(demo, "Sophie")
    assert badge(elodie) == 2
    assert titles(elodie) == ["Second", "Premier"]  # the newest first
    shown = elodie.get(f"/compte/notifications/{first}").get_data(as_text=True)
    assert "Le taux applicable est de 2,10 %." in shown
    assert badge(elodie) == 1 and badge(sophie) == 2
    assert titles(elodie) == ["Second", "Premier"]  # unread first, then read
    assert titles(elodie, "?statut=non-lues") == ["Second"]
    assert titles(elodie, "?statut=lues") == ["Premier"]

    assert press(elodie, second, "archiver").status_code == 302
    assert "La notification est archivée" in elodie.get("/compte/notifications").get_data(
        as_text=True)
    assert titles(elodie) == ["Premier"] and badge(elodie) == 0
    assert titles(elodie, "?statut=archivees") == ["Second"]
    press(elodie, first, "supprimer")
    assert titles(elodie) == [] and titles(elodie, "?statut=archivees") == ["Second"]
    assert elodie.get(f"/compte/notifications/{first}").status_code == 404
    # Sophie still has both, unread.
    assert titles(sophie) == ["Second", "Premier"] and badge(sophie) == 2


def test_filters_and_pages(demo, issuer, token):
    for number in range(23):
        published(issuer, token, notice(GRENOBLE, title=f"Avis {number:02d}"))
    published(issuer, token, notice(GRENOBLE, "PPREV", title="Prévention"))
    sophie = browser_of(demo, "Sophie")
    first = titles(sophie)
    assert len(first) == 20 and first[0] == "Prévention"
    second = titles(sophie, "?page=2")
    assert second == ["Avis 03", "Avis 02", "Avis 01", "Avis 00"]
    assert titles(sophie, "?service=PPREV") == ["Prévention"]
    assert titles(sophie, f"?siret={VILLEURBANNE}") == []
    assert len(titles(sophie, f"?siret={GRENOBLE}&page=2")) == 4
    refused = sophie.get("/compte/notifications?siret=123").get_data(as_text=True)
    assert "Le SIRET compte 14 chiffres." in refused
    for bad in ("?page=%C2%B2", "?page=99999999999", "?service=XXX", "?statut=x"):
        assert sophie.get(f"/compte/notifications{bad}").status_code == 200


def test_the_unfiltered_pages_match_the_filtered_ones_across_every_mark(demo, issuer, token):
    # The unfiltered list walks the kept ids, the filtered one sorts the rows: both orders
    # must agree on every page and status, with read notices across a page's boundary.
    ids = [published(issuer, token, notice(GRENOBLE, title=f"Avis {n:02d}")) for n in range(45)]
    sophie = browser_of(demo, "Sophie")
    for notification_id in ids[3:28:2]:
        assert sophie.get(f"/compte/notifications/{notification_id}").status_code == 200
    for notification_id, action in ((ids[5], "archiver"), (ids[30], "archiver"),
                                    (ids[7], "supprimer"), (ids[40], "supprimer")):
        assert press(sophie, notification_id, action).status_code == 302
    assert badge(sophie) == 45 - 13 - 2
    for status in ("", "non-lues", "lues", "archivees"):
        for number in (1, 2, 3):
            query = f"?statut={status}&page={number}"
            assert titles(sophie, query) == titles(sophie, f"{query}&siret={GRENOBLE}"), query
    listed = titles(sophie) + titles(sophie, "?page=2")
    assert listed[:20] == [f"Avis {n:02d}" for n in range(44, 2, -1)
                           if n not in (30, 40) and not (3 <= n < 28 and n % 2)][:20]
    assert titles(sophie, "?page=3")[-1] == "Avis 03"  # the oldest read one ends the list
    assert titles(sophie, "?statut=archivees") == ["Avis 30", "Avis 05"]


def test_the_demo_publishes_its_sample_notices_once(demo, issuer):
    load_demo(load_demo(demo))  # loaded twice more: still one of each
    assert titles(browser_of(demo, "Élodie")) == ["Votre taux AT/MP 2027"]
    assert titles(browser_of(demo, "Sophie")) == [
        "Nouveau programme de prévention des risques routiers", "Votre taux AT/MP 2027"]
    # The firm: its assistant through the portfolio, its administrator by the DSN link.
    assert titles(browser_of(demo, "Julie")) == ["Votre taux AT/MP 2027"]
    assert titles(browser_of(demo, "Marc")) == ["Votre taux AT/MP 2027"]


def test_only_the_company_downloads_the_official_document(demo, issuer, token):
    notification_id = published(issuer, token, rate(CLIENT, title="Taux du client"))
    marc = browser_of(demo, "Marc")
    page = marc.get(f"/compte/notifications/{notification_id}").get_data(as_text=True)
    assert "Télécharger le document officiel" not in page
    assert "Seule l'entreprise peut télécharger" in html.unescape(page)
    refused = marc.get(f"/compte/notifications/{notification_id}/document")
    assert refused.status_code == 403
    assert "seule l'entreprise peut télécharger" in html.unescape(refused.get_data(as_text=True))

    own = published(issuer, token, rate(GRENOBLE, title="Taux de Grenoble"))
    sophie = browser_of(demo, "Sophie")
    page = sophie.get(f"/compte/notifications/{own}").get_data(as_text=True)
    assert "Télécharger le document officiel" in page
    going = sophie.get(f"/compte/notifications/{own}/document")
    assert going.status_code == 302
    assert going.headers["Location"].startswith("/connexion?cible=https%3A%2F%2Fcompte-atmp")
    # « Accéder au service »: the notice's link, through /connexion?cible=.
    assert 'href="/connexion?cible=https%3A%2F%2Fcompte-atmp.example%2Ftaux%2F' in page


def test_the_pages_need_a_sign_in(demo, issuer, token):
    notification_id = published(issuer, token, rate())
    anonymous = demo.test_client()
    for path in ("/compte/notifications", f"/compte/notifications/{notification_id}",
                 f"/compte/notifications/{notification_id}/document"):
        assert anonymous.get(path).status_code == 302
    assert anonymous.post(f"/compte/notifications/{notification_id}/supprimer"
                          ).status_code in (302, 400)
