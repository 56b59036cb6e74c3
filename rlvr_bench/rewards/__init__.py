"""Verifiable rewards as plain functions, a registry by name, and adapters for TRL and verl.

No torch anywhere in this package, and importing it starts nothing: the math-verify worker pool starts
on the first answer that needs it, each code sandbox is a short-lived child process.

    from rlvr_bench.rewards import math_reward, score_batch, code_reward, get_reward
    math_reward(r"...,36+1=37 \\boxed{37}", "37")                   # 1.0 (in-process fast path)
    score_batch(completions, answers, timeout=3.0)                 # list[float], parallel, cached
    code_reward(completion, ["assert add(1, 2) == 3"])             # sandboxed
    get_reward("math"), compose_rewards({"math": 1.0, "format": 0.1})  # .verdict(s) -> Verdict; float forms
    make_trl_reward("math", answer_column="answer")                # TRL reward function
    verl_compute_score(data_source, solution_str, ground_truth)    # verl custom reward

Details (extraction rules, fast path, timeout model, sandbox limits): docs/rewards.md.
"""

from __future__ import annotations

from . import (
    builtin,  # noqa: F401  (registers math, gsm8k, code, auto, format, code_format)
    controls,  # noqa: F401  (registers the controls random, format_only, incorrect, majority_vote)
)
from .adapters import completion_text, make_trl_reward, verl_compute_score, verl_compute_score_batch
from .code_reward import code_reward, code_reward_detailed, code_score_batch, code_score_batch_detailed
from .code_tests import CodeTests, parse_tests
from .extract import extract_answer, extract_code
from .math_verifier import (
    DEFAULT_TIMEOUT,
    configure_math_verifier,
    gsm8k_reward,
    gsm8k_score_batch,
    math_reward,
    math_reward_detailed,
    score_batch,
    score_batch_detailed,
    shutdown_math_verifier,
)
from .registry import (
    Reward,
    compose_rewards,
    control_rewards,
    get_reward,
    list_rewards,
    register_reward,
    reward_for_source,
    reward_sources,
)
from .results import CODE_REASONS, MATH_REASONS, CodeResult, MathResult, Verdict
from .sandbox import SandboxLimits
from .shaping import format_reward, overlong_penalty, random_reward

__all__ = [
    "control_rewards",
    "CODE_REASONS",
    "DEFAULT_TIMEOUT",
    "MATH_REASONS",
    "CodeResult",
    "CodeTests",
    "MathResult",
    "Reward",
    "SandboxLimits",
    "Verdict",
    "code_reward",
    "code_reward_detailed",
    "code_score_batch",
    "code_score_batch_detailed",
    "completion_text",
    "compose_rewards",
    "configure_math_verifier",
    "extract_answer",
    "extract_code",
    "format_reward",
    "get_reward",
    "gsm8k_reward",
    "gsm8k_score_batch",
    "list_rewards",
    "make_trl_reward",
    "math_reward",
    "math_reward_detailed",
    "overlong_penalty",
    "parse_tests",
    "random_reward",
    "register_reward",
    "reward_for_source",
    "reward_sources",
    "score_batch",
    "score_batch_detailed",
    "shutdown_math_verifier",
    "verl_compute_score",
    "verl_compute_score_batch",
]
