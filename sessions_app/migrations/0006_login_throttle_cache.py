from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    # The login limits' counts (settings.CACHES["login_throttle"]). Made here so that
    # `migrate`, which every deployment runs, is all it takes; existing tables are kept.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0005_session_total")]

    # Reversing keeps the table: it holds only counts that expire within their period.
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
