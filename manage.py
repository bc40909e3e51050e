#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pocketpaw.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting missing or wrong in the environment: one line saying which, for the
        # operator and for a cron job's mail, rather than a traceback. --traceback shows it.
        if "--traceback" in sys.argv:
            raise
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()
