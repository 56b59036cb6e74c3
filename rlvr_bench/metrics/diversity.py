"""Diversity of one problem's samples: answer spread, distinct correct traces and distinct-n.

RL with verifiable rewards tends to sharpen the output distribution (arXiv 2504.13837 relates the
narrowing of pass@k at large k to it); these counts make that visible per problem:

- ``answer_diversity``: how many different final answers the samples reach and the Shannon entropy of
  their distribution (the answer-entropy signal used by self-consistency analyses, Wang et al. 2022,
  arXiv 2203.11171), plus the share of samples without an extracted answer;
- ``distinct_correct_traces``: how many textually different correct solutions there are;
- ``ngram_diversity``: distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
  Conversation Models", NAACL, arXiv 1510.03055).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def answer_diversity(answers: Sequence[str | None]) -> dict[str, float | int]:
    """Spread of one problem's extracted answers: ``{"distinct", "entropy", "no_answer"}``.

    - ``distinct``: number of distinct non-None answers (int);
    - ``entropy``: Shannon entropy, in nats, of the empirical answer distribution over the samples that
      have an answer, ``-sum_a p_a log p_a`` with ``p_a = count_a / answered``; 0.0 for a single answer
      and for no answer at all; at most ``log(distinct)``;
    - ``no_answer``: fraction of samples whose answer is ``None``.

    Answers must already be normalised so that equal answers compare equal (any hashable works).
    Raises ``ValueError`` on an empty sequence.
    """
    if len(answers) == 0:
        raise ValueError("answers must hold at least one sample")
    counts = Counter(a for a in answers if a is not None)
    answered = sum(counts.values())
    entropy = 0.0
    for count in counts.values():
        p = count / answered
        entropy -= p * math.log(p)
    return {
        "distinct": len(counts),
        "entropy": max(0.0, entropy),  # max() turns -0.0 into 0.0
        "no_answer": (len(answers) - answered) / len(answers),
    }


def _normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def distinct_correct_traces(texts: Sequence[str], correct: Sequence[bool]) -> int:
    """Number of distinct texts among the correct samples, after whitespace normalisation.

    Runs of whitespace (spaces, tabs, newlines) become one space and leading and trailing whitespace is
    dropped, so traces that differ only in layout count once; case and punctuation are kept. Raises
    ``ValueError`` when the two sequences differ in length.
    """
    if len(texts) != len(correct):
        raise ValueError(f"texts has {len(texts)} entries but correct has {len(correct)}")
    return len({_normalise_whitespace(t) for t, ok in zip(texts, correct) if ok})


def ngram_diversity(texts: Sequence[str], n: int = 3) -> float:
    """distinct-n of one problem's samples: distinct n-grams / total n-grams, pooled over all samples.

    Tokens are whitespace-separated words; n-grams are taken within each sample (never across two
    samples) and pooled, so the value is 1.0 when no n-gram repeats anywhere and falls towards 0 as
    samples repeat each other. Returns 0.0 when no sample has n tokens. This is distinct-n of Li et al.
    2016 (arXiv 1510.03055) with the total n-gram count as denominator, as in most implementations; Li et
    al. divide by the number of tokens, which differs only by the n - 1 missing n-grams per sample.
    Raises ``ValueError`` for n < 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = text.split()
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0
