"""Readers of the environment variables that configure the service.

A value one cannot read stops the start with ImproperlyConfigured, naming the
variable: manage.py prints it as one line, gunicorn as `Error: ...`. An empty or
missing variable gives the default.
"""
import logging
import os
import re

from django.core.exceptions import ImproperlyConfigured


ON = {"1", "true", "yes", "on"}
OFF = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    # Refused rather than read as off: a misspelt DJANGO_SECURE_SSL_REDIRECT=ture was silently off.
    if value.lower() not in ON | OFF:
        raise ImproperlyConfigured(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {value!r}.")
    return value.lower() in ON


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None
    # None of them has a meaning below its minimum: a negative DJANGO_NUM_PROXIES, say,
    # read the client's address from the wrong end of X-Forwarded-For.
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more, got {value!r}.")
    return number


def env_log_level(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    # Python's logging knows the names in capitals only; it also takes WARN, FATAL and NOTSET.
    if value.upper() not in logging.getLevelNamesMapping():
        raise ImproperlyConfigured(f"{name} must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}.")
    return value.upper()


def env_rate(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    # The form DRF's throttles read (of the period, only its first letter counts: 100/hr);
    # anything else failed every throttled request with a 500. Its parser cannot be
    # imported here: it reads the settings this is building.
    if not re.fullmatch(r"[0-9]+ */[smhd].*", value):
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per second, minute, hour or day, such as '30/minute', "
            f"got {value!r}."
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default
