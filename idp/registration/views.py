"""/inscription: the registration journey, e-mail validation, the activation key."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from wtforms import SelectChoice

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account, login_required
from idp.accounts.password_policy import SPECIAL_CHARACTERS
from idp.accounts.throttling import TooManyFailedLogins
from idp.registration.deps import registration_service, registration_throttle
from idp.registration.forms import DetailsForm, SecretsForm, ServicesForm
from idp.registration.letters import summary_pdf
from idp.registration.service import PROFILES, RegistrationRefused
from idp.web import request_origin

bp = Blueprint("registration", __name__)
SESSION_KEY = "registration"
STEPS = ["details", "terms", "establishment", "secrets", "summary", "services",
         "habilitations"]
RIGHTS = ("declarer", "payer")


def _registration():
    return registration_service().get(session.get(SESSION_KEY))


def step(number: int):
    """A journey page: needs a registration that reached this step; else go where it is."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            registration = _registration()
            if registration is None:
                return redirect(url_for("registration.details"))
            if registration.step < number:
                return redirect(url_for(f"registration.{STEPS[registration.step - 1]}"))
            return view(registration, *args, **kwargs)

        return wrapper

    return decorator


def _page(template: str, registration=None, status=200, **context):
    return render_template(f"registration/{template}.html", registration=registration,
                           steps=STEPS, **context), status


@bp.route("/inscription", methods=["GET", "POST"])
def details():
    """1. Vos coordonnées."""
    registration = _registration()
    form = DetailsForm(data=registration.data if registration else None)
    if form.validate_on_submit():
        fields = {name: form[name].data.strip() if isinstance(form[name].data, str)
                  else form[name].data
                  for name in ("siret", "last_name", "first_name", "phone", "mobile", "email")}
        service = registration_service()
        throttle = registration_throttle()
        ip = request_origin().ip or "unknown"
        try:
            throttle.check(ip)
            service.check_identity(fields["siret"], fields["last_name"], fields["first_name"],
                                   fields["email"])
        except TooManyFailedLogins as exc:
            wait = format_timedelta(timedelta(seconds=exc.resets_in), threshold=1)
            form.siret.errors.append(_("Trop de tentatives d'inscription depuis votre "
                                       "connexion. Réessayez dans %(wait)s.", wait=wait))
            return _page("details", registration, 429, form=form)
        except RegistrationRefused as refused:
            throttle.fail(ip)  # refusals (duplicates above all) count towards the wait
            form[refused.field].errors.append(str(refused.message))
        else:
            if registration is None:
                registration = service.start(fields, request_origin())
                session[SESSION_KEY] = registration.id
            else:
                service.advance(registration, 1, request_origin(), **fields)
            return redirect(url_for("registration.terms"))
    return _page("details", registration, 400 if form.errors else 200, form=form)


@bp.route("/inscription/conditions", methods=["GET", "POST"])
@step(2)
def terms(registration):
    """2. Conditions générales: « J'accepte » or « Je refuse »."""
    form = ButtonForm()
    if form.validate_on_submit():
        if request.form.get("decision") == "refuse":
            registration_service().abandon(registration, request_origin())
            session.pop(SESSION_KEY, None)
            return _page("refused")
        registration_service().advance(registration, 2, request_origin(), terms_accepted=True)
        return redirect(url_for("registration.establishment"))
    return _page("terms", registration, form=form)


@bp.get("/inscription/conditions-generales.txt")
def terms_download():
    """The terms, downloadable."""
    text = render_template("registration/terms.txt")
    return Response(text, mimetype="text/plain", headers={
        "Content-Disposition": "attachment; filename=conditions-generales-net-entreprises.txt"})


def _confirmation(registration, number: int, next_step: str):
    """A page that only shows data and continues: the establishment, the summary."""
    form = ButtonForm()
    service = registration_service()
    if form.validate_on_submit():
        service.advance(registration, number, request_origin())
        return redirect(url_for(f"registration.{next_step}"))
    return _page(STEPS[number - 1], registration, form=form,
                 establishment=service.establishment(registration.data["siret"]))


@bp.route("/inscription/etablissement", methods=["GET", "POST"])
@step(3)
def establishment(registration):
    """3. Identification de votre établissement (from the directory)."""
    return _confirmation(registration, 3, "secrets")


@bp.route("/inscription/mot-de-passe", methods=["GET", "POST"])
@step(4)
def secrets(registration):
    """4. Mot de passe et question secrète."""
    form = SecretsForm(data={"secret_question": registration.data.get("secret_question")})
    if form.validate_on_submit():
        service = registration_service()
        service.advance(registration, 4, request_origin(),
                        secret_question=form.secret_question.data,
                        **service.hash_secrets(form.new_password.data, form.secret_answer.data))
        return redirect(url_for("registration.summary"))
    return _page("secrets", registration, 400 if form.errors else 200, form=form,
                 specials=SPECIAL_CHARACTERS)


@bp.route("/inscription/recapitulatif", methods=["GET", "POST"])
@step(5)
def summary(registration):
    """5. Récapitulatif, then « S'inscrire aux services »."""
    return _confirmation(registration, 5, "services")


@bp.route("/inscription/services", methods=["GET", "POST"])
@step(6)
def services(registration):
    """6. Profil et services: the proposed list can be changed before « Valider »."""
    service = registration_service()
    catalogue = service.catalogue()
    profile = request.values.get("profile") or registration.data.get("profile") or "entreprise"
    proposed = registration.data.get("services") or list(PROFILES.get(profile, ()))
    form = ServicesForm(data={"profile": profile, "services": proposed})
    form.services.choices = [SelectChoice(s.code, s.label) for s in catalogue]
    if form.validate_on_submit():
        service.advance(registration, 6, request_origin(), profile=form.profile.data,
                        services=form.services.data)
        return redirect(url_for("registration.habilitations"))
    return _page("services", registration, 400 if form.errors else 200, form=form)


@bp.route("/inscription/habilitations", methods=["GET", "POST"])
@step(7)
def habilitations(registration):
    """7. Validation: déclarer / payer per service and establishment, « Valider
    l'inscription »."""
    service = registration_service()
    establishments = service.establishments(registration.data["siret"])
    chosen = [s for s in service.catalogue() if s.code in registration.data["services"]]
    allowed = {f"{e.siret}:{s.code}:{right}" for e in establishments for s in chosen
               for right in RIGHTS if right in s.known_rights.names()}
    form = ButtonForm()
    if form.validate_on_submit():
        picked = [value for value in request.form.getlist("habilitation") if value in allowed]
        grants: dict[tuple[str, str], list[str]] = {}
        for value in picked:
            siret, code, right = value.split(":")
            grants.setdefault((siret, code), []).append(right)
        service.advance(registration, 7, request_origin(), habilitations=[
            [siret, code, rights] for (siret, code), rights in grants.items()])
        account = service.complete(registration, request_origin(), lambda token: url_for(
            "registration.validate", token=token, _external=True))
        session.pop(SESSION_KEY, None)
        session["registration_done"] = {"account": str(account.id),
                                        "rows": _summary_rows(registration.data)}
        return redirect(url_for("registration.done"))
    return _page("habilitations", registration, form=form, establishments=establishments,
                 services=chosen, allowed=allowed, rights=RIGHTS)


def _summary_rows(data: dict) -> list[tuple[str, str]]:
    return [("SIRET", data["siret"]), ("Nom", data["last_name"]),
            ("Prénom", data["first_name"]), ("Téléphone", data["phone"]),
            ("Courriel", data["email"]), ("Services", ", ".join(data.get("services", []))),
            ("Habilitations", "; ".join(f"{s} {c} ({', '.join(r)})"
                                        for s, c, r in data.get("habilitations", [])) or "—")]


@bp.get("/inscription/compte-rendu")
def done():
    """8. Compte rendu: what was registered, the PDF, the e-mail to validate."""
    finished = session.get("registration_done")
    if not finished:
        return redirect(url_for("registration.details"))
    return _page("done", rows=finished["rows"],
                 delay=current_app.config["EMAIL_VALIDATION_HOURS"])


@bp.get("/inscription/compte-rendu.pdf")
def done_pdf():
    """The printable summary."""
    finished = session.get("registration_done")
    if not finished:
        abort(404)
    pdf = summary_pdf("Compte rendu de votre inscription à net-entreprises.fr",
                      [tuple(row) for row in finished["rows"]])
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": "attachment; filename=compte-rendu-inscription.pdf"})


@bp.get("/inscription/validation/<token>")
def validate(token: str):
    """The link of the validation e-mail."""
    account = registration_service().validate_email(token, request_origin())
    if account is None:
        return render_template("message.html", title=_("Lien invalide"), message=_(
            "Ce lien de validation n'est pas ou plus valide.")), 400
    if account.status.value == "candidate_admin":
        message = _("Votre adresse est validée. Votre demande d'administration attend l'accord "
                    "d'un administrateur de votre entreprise, ou la clé d'activation envoyée "
                    "par courrier à votre établissement.")
    else:
        message = _("Votre adresse est validée : vous pouvez vous connecter.")
    return render_template("message.html", title=_("Inscription validée"),
                           message=message)


@bp.route("/compte/activation", methods=["GET", "POST"])
@login_required
def activation():
    """A candidate administrator types the activation key of the letter."""
    account = current_account()
    form = ButtonForm()
    error = None
    if form.validate_on_submit():
        if registration_service().activate_with_key(account, request.form.get("key", ""),
                                                    request_origin()):
            flash(_("Votre clé est reconnue : vous êtes désormais administrateur."))
            return redirect(url_for("accounts.account"))
        error = _("Cette clé d'activation n'est pas reconnue.")
    return render_template("registration/activation.html", form=form, error=error), \
        400 if error else 200
