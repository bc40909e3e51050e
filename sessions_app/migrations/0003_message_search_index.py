from django.db import migrations

from sessions_app.search import create_index, drop_index


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0002_deletion_record")]

    operations = [migrations.RunPython(create_index, drop_index)]
