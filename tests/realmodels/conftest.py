"""Session fixtures: tiny random real-architecture models with real-format tokenizers (see ``builders``), and
a tiny local math benchmark / traces file. Built offline into pytest's temporary directory, once per session."""

from __future__ import annotations

import pytest

from tests.realmodels.builders import build_llama3_style, build_qwen_chatml
from tests.realmodels.data import write_math_jsonl, write_traces_jsonl


@pytest.fixture(scope="session")
def qwen_chatml_dir(tmp_path_factory):
    """Qwen2ForCausalLM + Qwen2.5-format ChatML tokenizer: eos ``<|endoftext|>`` (96), ``<|im_start|>`` (97),
    ``<|im_end|>`` (98); generation config stops at ``<|endoftext|>`` only (a Qwen2.5 base model)."""
    return build_qwen_chatml(tmp_path_factory.mktemp("qwen_chatml"))


@pytest.fixture(scope="session")
def llama3_dir(tmp_path_factory):
    """LlamaForCausalLM + Llama-3-style tokenizer: bos ``<|begin_of_text|>`` (96), eos ``<|end_of_text|>``
    (97), ``<|start_header_id|>`` (98), ``<|end_header_id|>`` (99), ``<|eot_id|>`` (100); no pad token;
    generation config stops at ``<|end_of_text|>`` only (a Llama 3 base model)."""
    return build_llama3_style(tmp_path_factory.mktemp("llama3"))


@pytest.fixture(scope="session")
def math_bench_file(tmp_path_factory):
    """A 6-row ``.jsonl`` benchmark: id, problem ("What is 2+3?"), answer ("5")."""
    return write_math_jsonl(tmp_path_factory.mktemp("realmodels_data") / "math.jsonl")


@pytest.fixture(scope="session")
def traces_file(tmp_path_factory):
    """A 6-row ``.jsonl`` of traces: id, problem, answer, solution ("2+3=5. The answer is \\\\boxed{5}.")."""
    return write_traces_jsonl(tmp_path_factory.mktemp("realmodels_traces") / "traces.jsonl")
