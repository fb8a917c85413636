"""Portal interoperability: ``/connexion?cible=`` (sign in, then go to a partner's page
through its ``initiate_login_uri``, OpenID Connect Core §4), ``/interop/naviguer`` (from one
portal to another without typing credentials again) and « Vos services » on ``/compte``."""
