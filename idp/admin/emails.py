"""E-mails of the administrator space: each person hears of what was changed for them."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.accounts.models import Account
from idp.mail import send_template


class AdminMailer:
    """Writes and sends the French summaries of administrators' changes."""

    def habilitations_changed(self, declarant: Account, changes) -> None:
        """One e-mail summing up what a grid, a portfolio or a file changed for ``declarant``."""
        if not declarant.email:
            return
        lines = [_("%(service)s pour %(scope)s : %(rights)s", service=c.service, scope=c.label,
                   rights=", ".join(c.after.names()) or _("retiré")) for c in changes]
        send_template(declarant.email, _("Vos habilitations net-entreprises.fr ont changé"),
                      "notice", name=declarant.first_name, paragraphs=[
                          _("Un administrateur de votre entreprise a modifié vos habilitations :"),
                          *lines,
                          _("Un droit ajouté s'ouvre une fois les délais d'accès échus.")],
                      link=None, link_label=None)

    def bulk_applied(self, declarant: Account, portfolio: str, added: int,
                     removed: int) -> None:
        """One e-mail for a bulk habilitation file applied to ``declarant``."""
        if not declarant.email:
            return
        send_template(declarant.email, _("Vos habilitations net-entreprises.fr ont changé"),
                      "notice", name=declarant.first_name, paragraphs=[
                          _("Un administrateur a appliqué un fichier d'habilitations sur le "
                            "portefeuille « %(name)s » : %(added)s habilitation(s) ajoutée(s), "
                            "%(removed)s retirée(s).", name=portfolio, added=added,
                            removed=removed),
                          _("Un droit ajouté s'ouvre une fois les délais d'accès échus.")],
                      link=None, link_label=None)
