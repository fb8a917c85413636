"""What gunicorn (and ``flask --app wsgi``) serves."""

from idp import create_app

app = create_app()
