"""Forms of the accounts blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, EqualTo, Length, ValidationError

from idp.accounts.password_policy import current_policy
from idp.accounts.security import SECRET_QUESTIONS
from idp.accounts.service import Credentials
from idp.forms import HtmlForm, Required, check_siret

NAME_TOO_LONG = _l("100 caractères au plus")


class LoginForm(HtmlForm):
    """« Vous connecter »: SIRET, Nom, Prénom, Mot de passe."""

    siret = StringField(_l("SIRET"), validators=[Required(), check_siret])
    last_name = StringField(_l("Nom"), validators=[Required(), Length(max=100,
                                                                      message=NAME_TOO_LONG)])
    first_name = StringField(_l("Prénom"), validators=[Required(), Length(max=100,
                                                                          message=NAME_TOO_LONG)])
    # 128 characters at most: argon2 takes any length, but there is no reason to hash a novel.
    password = PasswordField(_l("Mot de passe"), validators=[
        Required(), Length(max=128, message=_l("128 caractères au plus"))])
    next = HiddenField()

    def credentials(self) -> Credentials:
        """The validated credentials."""
        return Credentials(
            siret=self.siret.data,
            last_name=self.last_name.data.strip(),
            first_name=self.first_name.data.strip(),
            password=self.password.data,
        )


class ButtonForm(HtmlForm):
    """A button that POSTs with its CSRF token (« Vous déconnecter », « Refuser »…)."""


def check_password_policy(form, field) -> None:
    """The configured policy, with every rule the password breaks."""
    evaluation = current_policy().evaluate(field.data or "")
    if not evaluation.accepted:
        raise ValidationError(" · ".join(str(p) for p in evaluation.problems))


class NewPasswordMixin:
    """A new password and its confirmation, checked by the policy."""

    new_password = PasswordField(_l("Nouveau mot de passe"),
                                 validators=[Required(), check_password_policy],
                                 render_kw={"data-gauge": "gauge"})
    confirm_password = PasswordField(_l("Confirmation du mot de passe"), validators=[
        Required(), EqualTo("new_password", message=_l("Les deux mots de passe diffèrent."))])


class IdentifyForm(HtmlForm):
    """« Mot de passe oublié ? »: who are you?"""

    siret = StringField(_l("SIRET"), validators=[Required(), check_siret])
    last_name = StringField(_l("Nom"), validators=[Required(), Length(max=100,
                                                                      message=NAME_TOO_LONG)])
    first_name = StringField(_l("Prénom"), validators=[Required(), Length(max=100,
                                                                          message=NAME_TOO_LONG)])


class SecretAnswerForm(NewPasswordMixin, HtmlForm):
    """Answer the secret question and choose a new password at once."""

    answer = StringField(_l("Réponse à la question secrète"), validators=[
        Required(), Length(max=100, message=NAME_TOO_LONG)])


class NewPasswordForm(NewPasswordMixin, HtmlForm):
    """Choose a new password (reset link)."""


class ChangePasswordForm(NewPasswordMixin, HtmlForm):
    """Change the password: the current one first."""

    current_password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])


class ChooseSecretMixin:
    """A secret question and its answer, chosen with a first password (a welcome link, the
    registration's last step)."""

    secret_question = SelectField(_l("Question secrète"), validators=[Required()])
    secret_answer = StringField(_l("Réponse à la question secrète"), validators=[
        Required(), Length(min=2, max=100, message=_l("Entre 2 et 100 caractères"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.secret_question.choices = [SelectChoice(str(q)) for q in SECRET_QUESTIONS]


class SecretQuestionForm(HtmlForm):
    """Choose the secret question used to recover the password."""

    password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])
    question = SelectField(_l("Question secrète"), validators=[Required()])
    answer = StringField(_l("Réponse"), validators=[
        Required(), Length(min=2, max=100, message=_l("Entre 2 et 100 caractères"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.question.choices = [SelectChoice(str(q)) for q in SECRET_QUESTIONS]


class EmailChangeForm(HtmlForm):
    """Change the e-mail address (confirmed by a link sent to the new one)."""

    password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])
    email = EmailField(_l("Nouvelle adresse électronique"), validators=[
        Required(), Email(message=_l("Adresse électronique invalide")), Length(max=254)])
    confirm_email = EmailField(_l("Confirmation de l'adresse électronique"), validators=[
        Required(), EqualTo("email", message=_l("Les deux adresses diffèrent."))])


class CodeForm(HtmlForm):
    """A 6-digit code from the authenticator app (or a recovery code)."""

    code = StringField(_l("Code de vérification"), validators=[
        Required(), Length(max=20, message=_l("20 caractères au plus"))])
    next = HiddenField()


class DisableTwoFactorForm(HtmlForm):
    """Turn 2FA off: password and a code."""

    password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])
    code = StringField(_l("Code de vérification"), validators=[Required(), Length(max=20)])


class ApplicationPasswordForm(HtmlForm):
    """Name a new application password; the current password confirms it."""

    name = StringField(_l("Nom (le logiciel ou le poste qui l'utilisera)"), validators=[
        Required(), Length(max=60, message=_l("60 caractères au plus"))])
    password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])


class CertificateForm(HtmlForm):
    """Register a certificate: its PEM pasted or as a file, or the one the browser
    presents; the current password confirms it."""

    pem = TextAreaField(_l("Certificat (format PEM : « -----BEGIN CERTIFICATE----- … »)"),
                        validators=[Length(max=20000, message=_l("20 000 caractères au plus"))])
    file = FileField(_l("ou fichier du certificat (.pem, .crt, .cer)"))
    presented = BooleanField(_l("Enregistrer le certificat présenté par votre navigateur"))
    password = PasswordField(_l("Mot de passe actuel"), validators=[Required()])


class CertificateSignInForm(HtmlForm):
    """« Me connecter avec ce certificat », with where to go next."""

    next = HiddenField()
