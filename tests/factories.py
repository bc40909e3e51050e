import factory
from django.contrib.auth import get_user_model

from sessions_app import services
from sessions_app.models import Message, Session


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    owner = factory.SubFactory(UserFactory)
    key = factory.Sequence(lambda n: f"session_{n:012x}")
    channel = "web"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Written directly, like a bulk load, so it keeps the owner's total as one does.
        session = super()._create(model_class, *args, **kwargs)
        services.session_totals_adjust(changes={session.owner_id: 1})
        return session


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    session = factory.SubFactory(SessionFactory)
    role = Message.Role.USER
    content = factory.Sequence(lambda n: f"message number {n}")


def session_with_messages(*, count: int, **session_fields) -> Session:
    """A session holding `count` messages, written in one bulk insert."""
    session = SessionFactory(message_count=count, **session_fields)
    Message.objects.bulk_create(
        Message(session=session, role=Message.Role.USER, content=f"message {i}")
        for i in range(count)
    )
    return session
