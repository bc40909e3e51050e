from django.apps import AppConfig
from django.contrib.admin import apps as django_admin_apps


class SessionsAppConfig(AppConfig):
    default = True
    name = "sessions_app"
    verbose_name = "Chat sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import database, search, signals  # noqa: F401  (connect their receivers)


class AdminConfig(django_admin_apps.AdminConfig):
    """Django's admin, on the site that checks what pages it never sends (admin_site.py)."""

    default = False  # not this app's: INSTALLED_APPS names it for django.contrib.admin
    default_site = "sessions_app.admin_site.AdminSite"
