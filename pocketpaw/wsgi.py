"""WSGI entry point, used by application servers such as gunicorn."""
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pocketpaw.settings")

application = get_wsgi_application()

# Django imports the URLconf, and with it every view, serializer and the schema
# generator, on the first request. gunicorn loads this module once in its master
# (preload_app), so importing them here spares each forked worker's first request
# about 100 ms (README, "Performance"). No database connection is opened.
get_resolver().url_patterns
