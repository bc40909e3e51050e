"""What counts as a space, in one place: Python's str.isspace, the same in SQL on either database."""
import re

# Every character str.split() splits on; all lie below U+3001 (U+3000 is the last).
WHITESPACE = "".join(character for character in map(chr, range(0x3001)) if character.isspace())
# Text with a word in it, as a regex SQLite (through Python's re) and PostgreSQL read alike;
# their own \S disagree on no-break spaces and a few others.
HAS_WORDS_REGEX = f"[^{WHITESPACE}]"

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def one_line(text: str) -> str:
    """Runs of spaces and line breaks become one space; none at either end."""
    return " ".join(text.split())


def markdown_escaped(text: str) -> str:
    """Plain text that Markdown shows as it is: every ASCII punctuation mark escaped."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
