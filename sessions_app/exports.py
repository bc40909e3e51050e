"""A session as a downloadable file. Streamed, so a session of any size exports in constant memory."""
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from . import selectors
from .models import Session
from .serializers import MessageSerializer

EXPORT_VERSION = 1


def _timestamp(moment) -> str:
    return MessageSerializer().fields["timestamp"].to_representation(moment)


def session_export_json(*, session: Session) -> Iterator[str]:
    header = {
        "export_version": EXPORT_VERSION,
        "exported_at": _timestamp(timezone.now()),
        "session_id": session.key,
        "title": session.title,
        "message_count": session.message_count,
    }
    # The header object, left open so the messages can follow one by one.
    yield json.dumps(header)[:-1] + ', "messages": ['
    for index, message in enumerate(selectors.message_iterator(session=session)):
        separator = ", " if index else ""
        yield separator + json.dumps(MessageSerializer(message).data, cls=DjangoJSONEncoder)
    yield "]}\n"


def session_export_markdown(*, session: Session) -> Iterator[str]:
    yield f"# {session.title}\n\n"
    yield (
        f"Session `{session.key}` · channel {session.channel} · "
        f"{session.message_count} message{'' if session.message_count == 1 else 's'} · "
        f"exported {_timestamp(timezone.now())}\n"
    )
    for message in selectors.message_iterator(session=session):
        yield f"\n## {message.role} · {_timestamp(message.created_at)}\n\n{message.content}\n"
