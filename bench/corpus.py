"""Deterministic chat-like text, shared by the benchmark and the PocketPaw driver.

Imports nothing but the standard library: the same module runs in the service's
environment and in bench/.venv-pocketpaw, so both stores get byte-identical data.

Messages are 50 to 800 characters of pseudo-English (sentences of words drawn
from a fixed list with a fixed seed). They come from a pool of distinct texts
that is cycled: generating a million texts one by one would cost more than
storing them, and the database does not care that a text recurs.
"""

import random

WORDS = (
    "the of and to a in is you that it he was for on are as with his they I at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first water "
    "been call who oil its now find long down day did get come made may part over new sound take "
    "only little work know place year live me back give most very after thing our just name good "
    "sentence man think say great where help through much before line right too mean old any same "
    "tell boy follow came want show also around form three small set put end does another well "
    "large must big even such because turn here why ask went men read need land different home us "
    "move try kind hand picture again change off play spell air away animal house point page letter "
    "mother answer found study still learn should America world trip plan weekend city train hotel "
    "museum dinner budget flight booking restaurant itinerary code python error function deploy "
    "server database query index migration test request response token session message delete "
    "search list title export user assistant please thanks could you explain why does this fail "
    "Lisbon Porto Berlin Tokyo Kyoto Paris recipe garden invoice meeting calendar reminder summary"
).split()

# In exactly RARE_HITS sessions of any store (fewer than a search page of 20, so
# finding them all means looking at every message); in no other text.
RARE_WORD = "quokkafest"
RARE_HITS = 8
# In nearly every message (and inside "them", "there", "other"): a page of 20 is found at once.
COMMON_WORD = "the"

MIN_CHARS, MAX_CHARS = 50, 800
POOL_SIZE = 16_384
POOL_SEED = 20_260_501


class TextPool:
    """POOL_SIZE distinct texts; `text(k)` is the k-th message of a store, cycling through them."""

    def __init__(self, seed: int = POOL_SEED, size: int = POOL_SIZE):
        rng = random.Random(seed)
        stream = iter(rng.choices(WORDS, k=size * 140))
        self.texts = []
        for _ in range(size):
            target = rng.randint(MIN_CHARS, MAX_CHARS - 1)
            parts, length, sentence = [], 0, 0
            while True:
                word = next(stream)
                if sentence == 0:
                    word = word[:1].upper() + word[1:]
                sentence += 1
                if sentence >= 6 and rng.random() < 0.15:
                    word += "."
                    sentence = 0
                if length + len(word) > target and length - 1 >= MIN_CHARS:
                    break
                parts.append(word)
                length += len(word) + 1
            text = " ".join(parts)
            self.texts.append(text if text.endswith(".") else text + ".")
        self.size = size

    def text(self, k: int) -> str:
        return self.texts[k % self.size]


def rare_sessions(count: int) -> set[int]:
    """Which of `count` sessions (0 = oldest) carry RARE_WORD: RARE_HITS of them, spread evenly."""
    if count <= RARE_HITS:
        return set(range(count))
    return {int((k + 0.5) * count / RARE_HITS) for k in range(RARE_HITS)}


def session_messages(pool: TextPool, index: int, messages: int, *, rare: set[int], offset: int = 0):
    """The (role, content) pairs of session `index` of a store: the same in every store."""
    for j in range(messages):
        content = pool.text(offset + index * messages + j)
        if j == 0 and index in rare:
            content = f"{content} Remember the {RARE_WORD} tickets."
        yield ("user" if j % 2 == 0 else "assistant"), content
