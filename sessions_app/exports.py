"""A session as a downloadable file. Streamed, so a session of any size exports in constant memory."""
import json
from collections.abc import Iterable, Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from . import selectors
from .models import Session
from .serializers import MessageSerializer
from .text import markdown_escaped, one_line

EXPORT_VERSION = 1
# Pieces are joined into chunks of about this many characters: a server writes each
# chunk to the socket on its own, and one write per message made exports crawl.
CHUNK_CHARS = 64 * 1024


def session_export_json(*, session: Session) -> Iterator[str]:
    return _chunked(_json_pieces(session))


def session_export_markdown(*, session: Session) -> Iterator[str]:
    return _chunked(_markdown_pieces(session))


def _json_pieces(session: Session) -> Iterator[str]:
    # One serializer for every message: building one per message (its fields, from the
    # model's) made a 100,000-message export take 40 s instead of 5 (profiled in bench/).
    serializer = MessageSerializer()
    session, messages = selectors.session_for_export(session=session)
    header = {
        "export_version": EXPORT_VERSION,
        "exported_at": _timestamp(serializer, timezone.now()),
        "session_id": session.key,
        "title": session.title,
        "message_count": session.message_count,
    }
    # The header object, left open so the messages can follow one by one.
    yield json.dumps(header)[:-1] + ', "messages": ['
    for index, message in enumerate(messages):
        separator = ", " if index else ""
        yield separator + json.dumps(serializer.to_representation(message), cls=DjangoJSONEncoder)
    yield "]}\n"


def _markdown_pieces(session: Session) -> Iterator[str]:
    serializer = MessageSerializer()
    session, messages = selectors.session_for_export(session=session)
    # A title is plain text, and may hold line breaks, where a Markdown heading would end.
    yield f"# {markdown_escaped(one_line(session.title))}\n\n"
    yield (
        f"Session `{session.key}` · channel {session.channel} · "
        f"{session.message_count} message{'' if session.message_count == 1 else 's'} · "
        f"exported {_timestamp(serializer, timezone.now())}\n"
    )
    for message in messages:
        yield (
            f"\n## {message.role} · {_timestamp(serializer, message.created_at)}\n\n"
            f"{message.content}\n"
        )


def _timestamp(serializer: MessageSerializer, moment) -> str:
    return serializer.fields["timestamp"].to_representation(moment)


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    buffered, size = [], 0
    for piece in pieces:
        buffered.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(buffered)
            buffered, size = [], 0
    if buffered:
        yield "".join(buffered)
