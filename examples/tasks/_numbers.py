"""A translation corpus the example makes itself: English number phrases and their French.

Numbers 0-9999 written out in English (British style: "three hundred and
forty-two") and in French ("trois cent quarante-deux").  The pair is a small
machine-translation task with the features that make translation more than a
word lookup: French counts in twenties from 60 to 99 ("ninety-seven" ->
"quatre-vingt-dix-sept", four words for two), inserts "et" in 21, 31, ..., 71
but not in 81 or 91, writes plural "cents"/"vingts" only at the end of a
number, and drops "and".

Phrases are token lists: words, with each hyphen a token of its own, so a
translation joins back into the written form.  BLEU (Papineni et al., 2002)
is computed here too, on those tokens.
"""

from __future__ import annotations

import math
from collections import Counter

_EN_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
            "ninety"]
_FR_UNITS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf",
             "dix", "onze", "douze", "treize", "quatorze", "quinze", "seize"]
_FR_TENS = ["", "dix", "vingt", "trente", "quarante", "cinquante", "soixante"]


def english(n: int) -> str:
    """``n`` (0-9999) in English words, British style ("one hundred and five")."""
    if not 0 <= n <= 9999:
        raise ValueError(f"Expected 0 <= n <= 9999. Received: n={n}")
    if n < 20:
        return _EN_UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_UNITS[unit]}" if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = f"{_EN_UNITS[hundreds]} hundred"
        return head + (f" and {english(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = f"{_EN_UNITS[thousands]} thousand"
    if not rest:
        return head
    return head + (f" and {english(rest)}" if rest < 100 else f" {english(rest)}")


def _french_below_100(n: int, last: bool) -> str:
    if n <= 16:
        return _FR_UNITS[n]
    if n < 20:
        return f"dix-{_FR_UNITS[n - 10]}"
    if n < 70:
        tens, unit = divmod(n, 10)
        if unit == 0:
            return _FR_TENS[tens]
        joint = " et " if unit == 1 else "-"
        return _FR_TENS[tens] + joint + _FR_UNITS[unit]
    if n < 80:  # soixante-dix ... soixante-dix-neuf, with "et onze"
        rest = n - 60
        joint = " et " if rest == 11 else "-"
        return "soixante" + joint + _french_below_100(rest, last)
    rest = n - 80  # quatre-vingts; quatre-vingt-un ... quatre-vingt-dix-neuf, no "et"
    if rest == 0:
        return "quatre-vingts" if last else "quatre-vingt"
    return "quatre-vingt-" + _french_below_100(rest, last)


def french(n: int) -> str:
    """``n`` (0-9999) in French words (traditional spelling: hyphens below 100 only)."""
    if not 0 <= n <= 9999:
        raise ValueError(f"Expected 0 <= n <= 9999. Received: n={n}")
    thousands, rest = divmod(n, 1000)
    hundreds, below = divmod(rest, 100)
    words = []
    if thousands:
        words.append("mille" if thousands == 1 else f"{_FR_UNITS[thousands]} mille")
    if hundreds:
        plural = hundreds > 1 and below == 0
        head = "cent" if hundreds == 1 else f"{_FR_UNITS[hundreds]} cent"
        words.append(head + ("s" if plural else ""))
    if below or not words:
        words.append(_french_below_100(below, last=True))
    return " ".join(words)


def tokens(phrase: str) -> list[str]:
    """Words and hyphens as tokens: ``"quatre-vingt-dix"`` -> ``quatre - vingt - dix``."""
    return phrase.replace("-", " - ").split()


def detokenize(toks: list[str]) -> str:
    """The written form of a token list (hyphens joined to their neighbours)."""
    return " ".join(toks).replace(" - ", "-")


def bleu(candidates: list[list[str]], references: list[list[str]], max_n: int = 4) -> float:
    """Corpus BLEU with one reference per sentence (geometric mean of n-gram precisions,
    n = 1..max_n, times the brevity penalty), in [0, 1].
    """
    matched = [0] * max_n
    total = [0] * max_n
    cand_len = ref_len = 0
    for cand, ref in zip(candidates, references):
        cand_len += len(cand)
        ref_len += len(ref)
        for n in range(1, max_n + 1):
            c = Counter(tuple(cand[i:i + n]) for i in range(len(cand) - n + 1))
            r = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            matched[n - 1] += sum(min(k, r[g]) for g, k in c.items())
            total[n - 1] += max(len(cand) - n + 1, 0)
    if min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    brevity = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / max(cand_len, 1))
    return brevity * math.exp(log_precision)
