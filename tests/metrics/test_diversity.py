import math

import pytest

from rlvr_bench.metrics import answer_diversity, distinct_correct_traces, ngram_diversity


def test_answer_diversity_counts_and_entropy():
    result = answer_diversity(["4", "4", "5", None])
    assert result["distinct"] == 2 and result["no_answer"] == 0.25
    # 3 answered samples: p = 2/3, 1/3
    assert result["entropy"] == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))
    uniform = answer_diversity(["a", "b", "c", "d"])
    assert uniform["entropy"] == pytest.approx(math.log(4)) and uniform["no_answer"] == 0.0
    assert answer_diversity(["x"] * 5) == {"distinct": 1, "entropy": 0.0, "no_answer": 0.0}
    assert answer_diversity([None, None]) == {"distinct": 0, "entropy": 0.0, "no_answer": 1.0}
    with pytest.raises(ValueError):
        answer_diversity([])


def test_distinct_correct_traces_normalises_whitespace():
    texts = ["x = 2\nso 4", "x = 2 so  4 ", "x=2 so 4", "wrong 5", "X = 2 so 4"]
    correct = [True, True, True, False, True]
    # first two equal after whitespace normalisation; "x=2" and "X = 2" differ (spacing inside, case)
    assert distinct_correct_traces(texts, correct) == 3
    assert distinct_correct_traces(texts, [False] * 5) == 0
    with pytest.raises(ValueError):
        distinct_correct_traces(texts, correct[:2])


def test_ngram_diversity():
    # "a b c d": trigrams abc, bcd; "a b c": abc -> 2 distinct of 3 total
    assert ngram_diversity(["a b c d", "a b c"], n=3) == pytest.approx(2 / 3)
    # unigrams: a b a / a c -> distinct {a, b, c} of 5 tokens
    assert ngram_diversity(["a b a", "a c"], n=1) == pytest.approx(3 / 5)
    # n-grams never span two samples: "a b" + "c d" has bigrams ab, cd only
    assert ngram_diversity(["a b", "c d"], n=2) == 1.0
    assert ngram_diversity(["same text here"] * 4, n=3) == pytest.approx(1 / 4)
    assert ngram_diversity(["too short", ""], n=3) == 0.0 and ngram_diversity([], n=2) == 0.0
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError):
            ngram_diversity(["a b c"], n=bad)
