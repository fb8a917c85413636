"""The list's filters and the e-mail choice of « Vos notifications »."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import Optional, Regexp

from idp.forms import HtmlForm
from idp.notifications.inbox import ARCHIVED, READ, UNREAD


class FilterForm(HtmlForm):
    """Établissement, service, statut (read from the address: a GET form)."""

    class Meta:
        csrf = False

    siret = StringField(_l("SIRET de l'établissement"), validators=[
        Optional(), Regexp(r"^[0-9]{14}$", message=_l("Le SIRET compte 14 chiffres."))])
    service = SelectField(_l("Service"), default="")
    statut = SelectField(_l("Statut"), default="", choices=[
        SelectChoice("", _l("Toutes, sauf archivées")), SelectChoice(UNREAD, _l("Non lues")),
        SelectChoice(READ, _l("Lues")), SelectChoice(ARCHIVED, _l("Archivées"))])


class MailChoiceForm(HtmlForm):
    """One e-mail per notification, or the weekly digest."""

    frequency = RadioField(_l("Recevoir un courriel"), choices=[
        SelectChoice("chaque", _l("à chaque nouvelle notification")),
        SelectChoice("hebdomadaire",
                     _l("une fois par semaine, regroupant les nouvelles notifications"))])
