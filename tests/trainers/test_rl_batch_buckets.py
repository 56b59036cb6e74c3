"""Less padding in the log-prob passes (``rl_logprobs``: length buckets, shared prompts): the grouping against
hand-computed costs, and the same log-probs, entropies and gradients as one padded call (``plain=True``) on a
random Llama and a random Qwen2 (tests/realmodels/builders.py)."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.trainers import rl_logprobs
from rlvr_bench.trainers.rl_batch import pad_rows, sequence_logprobs
from rlvr_bench.trainers.rl_logprobs import length_buckets, shared_prompt_logprobs


def _groups(prompt, response, **kw) -> list[list[int]]:
    return [g.tolist() for g in length_buckets(torch.tensor(prompt), torch.tensor(response), **kw)]


def test_length_buckets_minimise_padded_tokens_plus_overhead():
    # one group costs 4 x (2 + 10) = 48 tokens; [1, 3] + [0, 2] cost 2 x 3 + 2 x 12 = 30, plus the overhead per call
    assert _groups([2, 2, 2, 2], [10, 1, 10, 1], multiple=2, overhead=0) == [[1, 3], [0, 2]]
    assert _groups([2, 2, 2, 2], [10, 1, 10, 1], multiple=2, overhead=17) == [[1, 3], [0, 2]]  # 30 + 34 < 48 + 17
    assert _groups([2, 2, 2, 2], [10, 1, 10, 1], multiple=2, overhead=19) == [[1, 3, 0, 2]]  # 30 + 38 > 48 + 19
    # cut points every `multiple` rows (the last group takes the rest); an empty response counts as 1 wide:
    # (2 x 2 + 2 x 10 + 1 x 10) + 3 calls = 37 > (2 x 2 + 3 x 10) + 2 calls = 36
    assert _groups([1, 1, 1, 1, 1], [0, 0, 9, 9, 9], multiple=2, overhead=1) == [[0, 1], [2, 3, 4]]
    assert _groups([3], [4]) == [[0]]


def _batch(vocab: int, *, prompts: int, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``prompts`` random prompts (2-11 tokens) x ``n`` random responses (0-19 tokens) each, padded."""
    g = torch.Generator().manual_seed(seed)
    texts = [torch.randint(0, vocab, (int(torch.randint(2, 12, (1,), generator=g)),), generator=g).tolist()
             for _ in range(prompts)]
    responses = [torch.randint(0, vocab, (int(torch.randint(0, 20, (1,), generator=g)),), generator=g).tolist()
                 for _ in range(prompts * n)]
    p_ids, p_mask = pad_rows([texts[i // n] for i in range(prompts * n)], 0, left=True)
    r_ids, r_mask = pad_rows(responses, 0, left=False)
    return {"prompt_ids": p_ids, "prompt_mask": p_mask, "response_ids": r_ids, "response_mask": r_mask}


def _logprobs_and_grads(model, t, idx, *, plain: bool, temperature: float):
    model.zero_grad(set_to_none=True)
    logp, ent = sequence_logprobs(model, t, idx, temperature=temperature, with_entropy=True, plain=plain)
    mask = t["response_mask"][idx].float()
    weights = torch.linspace(-1.0, 1.0, mask.numel()).view_as(mask)  # any loss that mixes rows and tokens
    ((logp * weights * mask).sum() + (ent * mask).sum()).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return logp.detach(), ent.detach(), grads


def _model(arch: str):
    from tests.realmodels import builders

    tok = builders.build_llama3_tokenizer() if arch == "llama" else builders.build_qwen_tokenizer()
    return (builders.build_llama3_model if arch == "llama" else builders.build_qwen_model)(tok).train()


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("n", [1, 4])  # 1: distinct prompts (length buckets only); 4: GRPO groups (shared prompts)
def test_fast_log_probs_equal_one_padded_call_on_real_architectures(arch, n, monkeypatch):
    model = _model(arch)
    t = _batch(model.config.vocab_size, prompts=24 // n, n=n)
    idx = torch.randperm(24, generator=torch.Generator().manual_seed(1))[:20]  # a shuffled micro-batch
    monkeypatch.setattr(rl_logprobs, "BUCKET_OVERHEAD_TOKENS", 0)  # as many groups as the lengths allow
    assert len(length_buckets(t["prompt_mask"][idx].sum(-1), t["response_mask"][idx].sum(-1))) > 1
    shared = shared_prompt_logprobs(model, t, idx, 1.0, with_entropy=False, entropy_grad=False)
    assert (shared is None) == (n == 1)  # the shared-prompt path runs exactly when prompts repeat
    mask = t["response_mask"][idx].bool()
    for temperature in (1.0, 0.7):
        plain = _logprobs_and_grads(model, t, idx, plain=True, temperature=temperature)
        fast = _logprobs_and_grads(model, t, idx, plain=False, temperature=temperature)
        assert torch.allclose(plain[0][mask], fast[0][mask], atol=1e-5)
        assert torch.allclose(plain[1][mask], fast[1][mask], atol=1e-5)
        for name, grad in plain[2].items():
            assert torch.allclose(grad, fast[2][name], rtol=1e-4, atol=1e-6), name
    logp, ent = sequence_logprobs(model, t, idx, temperature=1.0, with_entropy=True, entropy_grad=False)
    ent_with_grad = sequence_logprobs(model, t, idx, temperature=1.0, with_entropy=True)[1]
    assert logp.requires_grad and ent_with_grad.requires_grad and not ent.requires_grad  # a metric only
    assert torch.allclose(ent, ent_with_grad.detach(), atol=1e-6)


def test_prompts_are_not_shared_under_gradient_checkpointing():
    model = _model("llama")
    from rlvr_bench.models.loading import enable_checkpointing

    enable_checkpointing(model)  # as model.gradient_checkpointing: true does
    t = _batch(model.config.vocab_size, prompts=2, n=4)
    assert shared_prompt_logprobs(model, t, torch.arange(8), 1.0, with_entropy=False, entropy_grad=False) is None
    model.eval()  # no backward pass: the cache is kept, prompts are shared
    assert shared_prompt_logprobs(model, t, torch.arange(8), 1.0, with_entropy=False, entropy_grad=False) is not None
