"""Deleting a user account deletes its sessions through the deletion service.

A receiver is the one hook that sees every way an account goes (the admin, a
shell, another app's code). It holds no logic of its own: it calls the same
service as every other path, so the messages go set-based and each session
leaves its DeletionRecord, in the transaction that deletes the user.
"""
from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from . import services


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="sessions_app.user_deleted")
def delete_sessions_of_deleted_user(sender, instance, **kwargs):
    # The admin deletes them itself first, naming who did it; here none are left then.
    services.sessions_of_deleted_users_delete(users=[instance])
