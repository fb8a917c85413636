"""E-mails to account holders: each security change, recovery links, decisions.

(Not the « notifications » feature: these are the account journeys' own messages.)
"""

from __future__ import annotations

from flask_babel import gettext as _

from idp.accounts.models import Account
from idp.mail import send_template


class AccountMailer:
    """Writes and sends the French messages of the account journeys."""

    def _send(self, to: str | None, name: str, subject: str, paragraphs: list[str],
              link: str | None = None, link_label: str | None = None) -> None:
        if to:
            send_template(to, subject, "notice", name=name, paragraphs=paragraphs, link=link,
                          link_label=link_label)

    def security_change(self, account: Account, what: str) -> None:
        """Tell the holder that ``what`` changed on their account."""
        self._send(account.email, account.first_name,
                   _("Modification de votre compte net-entreprises.fr"),
                   [_("La modification suivante vient d'être faite sur votre compte "
                      "(SIRET %(siret)s) : %(what)s.", siret=account.siret, what=what)])

    def email_change(self, account: Account, new_email: str, link: str) -> None:
        """Ask the new address to confirm itself."""
        self._send(new_email, account.first_name,
                   _("Confirmez votre nouvelle adresse électronique"),
                   [_("Vous avez demandé à utiliser cette adresse pour votre compte "
                      "net-entreprises.fr. Elle sera enregistrée quand vous aurez ouvert le "
                      "lien ci-dessous (valable 24 heures).")],
                   link, _("Confirmer mon adresse"))

    def email_replaced(self, account: Account, old_email: str) -> None:
        """Tell the old address that it no longer receives the account's mail."""
        self._send(old_email, account.first_name,
                   _("Modification de votre compte net-entreprises.fr"),
                   [_("L'adresse électronique de votre compte a été remplacée par "
                      "%(email)s.", email=account.email)])

    def validation_link(self, account: Account, link: str, hours: int) -> None:
        """Ask a new account to validate its e-mail address."""
        self._send(account.email, account.first_name,
                   _("Validez votre inscription à net-entreprises.fr"),
                   [_("Votre inscription est enregistrée. Pour l'activer, validez votre adresse "
                      "électronique en ouvrant le lien ci-dessous (valable %(hours)s heures). "
                      "Vous ne pourrez pas vous connecter avant.", hours=hours)],
                   link, _("Valider mon adresse électronique"))

    def candidacy(self, administrator: Account, candidate: Account) -> None:
        """Ask a current administrator to accept or refuse a new one (cooptation)."""
        self._send(administrator.email, administrator.first_name,
                   _("Un nouvel administrateur demande à rejoindre votre entreprise"),
                   [_("%(first)s %(last)s (SIRET %(siret)s) demande à devenir administrateur "
                      "de votre entreprise. Donnez votre accord ou refusez dans votre espace, "
                      "rubrique « Demandes en attente ».", first=candidate.first_name,
                      last=candidate.last_name, siret=candidate.siret)])

    def candidacy_decided(self, candidate: Account, accepted: bool) -> None:
        """Tell a candidate administrator the decision."""
        self._send(candidate.email, candidate.first_name,
                   _("Votre demande d'administration net-entreprises.fr"),
                   [_("Un administrateur de votre entreprise a accepté votre demande : vous êtes "
                      "désormais administrateur.") if accepted else
                    _("Un administrateur de votre entreprise a refusé votre demande "
                      "d'administration.")])

    def reset_link(self, account: Account, link: str) -> None:
        """Send a one-time password reset link (valid one hour)."""
        self._send(account.email, account.first_name,
                   _("Réinitialisation de votre mot de passe net-entreprises.fr"),
                   [_("Pour choisir un nouveau mot de passe, ouvrez le lien ci-dessous. Il est "
                      "valable une heure et ne sert qu'une fois.")],
                   link, _("Choisir un nouveau mot de passe"))

    def reset_refused(self, account: Account) -> None:
        """Tell the holder that their administrator refused the reset request."""
        self._send(account.email, account.first_name,
                   _("Votre demande de réinitialisation du mot de passe"),
                   [_("L'administrateur de votre établissement a refusé votre demande de "
                      "réinitialisation du mot de passe. Rapprochez-vous de lui.")])

    def reset_requested(self, administrator: Account, requester: Account) -> None:
        """Tell an administrator that a person of their establishment asks for a reset."""
        self._send(administrator.email, administrator.first_name,
                   _("Demande de réinitialisation de mot de passe à traiter"),
                   [_("%(first)s %(last)s (SIRET %(siret)s) demande la réinitialisation de son "
                      "mot de passe. Traitez la demande dans votre espace, rubrique « Demandes "
                      "en attente ».", first=requester.first_name, last=requester.last_name,
                      siret=requester.siret)])
