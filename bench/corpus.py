"""Deterministic chat-like text shared by the benchmark and the PocketPaw driver."""
import random
from collections.abc import Iterator

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first water "
    "been call who oil its now find long down day did get come made may part trip plan weekend "
    "city train hotel museum dinner budget code python error function deploy server database"
).split()
# A word that appears in roughly one session in a thousand.
RARE_WORD = "quokkafest"
COMMON_WORD = "the"


def message_texts(*, seed: int) -> Iterator[str]:
    """Messages of 5 to 80 words (about 25 to 450 characters), like a chat's mix of short and long."""
    rng = random.Random(seed)
    choice, randint = rng.choice, rng.randint
    while True:
        yield " ".join(choice(WORDS) for _ in range(randint(5, 80)))
