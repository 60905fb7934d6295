"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi …``."""

from hub import create_app

app = create_app()
