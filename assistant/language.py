"""Which language a learner's question is in: a cheap function-word vote, English unless clearly not.

Only the languages the assistant answers in are told apart (English, German, French, Spanish); the
question reader (:mod:`assistant.reading`) is asked whenever this vote is not clearly English.
"""

from __future__ import annotations

import re

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _words("the a an and or of to in for is are do does i my what which how much many can with without "
                    "have has hold need still it that this any from on by long take cost"),
    "de": _words("der die das und oder ist sind ich mein meine was welche welcher welches wie viel viele kann "
                    "mit ohne habe hat brauche noch es dass ein eine einen für von im zu kostet dauert lange "
                    "nicht auch bin wer wo gibt"),
    "fr": _words("le la les et ou est sont je mon ma mes que quel quelle quels quelles combien peux puis avec "
                    "sans besoin encore il un une des du pour dans coûte coute dure qui où suis ne pas"),
    "es": _words("el la los las y o es son yo mi mis qué que cuál cuáles cuánto cuánta cuántos cuesta puedo "
                    "con sin tengo tiene necesito todavía un una para del en dura quién dónde no"),
}
_WORD = re.compile(r"[a-zà-öø-ÿ]+", re.IGNORECASE)


def language_votes(text: str) -> dict[str, int]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {lang: sum(1 for w in words if w in vocab) for lang, vocab in _FUNCTION_WORDS.items()}


def detect_language(text: str) -> str:
    """"en", "de", "fr" or "es": the language with the most function words (English on ties)."""
    votes = language_votes(text)
    best = max(votes, key=lambda lang: (votes[lang], lang == "en"))
    return best if votes[best] > votes["en"] and votes[best] >= 2 else "en"


def clearly_english(text: str) -> bool:
    """English function words and none of the other languages' outnumbering them."""
    votes = language_votes(text)
    others = max(votes[lang] for lang in ("de", "fr", "es"))
    return votes["en"] >= 2 and votes["en"] > 2 * others
