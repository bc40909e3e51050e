"""The migrations describe the models as they are."""
import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    # --check exits with status 1 when the models differ from the migrations.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
