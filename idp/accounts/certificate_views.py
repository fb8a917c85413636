"""« Utiliser un certificat »: sign in with a registered X.509 client certificate
(/connexion/certificat), and the certificates of « Sécurité de votre compte »
(/compte/securite/certificats)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.certificates import (
    MAX_PER_ACCOUNT,
    CertificateAlreadyRegistered,
    CertificateRejected,
    TooManyCertificates,
    UnknownCertificate,
    UnreadableCertificate,
    describe,
    read_certificate,
)
from idp.accounts.deps import account_security, certificate_checker, client_certificates
from idp.accounts.forms import ButtonForm, CertificateForm, CertificateSignInForm
from idp.accounts.login import (
    CERTIFICATE_METHOD,
    current_account,
    login_required,
    sign_in,
    start_second_step,
)
from idp.accounts.messages import SIGN_IN_REFUSALS, sign_in_refusal
from idp.accounts.security_views import CONFIRMATION_FAILURES, confirmation_failed
from idp.web import is_local_path, request_origin

bp = Blueprint("certificates", __name__)


def presented_certificate():
    """The client certificate of this request: from the TLS layer of the server itself
    (``SSL_CLIENT_CERT``, as mod_ssl and Werkzeug put it), or from the header a trusted
    reverse proxy sets (only when IDP_TRUSTED_PROXIES says one is in front: anyone else
    could write that header). None when there is none or it cannot be read."""
    value = request.environ.get("SSL_CLIENT_CERT")
    if not value and current_app.config["TRUSTED_PROXIES"]:
        value = request.headers.get(current_app.config["CERTIFICATE_HEADER"])
    if not value:
        return None
    try:
        return read_certificate(value)
    except UnreadableCertificate:
        return None


def _rejection(error: Exception) -> str:
    if isinstance(error, UnknownCertificate):
        return _("Ce certificat n'est enregistré sur aucun compte. Connectez-vous avec votre "
                 "mot de passe, puis enregistrez-le dans « Sécurité de votre compte ».")
    return {
        "expired": _("Ce certificat a expiré."),
        "not_yet_valid": _("Ce certificat n'est pas encore valide."),
        "untrusted": _("Ce certificat n'a pas été délivré par une autorité acceptée."),
    }[error.reason]


@bp.route("/connexion/certificat", methods=["GET", "POST"])
def sign_in_with_certificate():
    """The certificate the browser presents, and « Me connecter avec ce certificat »."""
    if not certificate_checker().enabled:
        return render_template("message.html", title=_("Connexion par certificat"), message=_(
            "La connexion par certificat n'est pas proposée sur ce service.")), 404
    form = CertificateSignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    next_url = form.next.data if is_local_path(form.next.data) else None
    presented = presented_certificate()
    error, status = None, 200
    if form.validate_on_submit():
        if presented is None:
            error, status = _("Votre navigateur n'a présenté aucun certificat."), 400
        else:
            try:
                account = client_certificates().authenticate(presented, request_origin())
            except (CertificateRejected, UnknownCertificate) as rejection:
                error, status = _rejection(rejection), 401
            except SIGN_IN_REFUSALS as refusal:
                error, status = sign_in_refusal(refusal)
            else:
                if account.has_second_factor:  # a certificate stands for the password only
                    return start_second_step(account, next_url, CERTIFICATE_METHOD)
                sign_in(account, [CERTIFICATE_METHOD])
                return redirect(next_url or url_for("accounts.account"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/certificate_login.html", form=form, error=error,
                           presented=describe(presented) if presented else None), status


def _page(form: CertificateForm | None = None, status: int = 200):
    account = current_account()
    presented = presented_certificate()
    return render_template(
        "security/certificates.html", form=form or CertificateForm(), remove_form=ButtonForm(),
        certificates=client_certificates().of(account), limit=MAX_PER_ACCOUNT,
        presented=describe(presented) if presented else None,
        enabled=certificate_checker().enabled), status


@bp.get("/compte/securite/certificats")
@login_required
def index():
    """The registered certificates and the form to add one."""
    return _page()


@bp.post("/compte/securite/certificats")
@login_required
def register():
    """Register a certificate (pasted, uploaded or presented); the password confirms it."""
    form = CertificateForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    if form.presented.data:
        certificate = presented_certificate()
    else:
        upload = request.files.get(form.file.name)  # HtmlForm reads form fields only
        data = upload.read(20001) if upload else b""
        data = data or (form.pem.data or "").encode()
        try:
            certificate = read_certificate(data) if data.strip() else None
        except UnreadableCertificate:
            form.pem.errors.append(_("Ce fichier ou ce texte n'est pas un certificat X.509 "
                                     "au format PEM."))
            return _page(form, 400)
    if certificate is None:
        form.pem.errors.append(_("Collez un certificat, choisissez son fichier, ou cochez la "
                                 "case du certificat présenté par votre navigateur."))
        return _page(form, 400)
    account = current_account()
    try:
        account_security().confirm_password(account, form.password.data)
        row = client_certificates().register(account, certificate, request_origin())
    except CONFIRMATION_FAILURES as error:
        return _page(form, confirmation_failed(error, form.password))
    except CertificateRejected as rejection:
        form.pem.errors.append(_rejection(rejection))
        return _page(form, 400)
    except CertificateAlreadyRegistered:
        form.pem.errors.append(_("Ce certificat est déjà enregistré."))
        return _page(form, 400)
    except TooManyCertificates:
        form.pem.errors.append(_("Vous avez déjà %(n)s certificats : supprimez-en un avant "
                                 "d'en ajouter un autre.", n=MAX_PER_ACCOUNT))
        return _page(form, 400)
    flash(_("Le certificat « %(subject)s » est enregistré.", subject=row.subject))
    return redirect(url_for("certificates.index"))


@bp.post("/compte/securite/certificats/<int:certificate_id>/supprimer")
@login_required
def remove(certificate_id: int):
    """« Supprimer »: the certificate no longer signs in."""
    if not ButtonForm().validate_on_submit():
        return _page(status=400)
    subject = client_certificates().remove(current_account(), certificate_id, request_origin())
    if subject is None:
        flash(_("Ce certificat n'existe pas ou a déjà été supprimé."))
    else:
        flash(_("Le certificat « %(subject)s » est supprimé.", subject=subject))
    return redirect(url_for("certificates.index"))
