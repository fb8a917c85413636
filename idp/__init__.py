"""The Net-entreprises identity provider: ``create_app`` builds the Flask application."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.accounts.login import SESSION_OWNER_KEY
from idp.config import load_settings
from idp.extensions import babel, csrf, db, migrate, select_locale, store
from idp.sessions import StoreSessionInterface

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: embedded defaults, then ``IDP_*`` variables, then ``config``."""
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        instance_relative_config=True,
    )
    app.config.update(load_settings(app.instance_path, config))

    if app.config["TRUSTED_PROXIES"]:
        # Only behind a known number of proxies may X-Forwarded-For name the client: the
        # per-IP throttle and the journal would otherwise trust an address the client chose.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"],
                                x_proto=1)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    store.init_app(app)
    app.session_interface = StoreSessionInterface(
        store.get_from(app), app.config["SESSION_IDLE_MINUTES"], SESSION_OWNER_KEY
    )

    _import_models()
    _register_blueprints(app)

    from idp import cli, errors, mail, web

    mail.init_app(app)
    web.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    return app


def _import_models() -> None:
    """Load every model so that the metadata (and Alembic) knows all tables."""
    from idp.accounts import models as _accounts  # noqa: F401
    from idp.audit import models as _audit  # noqa: F401
    from idp.delivery import models as _delivery  # noqa: F401
    from idp.directory import models as _directory  # noqa: F401
    from idp.habilitations import models as _habilitations  # noqa: F401
    from idp.notifications import models as _notifications  # noqa: F401
    from idp.oidc import models as _oidc  # noqa: F401
    from idp.registration import models as _registration  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from idp.accounts.application_password_views import bp as application_passwords_bp
    from idp.accounts.certificate_views import bp as certificates_bp
    from idp.accounts.passkey_views import bp as passkeys_bp
    from idp.accounts.recovery_views import bp as recovery_bp
    from idp.accounts.security_views import bp as security_bp
    from idp.accounts.views import bp as accounts_bp
    from idp.accounts.welcome_views import bp as welcome_bp
    from idp.admin.bulk_views import bp as admin_bulk_bp
    from idp.admin.declarants_views import bp as admin_declarants_bp
    from idp.admin.portfolio_views import bp as admin_portfolios_bp
    from idp.admin.rights_views import bp as admin_rights_bp
    from idp.admin.services_views import bp as admin_services_bp
    from idp.admin.views import bp as admin_bp
    from idp.interop import views as interop_views
    from idp.machine.views import bp as machine_bp
    from idp.notifications import views as notifications_views
    from idp.notifications.api import bp as notifications_api_bp
    from idp.oidc import jetons as oidc_jetons
    from idp.oidc import lean_token
    from idp.oidc import server as oidc_server
    from idp.oidc import signals as oidc_signals
    from idp.oidc.api import bp as oidc_api_bp
    from idp.oidc.views import bp as oidc_bp
    from idp.pages.views import bp as pages_bp
    from idp.registration.views import bp as registration_bp
    from idp.widget.views import bp as widget_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(security_bp)
    app.register_blueprint(application_passwords_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(passkeys_bp)
    app.register_blueprint(recovery_bp)
    app.register_blueprint(welcome_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(admin_declarants_bp)
    app.register_blueprint(admin_rights_bp)
    app.register_blueprint(admin_services_bp)
    app.register_blueprint(admin_portfolios_bp)
    app.register_blueprint(admin_bulk_bp)
    oidc_server.init_app(app)
    oidc_signals.init_app(app)
    lean_token.init_app(app)  # client credentials and refresh rotations below Flask
    oidc_jetons.init_app(app)
    app.register_blueprint(machine_bp)  # /authentifier/1.0/ for payroll software
    notifications_views.init_app(app)  # « Vos notifications » and the badge of /compte
    app.register_blueprint(notifications_api_bp)  # /api/v1/notifications for partners
    app.register_blueprint(oidc_bp)
    app.register_blueprint(oidc_api_bp)  # /api/v1: habilitations for partners
    interop_views.init_app(app)  # its blueprint and the « Vos services » panel
    app.register_blueprint(widget_bp)
