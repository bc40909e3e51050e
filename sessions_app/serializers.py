"""Shapes of the API's input and output. Validation of shape only; rules live in services."""
from django.conf import settings
from rest_framework import serializers

from .models import Message, Session
from .validators import validate_session_key


class SessionCreateInputSerializer(serializers.Serializer):
    id = serializers.CharField(
        required=False, max_length=255, trim_whitespace=False, validators=[validate_session_key]
    )
    title = serializers.CharField(required=False, max_length=200)
    channel = serializers.RegexField(
        r"^[A-Za-z0-9_\-.]{1,64}$",
        required=False,
        max_length=64,
        error_messages={"invalid": "Channels are 1-64 letters, digits, '_', '-' or '.'."},
    )


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key")

    class Meta:
        model = Session
        fields = ["id", "title", "channel", "created_at", "updated_at", "message_count"]
        read_only_fields = fields


class MessageCreateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Message.Role.choices)
    content = serializers.CharField(
        trim_whitespace=False, max_length=settings.SESSIONS_MESSAGE_MAX_LENGTH
    )
    metadata = serializers.DictField(required=False)


class MessageSerializer(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Message
        fields = ["id", "role", "content", "timestamp", "metadata"]
        read_only_fields = fields
