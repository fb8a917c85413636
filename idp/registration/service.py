"""The « inscription » journey, e-mail validation, administrator candidacies and the purge.

No Flask request here: the views pass what they parsed, and a notifier and letter box are
injected. Every step goes to the audit journal, so an odd registration can be traced.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idp.accounts.email_domains import denied_domains, domain_of
from idp.accounts.lookup import account_by_login
from idp.accounts.models import Account, Role, Status
from idp.accounts.names import name_key
from idp.accounts.passwords import PasswordHasher
from idp.accounts.security import answer_key
from idp.audit.service import AuditJournal, Origin
from idp.directory.models import Establishment
from idp.habilitations.models import Right, Service
from idp.habilitations.service import HabilitationService
from idp.hashing import sha256_hex
from idp.models_common import utcnow
from idp.registration.letters import LetterBox
from idp.registration.models import AdminCandidacy, CandidacyStatus, Registration
from idp.store import Store

PROFILES = {
    "entreprise": ("DSN", "DUCS"),
    "cabinet": ("DSN", "DUCS", "ATMP"),
    "independant": ("DSN",),
}


class RegistrationRefused(Exception):
    """A control refused the registration; ``field`` and ``message`` say where and why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Controls:
    """Configurable allow and deny lists for first registrations."""

    siret_allow: frozenset[str]
    siret_deny: frozenset[str]
    email_domains_deny: frozenset[str]

    @classmethod
    def from_settings(cls, allow: str, deny: str, domains: str) -> Controls:
        """Build from comma-separated settings."""
        def split(value):
            return frozenset(v.strip().lower() for v in value.split(",") if v.strip())

        return cls(split(allow), split(deny), denied_domains(domains))


class RegistrationService:
    """Runs the journey and what follows it."""

    def __init__(self, session: Session, store: Store, hasher: PasswordHasher,
                 journal: AuditJournal, notifier, letters: LetterBox, controls: Controls,
                 validation_hours: int, candidacy_days: int, rules: HabilitationService):
        self._session = session
        self._rules = rules
        self._store = store
        self._hasher = hasher
        self._journal = journal
        self._notifier = notifier
        self._letters = letters
        self._controls = controls
        self._validation_hours = validation_hours
        self._candidacy_days = candidacy_days

    # --- the journey --------------------------------------------------------------------

    def get(self, registration_id: str | None) -> Registration | None:
        """The registration in progress with this id."""
        return self._session.get(Registration, registration_id) if registration_id else None

    def check_identity(self, siret: str, last_name: str, first_name: str, email: str) -> None:
        """Step 1 controls: establishment known and active, lists, duplicates."""
        establishment = self.establishment(siret)
        if establishment is None:
            raise RegistrationRefused("siret", _l("Ce SIRET est inconnu du répertoire des "
                                               "entreprises."))
        if not establishment.active:
            raise RegistrationRefused("siret", _l("Cet établissement est fermé : il ne peut pas "
                                               "être inscrit."))
        controls = self._controls
        if siret in controls.siret_deny or (controls.siret_allow
                                            and siret not in controls.siret_allow):
            raise RegistrationRefused("siret", _l("L'inscription de cet établissement n'est pas "
                                               "possible en ligne. Contactez l'assistance."))
        if domain_of(email) in controls.email_domains_deny:
            raise RegistrationRefused("email", _l("Les adresses jetables ne sont pas acceptées : "
                                               "utilisez une adresse durable."))
        if account_by_login(self._session, siret, last_name, first_name) is not None:
            raise RegistrationRefused("last_name", _l("Un compte existe déjà pour ce SIRET, ce nom "
                                                   "et ce prénom. Si vous avez oublié votre mot "
                                                   "de passe, utilisez « Mot de passe oublié ? »."))

    def start(self, data: dict, origin: Origin) -> Registration:
        """Step 1 done: open a registration with the person's details."""
        registration = Registration(id=secrets.token_urlsafe(32), data=data, step=2,
                                    created_at=utcnow())
        self._session.add(registration)
        self._journal_step(registration, "details", origin)
        return registration

    def advance(self, registration: Registration, step_done: int, origin: Origin,
                **data) -> None:
        """Record a step's answers; the furthest step reached only grows."""
        registration.data = {**registration.data, **data}
        registration.step = max(registration.step, step_done + 1)
        self._journal_step(registration, f"step{step_done}", origin)

    def abandon(self, registration: Registration, origin: Origin) -> None:
        """« Je refuse » the terms: the registration ends and its data goes."""
        self._journal_step(registration, "terms_refused", origin)
        self._session.delete(registration)
        self._session.commit()

    def _journal_step(self, registration: Registration, step: str, origin: Origin) -> None:
        data = registration.data
        self._journal.record("registration." + step, "success", origin=origin, details={
            "registration": registration.id[:8], "siret": data.get("siret"),
            "email": data.get("email")})
        self._session.commit()

    def hash_secrets(self, password: str, answer: str) -> dict:
        """What step 4 keeps: hashes only, never the password or the answer."""
        return {"password_hash": self._hasher.hash(password),
                "secret_answer_hash": self._hasher.hash(answer_key(answer))}

    def establishment(self, siret: str) -> Establishment | None:
        """The establishment of ``siret`` in the directory."""
        return self._session.get(Establishment, siret)

    def establishments(self, siret: str) -> list[Establishment]:
        """The active establishments of the company of ``siret``, siège first."""
        siren = siret[:9]
        return list(self._session.scalars(select(Establishment).where(
            Establishment.siren == siren, Establishment.active)
            .order_by(Establishment.is_headquarters.desc(), Establishment.siret)))

    def catalogue(self) -> list[Service]:
        """The services one can subscribe to."""
        return self._rules.catalogue()

    def complete(self, registration: Registration, origin: Origin, link_for) -> Account:
        """« Valider l'inscription »: the account (waiting for its e-mail), subscriptions and
        habilitations (effective after each service's access delay)."""
        data = registration.data
        has_admin = self._session.scalar(select(Account.id).join(Establishment).where(
            Establishment.siren == data["siret"][:9], Account.role == Role.ADMINISTRATOR,
            Account.status == Status.ACTIVE).limit(1)) is not None
        account = Account(
            siret=data["siret"], last_name=data["last_name"], first_name=data["first_name"],
            last_name_key=name_key(data["last_name"]),
            first_name_key=name_key(data["first_name"]), email=data["email"],
            email_verified=False, phone=data.get("phone"), mobile=data.get("mobile") or None,
            role=Role.ADMINISTRATOR, status=Status.PENDING_EMAIL,
            password_hash=data["password_hash"], password_changed_at=utcnow(),
            secret_question=data["secret_question"],
            secret_answer_hash=data["secret_answer_hash"], created_at=utcnow())
        self._session.add(account)
        self._session.flush()
        rules = self._rules
        for code in data.get("services", []):
            # Idempotent; the subscription starts after the service's access delay.
            rules.subscribe(code, **rules.scope_for(code, data["siret"]),
                            subscribed_by=account.id)
        # A per-company service (SIREN granularity) is granted on the company: the rights
        # ticked for its establishments merge into one habilitation.
        grants: dict[tuple[str, str, str], Right] = {}
        for siret, code, names in data.get("habilitations", []):
            (column, value), = rules.scope_for(code, siret).items()
            key = (code, column, value)
            grants[key] = grants.get(key, Right(0)) | Right.from_names(names)
        for (code, column, value), rights in grants.items():
            # Effective after the service's access delay (the rules' default).
            rules.grant(account.id, code, **{column: value}, rights=rights)
        self._journal.record("registration.completed", "success", account_id=account.id,
                             origin=origin, details={"siret": account.siret,
                                                     "candidate_admin": has_admin})
        self._session.delete(registration)
        self._session.commit()
        self._send_validation(account, has_admin, link_for)
        return account

    # --- e-mail validation --------------------------------------------------------------

    def _send_validation(self, account: Account, candidate: bool, link_for) -> None:
        token = secrets.token_urlsafe(32)
        self._store.set(f"email-validation:{sha256_hex(token)}",
                        json.dumps({"account": str(account.id), "candidate": candidate}),
                        self._validation_hours * 3600)
        self._notifier.validation_link(account, link_for(token), self._validation_hours)

    def validate_email(self, token: str, origin: Origin) -> Account | None:
        """The link of the validation e-mail: the first administrator becomes active; a later
        one becomes a candidate (cooptation e-mails and activation-key letter go out)."""
        raw = self._store.pop(f"email-validation:{sha256_hex(token)}")
        if raw is None:
            return None
        data = json.loads(raw)
        account = self._session.get(Account, uuid.UUID(data["account"]))
        if account is None or account.status is not Status.PENDING_EMAIL:
            return None
        account.email_verified = True
        establishment = account.establishment
        siege = self._session.scalar(select(Establishment).where(
            Establishment.siren == establishment.siren, Establishment.is_headquarters))
        if data["candidate"]:
            account.status = Status.CANDIDATE_ADMIN
            key = "-".join(secrets.token_hex(2).upper() for _ in range(3))
            self._session.add(AdminCandidacy(account_id=account.id, siren=establishment.siren,
                                             activation_key_hash=self._hasher.hash(key)))
            self._letters.write("cle-activation", establishment, "À l'attention de "
                                f"{account.first_name} {account.last_name}", [
                "Vous avez demandé à devenir administrateur du compte net-entreprises.fr de "
                f"votre entreprise (SIRET {account.siret}).",
                f"Votre clé d'activation : {key}",
                "Saisissez-la après vous être connecté, dans « Votre compte ». Sans "
                f"activation dans les {self._candidacy_days} jours, la demande est supprimée."])
            for administrator in self._administrators(establishment.siren):
                self._notifier.candidacy(administrator, account)
        else:
            account.status = Status.ACTIVE
            company = establishment.company
            self._letters.write("representant-legal", siege or establishment,
                                "À l'attention du représentant légal", [
                f"{account.first_name} {account.last_name} a inscrit votre entreprise "
                f"({company.name if company else establishment.siren}) sur net-entreprises.fr "
                "et en est désormais l'administrateur.",
                "Si vous n'êtes pas à l'origine de cette inscription, contactez l'assistance "
                "net-entreprises.fr."])
        self._journal.record("registration.email_validated", "success", account_id=account.id,
                             origin=origin, details={"status": account.status.value})
        self._session.commit()
        return account

    # --- candidacies --------------------------------------------------------------------

    def _administrators(self, siren: str) -> list[Account]:
        return list(self._session.scalars(select(Account).join(Establishment).where(
            Establishment.siren == siren, Account.role == Role.ADMINISTRATOR,
            Account.status == Status.ACTIVE)))

    def pending_candidacies(self, administrator: Account) -> list[AdminCandidacy]:
        """« Demandes en attente »: candidates of the administrator's company."""
        if not administrator.is_active_administrator:
            return []
        return list(self._session.scalars(select(AdminCandidacy).where(
            AdminCandidacy.siren == administrator.siret[:9],
            AdminCandidacy.status == CandidacyStatus.PENDING)
            .order_by(AdminCandidacy.created_at)))

    def decide(self, administrator: Account, candidacy_id: int, accept: bool,
               origin: Origin) -> bool:
        """Accord or Refus by any administrator of the company; the candidate is told."""
        candidacy = self._session.get(AdminCandidacy, candidacy_id)
        if (candidacy is None or candidacy.status is not CandidacyStatus.PENDING
                or candidacy.siren != administrator.siret[:9]
                or not administrator.is_active_administrator):
            return False
        if not self._settle(candidacy, accept, administrator.id):
            return False
        self._journal.record("candidacy.decided", "success", account_id=administrator.id,
                             origin=origin, details={"candidate": str(candidacy.account_id),
                                                     "accepted": accept})
        self._session.commit()
        self._notifier.candidacy_decided(candidacy.account, accept)
        return True

    def activate_with_key(self, account: Account, key: str, origin: Origin) -> bool:
        """The candidate types the key of the letter: they become administrator."""
        candidacy = self._session.scalar(select(AdminCandidacy).where(
            AdminCandidacy.account_id == account.id,
            AdminCandidacy.status == CandidacyStatus.PENDING))
        typed = "-".join(key.upper().replace("-", "").replace(" ", "")[i:i + 4]
                         for i in range(0, 12, 4))
        if (candidacy is None or not self._hasher.verify(candidacy.activation_key_hash, typed)
                or not self._settle(candidacy, True, account.id)):
            self._journal.record("candidacy.key", "failure", account_id=account.id,
                                 origin=origin)
            self._session.commit()
            return False
        self._journal.record("candidacy.key", "success", account_id=account.id, origin=origin)
        self._session.commit()
        return True

    def _settle(self, candidacy: AdminCandidacy, accept: bool, by: uuid.UUID) -> bool:
        # Conditional UPDATE: of decisions racing (two administrators, a key typed twice),
        # one settles the candidacy; the others find it settled.
        settled = self._session.execute(
            update(AdminCandidacy)
            .where(AdminCandidacy.id == candidacy.id,
                   AdminCandidacy.status == CandidacyStatus.PENDING)
            .values(status=CandidacyStatus.ACCEPTED if accept else CandidacyStatus.REFUSED,
                    decided_by=by, decided_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if not settled:
            self._session.rollback()
            return False
        self._session.refresh(candidacy)
        candidacy.account.status = Status.ACTIVE if accept else Status.REMOVED
        return True

    # --- purge --------------------------------------------------------------------------

    def purge(self, registration_ttl: timedelta) -> tuple[int, int]:
        """Delete unfinished registrations and expired candidacies; return both counts."""
        now = utcnow()
        registrations = self._session.execute(delete(Registration).where(
            Registration.created_at < now - registration_ttl)).rowcount
        expired = list(self._session.scalars(select(AdminCandidacy).where(
            AdminCandidacy.status == CandidacyStatus.PENDING,
            AdminCandidacy.created_at < now - timedelta(days=self._candidacy_days))))
        for candidacy in expired:
            candidacy.account.status = Status.REMOVED
            self._session.delete(candidacy)
        self._journal.record("registration.purge", "success", details={
            "registrations": registrations, "candidacies": len(expired)})
        self._session.commit()
        return registrations, len(expired)
