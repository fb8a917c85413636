"""``flask idp client …`` and ``flask idp keys rotate``."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from idp.oidc.clients import (
    AUTH_METHODS,
    SCOPES,
    InsecureAddress,
    RegisteredClient,
    UnknownScope,
    UnknownService,
)
from idp.oidc.deps import client_registry, keyring

client_cli = AppGroup("client", help="Sites partenaires (clients OpenID Connect).")
keys_cli = AppGroup("keys", help="Clés de signature des jetons.")


def describe(client: RegisteredClient, secret: str | None = None) -> dict:
    """A partner as JSON; the secret only right after creation."""
    data = {
        "client_id": client.client_id,
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "initiate_login_uri": client.initiate_login_uri,
        "grant_types": list(client.grant_types),
        "scope": client.scope,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "services": sorted(client.services),
        "widget_origins": list(client.widget_origins),
        "exchange_audiences": list(client.exchange_audiences),
    }
    if secret:
        data["client_secret"] = secret
    return data


@client_cli.command("create")
@click.option("--name", required=True, help="Nom du site partenaire.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--initiate-login-uri")
@click.option("--service", "services", multiple=True,
              help="Code d'un service hébergé (DSN, ATMP…) : ses habilitations iront au jeton.")
@click.option("--scope", "scopes", multiple=True, default=SCOPES, show_default=True,
              help="Portée que le site peut demander (une par option) ; les autres sont "
                   "refusées (invalid_scope).")
@click.option("--widget-origin", "widget_origins", multiple=True,
              help="Origine (https://hôte[:port]) d'une page qui peut afficher le widget de "
                   "connexion ; http seulement en boucle locale.")
@click.option("--may-exchange-for", "exchange_audiences", multiple=True,
              help="client_id d'un partenaire pour lequel ce site peut échanger un jeton "
                   "(RFC 8693).")
@click.option("--public", is_flag=True, help="Client sans secret (PKCE obligatoire).")
@click.option("--auth-method", type=click.Choice([m for m in AUTH_METHODS if m != "none"]),
              default="client_secret_basic", show_default=True)
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]), default="RS256",
              show_default=True)
@click.option("--jwks-file", type=click.File(), help="Clés publiques (private_key_jwt).")
def create_client(name, redirect_uris, post_logout_uris, backchannel_logout_uri,
                  initiate_login_uri, services, scopes, widget_origins, exchange_audiences,
                  public, auth_method, id_token_alg, jwks_file):
    """Enregistre un site partenaire et affiche sa fiche JSON (secret montré une seule fois)."""
    jwks = json.load(jwks_file) if jwks_file else None
    if auth_method == "private_key_jwt" and not jwks:
        raise click.UsageError("private_key_jwt demande --jwks-file")
    try:
        client, secret = client_registry().create(
            name, list(redirect_uris), post_logout_redirect_uris=post_logout_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            initiate_login_uri=initiate_login_uri, services=services, public=public,
            auth_method=auth_method, id_token_alg=id_token_alg, jwks=jwks, scopes=scopes,
            widget_origins=widget_origins, exchange_audiences=exchange_audiences)
    except UnknownService as exc:
        raise click.UsageError(f"service inconnu : {exc}") from exc
    except UnknownScope as exc:
        raise click.UsageError(f"portée inconnue : {exc}") from exc
    except InsecureAddress as exc:
        raise click.UsageError(f"adresse refusée (https obligatoire, http seulement en "
                               f"boucle locale ; une origine sans chemin) : {exc}") from exc
    click.echo(json.dumps(describe(client, secret), ensure_ascii=False, indent=2))


@client_cli.command("list")
def list_clients():
    """Liste les sites partenaires (JSON, sans secret)."""
    clients = [describe(c) for c in client_registry().all()]
    click.echo(json.dumps(clients, ensure_ascii=False, indent=2))


@client_cli.command("delete")
@click.argument("client_id")
def delete_client(client_id):
    """Supprime un site partenaire."""
    if not client_registry().delete(client_id):
        raise click.ClickException(f"aucun site partenaire {client_id}")
    click.echo(f"Site partenaire {client_id} supprimé.")


@keys_cli.command("rotate")
@click.option("--publish-delay", type=int, default=3600, show_default=True,
              help="Secondes entre la publication des nouvelles clés et leur usage.")
def rotate_keys(publish_delay):
    """Publie de nouvelles clés (RS256, ES256), utilisées après le délai de publication."""
    config = current_app.config
    keep = max(config["OIDC_ACCESS_TOKEN_LIFETIME_SECONDS"],
               config["OIDC_ID_TOKEN_LIFETIME_SECONDS"])
    kids = keyring().rotate(timedelta(seconds=publish_delay), timedelta(seconds=keep))
    click.echo(f"Nouvelles clés publiées : {', '.join(kids)} ; "
               f"signature avec elles dans {publish_delay} s.")
