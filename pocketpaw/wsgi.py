"""WSGI entry point, used by application servers such as gunicorn."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pocketpaw.settings")

application = get_wsgi_application()
