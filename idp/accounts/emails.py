"""E-mails to account holders: each security change, recovery links, decisions.

(Not the « notifications » feature: these are the account journeys' own messages.)
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

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

    def _identity(self, account: Account) -> str:
        return _("Votre identifiant de connexion : SIRET %(siret)s, nom « %(last)s », prénom "
                 "« %(first)s ».", siret=account.siret, last=account.last_name,
                 first=account.first_name)

    def declarant_welcome(self, account: Account, link: str, days: int) -> None:
        """Invite a declarant created by an administrator to choose its password."""
        self._send(account.email, account.first_name,
                   _("Votre compte net-entreprises.fr a été créé"),
                   [_("Un administrateur de votre entreprise vous a créé un compte de "
                      "déclarant sur net-entreprises.fr."), self._identity(account),
                    _("Pour l'activer, choisissez votre mot de passe et votre question secrète "
                      "en ouvrant le lien ci-dessous. Il est valable %(days)s jours et ne sert "
                      "qu'une fois.", days=days)],
                   link, _("Activer mon compte"))

    def declarant_changed(self, account: Account, changes: list[str]) -> None:
        """Tell a declarant what its administrator changed on its account."""
        self._send(account.email, account.first_name,
                   _("Modification de votre compte net-entreprises.fr"),
                   [_("Un administrateur de votre entreprise a modifié votre compte : "
                      "%(changes)s.", changes=", ".join(changes)), self._identity(account)])

    def declarant_suspended(self, account: Account) -> None:
        """Tell a declarant that its account is suspended."""
        self._send(account.email, account.first_name,
                   _("Votre compte net-entreprises.fr est suspendu"),
                   [_("Un administrateur de votre entreprise a suspendu votre compte (SIRET "
                      "%(siret)s) : vous ne pouvez plus vous connecter. Rapprochez-vous de "
                      "lui.", siret=account.siret)])

    def declarant_reactivated(self, account: Account) -> None:
        """Tell a declarant that its account works again."""
        self._send(account.email, account.first_name,
                   _("Votre compte net-entreprises.fr est réactivé"),
                   [_("Un administrateur de votre entreprise a réactivé votre compte : vous "
                      "pouvez de nouveau vous connecter."), self._identity(account)])

    def declarant_removed(self, account: Account) -> None:
        """Tell a declarant that its account is closed."""
        self._send(account.email, account.first_name,
                   _("Votre compte net-entreprises.fr est radié"),
                   [_("Un administrateur de votre entreprise a radié votre compte (SIRET "
                      "%(siret)s) : vous ne pouvez plus vous connecter ni agir pour "
                      "l'entreprise.", siret=account.siret)])

    def habilitations_received(self, receiver: Account, leaver: Account, count: int) -> None:
        """Tell a person that a leaver's habilitations were transferred to it."""
        self._send(receiver.email, receiver.first_name,
                   _("Des habilitations vous ont été transférées"),
                   [ngettext("À la radiation de %(first)s %(last)s, un administrateur de votre "
                             "entreprise vous a transféré %(num)d habilitation.",
                             "À la radiation de %(first)s %(last)s, un administrateur de votre "
                             "entreprise vous a transféré %(num)d habilitations.", count,
                             first=leaver.first_name, last=leaver.last_name)])
