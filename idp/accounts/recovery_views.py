"""« Mot de passe oublié ? » (/mot-de-passe-oublie)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, session, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _

from idp.accounts.deps import recovery
from idp.accounts.forms import ButtonForm, IdentifyForm, NewPasswordForm, SecretAnswerForm
from idp.accounts.password_policy import SPECIAL_CHARACTERS
from idp.accounts.recovery import Person, WrongAnswer
from idp.accounts.security import PasswordRefused
from idp.accounts.throttling import TooManyFailedLogins
from idp.web import request_origin

bp = Blueprint("recovery", __name__)
PERSON_KEY = "recovery_person"


def _person() -> Person | None:
    data = session.get(PERSON_KEY)
    return Person(**data) if data else None


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def identify():
    """Step 1: SIRET, Nom, Prénom."""
    form = IdentifyForm()
    if form.validate_on_submit():
        session[PERSON_KEY] = {"siret": form.siret.data, "last_name": form.last_name.data.strip(),
                               "first_name": form.first_name.data.strip()}
        return redirect(url_for("recovery.choose"))
    return render_template("recovery/identify.html", form=form), 400 if form.errors else 200


def _choose_page(status=200, answer_form=None, error=None):
    person = _person()
    choices = recovery().choices(person)
    return render_template("recovery/choose.html", person=person, choices=choices,
                           answer_form=answer_form or SecretAnswerForm(),
                           button_form=ButtonForm(), error=error,
                           specials=SPECIAL_CHARACTERS), status


@bp.get("/mot-de-passe-oublie/choix")
def choose():
    """Step 2: the three ways (the same page whether the account exists or not)."""
    if _person() is None:
        return redirect(url_for("recovery.identify"))
    return _choose_page()


@bp.post("/mot-de-passe-oublie/question")
def answer():
    """Answer the secret question and set the new password at once."""
    person = _person()
    if person is None:
        return redirect(url_for("recovery.identify"))
    form = SecretAnswerForm()
    if not form.validate_on_submit():
        return _choose_page(400, answer_form=form)
    try:
        recovery().answer_question(person, form.answer.data, form.new_password.data,
                                   request_origin())
    except TooManyFailedLogins as exc:
        wait = format_timedelta(timedelta(seconds=exc.resets_in), threshold=1,
                                granularity="minute")
        return _choose_page(429, answer_form=form, error=_(
            "Au-delà de 5 réponses erronées, un délai d'attente de 60 minutes vous est "
            "demandé. Réessayez dans %(wait)s.", wait=wait))
    except WrongAnswer:
        return _choose_page(401, answer_form=form, error=_(
            "La réponse à la question secrète est incorrecte."))
    except PasswordRefused as exc:
        form.new_password.errors.append(" · ".join(str(p) for p in exc.problems))
        return _choose_page(400, answer_form=form)
    session.pop(PERSON_KEY, None)
    return render_template("message.html", title=_("Mot de passe modifié"), message=_(
        "Votre nouveau mot de passe est enregistré. Vous pouvez vous connecter."))


def _too_many_requests(exc: TooManyFailedLogins):
    wait = format_timedelta(timedelta(seconds=exc.resets_in), threshold=1,
                            granularity="minute")
    return render_template("message.html", title=_("Trop de demandes"), message=_(
        "Plusieurs demandes ont déjà été faites pour cette personne ou depuis votre "
        "connexion. Réessayez dans %(wait)s.", wait=wait)), 429


@bp.post("/mot-de-passe-oublie/courriel")
def by_email():
    """Send the one-time link to the account's address (shown masked)."""
    person = _person()
    if person is None or not ButtonForm().validate_on_submit():
        return redirect(url_for("recovery.identify"))
    service = recovery()
    masked = service.choices(person).masked_email
    try:
        service.send_link(person, request_origin())
    except TooManyFailedLogins as exc:
        return _too_many_requests(exc)
    return render_template("message.html", title=_("Courriel envoyé"), message=_(
        "Si les informations saisies correspondent à un compte, le lien permettant la "
        "réinitialisation du mot de passe a été transmis à l'adresse %(email)s. Il est "
        "valable une heure.", email=masked))


@bp.post("/mot-de-passe-oublie/administrateur")
def by_administrator():
    """Pass the request to the administrators of the same establishment."""
    person = _person()
    if person is None or not ButtonForm().validate_on_submit():
        return redirect(url_for("recovery.identify"))
    try:
        recovery().ask_administrators(person, request_origin())
    except TooManyFailedLogins as exc:
        return _too_many_requests(exc)
    return render_template("message.html", title=_("Demande transmise"), message=_(
        "Votre demande a été transmise aux administrateurs de votre établissement. Vous serez "
        "informé de leur réponse par courriel."))


def _invalid_link():
    return render_template("message.html", title=_("Lien invalide"), message=_(
        "Ce lien n'est pas ou plus valide : il sert une seule fois, pendant une heure, et "
        "seul le dernier lien envoyé fonctionne. Refaites une demande.")), 400


@bp.route("/mot-de-passe-oublie/lien/<token>", methods=["GET", "POST"])
def reset_link(token: str):
    """The link from the e-mail: choose a new password."""
    service = recovery()
    if service.account_for_link(token) is None:
        return _invalid_link()
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            account = service.use_link(token, form.new_password.data, request_origin())
        except PasswordRefused as exc:
            form.new_password.errors.append(" · ".join(str(p) for p in exc.problems))
        else:
            if account is None:  # used meanwhile (another tab, the same link sent twice)
                return _invalid_link()
            return render_template("message.html", title=_("Mot de passe modifié"),
                                   message=_("Votre nouveau mot de passe est enregistré. Vous "
                                             "pouvez vous connecter."))
    return render_template("recovery/new_password.html", form=form,
                           specials=SPECIAL_CHARACTERS), 400 if form.errors else 200
