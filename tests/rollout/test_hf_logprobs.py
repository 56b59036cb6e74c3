"""The HF engine's recorded log-probs (the RL trainer's behaviour log-probs) equal the trainer's recomputation
(``rl_batch.sequence_logprobs``) on the toy model and tiny random Llama and Qwen2 models; with top-k they are
the truncated distribution's."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.rollout import Decoding, build_engine
from rlvr_bench.trainers.rl_batch import sequence_logprobs

PROMPTS = ["Q:1+2=?A:", "Q:12+30-4=?A:", "Q:7*8+10=?A:"]
TOL = 1e-5


@pytest.fixture(scope="module")
def real_models():
    from tests.realmodels.builders import (
        build_llama3_model,
        build_llama3_tokenizer,
        build_qwen_model,
        build_qwen_tokenizer,
    )

    qwen_tok, llama_tok = build_qwen_tokenizer(), build_llama3_tokenizer()
    return {"qwen2": (build_qwen_model(qwen_tok), qwen_tok), "llama": (build_llama3_model(llama_tok), llama_tok)}


def _tensors(res) -> dict[str, torch.Tensor]:
    return {"prompt_ids": res.prompt_ids, "prompt_mask": res.prompt_mask, "response_ids": res.response_ids,
            "response_mask": res.response_mask}


def _check_equal_to_recomputation(model, res, temperature: float) -> None:
    t = _tensors(res)
    mask = t["response_mask"].bool()
    trainer, _ = sequence_logprobs(model, t, torch.arange(mask.shape[0]), temperature=temperature)
    engine = res.response_logprobs
    assert engine.shape == t["response_ids"].shape and engine.dtype == torch.float32
    assert not engine[~mask].any()  # 0 at padding
    assert float((engine - trainer.detach())[mask].abs().max()) < TOL
    for i, comp in enumerate(res.completions):
        assert len(comp.logprobs) == comp.num_tokens
        assert comp.logprobs == pytest.approx(engine[i, :comp.num_tokens].tolist(), abs=0)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_toy_model_logprobs_equal_the_trainers(tiny_model, temperature):
    model, tok = tiny_model
    res = build_engine("hf", model, tok, batch_size=5).generate(  # batches of 5: rows are compacted and split
        PROMPTS, n=4, decoding=Decoding(temperature=temperature, max_new_tokens=10), seed=1)
    _check_equal_to_recomputation(model, res, temperature)


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_real_architecture_logprobs_equal_the_trainers(real_models, arch):
    model, tok = real_models[arch]
    prompts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
               for p in PROMPTS]
    res = build_engine("hf", model, tok).generate(prompts, n=3, decoding=Decoding(temperature=0.9, max_new_tokens=12),
                                                  seed=0)
    assert len({len(c.token_ids) for c in res.completions}) > 1 or res.completions[0].truncated
    _check_equal_to_recomputation(model, res, 0.9)


def test_top_k_logprobs_are_the_truncated_distributions(tiny_model):
    model, tok = tiny_model
    k, temperature = 3, 0.8
    res = build_engine("hf", model, tok).generate(PROMPTS, n=4, decoding=Decoding(temperature=temperature, top_k=k,
                                                                                  max_new_tokens=8), seed=2)
    t = _tensors(res)
    mask = t["response_mask"].bool()
    full, _ = sequence_logprobs(model, t, torch.arange(mask.shape[0]), temperature=temperature)
    # the log of the top-k mass at each position: log-prob under the truncated distribution = full - log(mass)
    ids = torch.cat([t["prompt_ids"], t["response_ids"]], 1)
    attn = torch.cat([t["prompt_mask"], t["response_mask"]], 1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attn, position_ids=(attn.cumsum(-1) - 1).clamp(min=0)).logits
    logits = logits[:, t["prompt_ids"].shape[1] - 1:-1].float() / temperature
    log_mass = torch.logsumexp(logits.topk(k, dim=-1).values, -1) - torch.logsumexp(logits, -1)
    gap = res.response_logprobs - full.detach()
    assert float((gap + log_mass)[mask].abs().max()) < TOL
    assert float(gap[mask].min()) > 0  # the engine's policy is not the trainer's: the correction sees it


def _unshared(monkeypatch) -> None:
    """Prefill every row on its own, as the engine did before it shared each prompt's prefill."""
    from rlvr_bench.rollout.hf import HFEngine

    monkeypatch.setattr(HFEngine, "_prefill_shared", lambda self, rows, device, cache: self._prefill(rows, device,
                                                                                                       cache))


@pytest.mark.parametrize("arch", ["toy", "qwen2", "llama"])
def test_shared_prompt_prefill_samples_what_per_row_prefill_samples(tiny_model, real_models, arch, monkeypatch):
    model, tok = tiny_model if arch == "toy" else real_models[arch]
    prompts = PROMPTS if arch == "toy" else [
        tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in PROMPTS]
    decoding = Decoding(temperature=1.0, max_new_tokens=10)
    engine = build_engine("hf", model, tok, batch_size=7)  # chunks cut through a prompt's samples
    shared = engine.generate(prompts, n=4, decoding=decoding, seed=3)
    _unshared(monkeypatch)
    plain = engine.generate(prompts, n=4, decoding=decoding, seed=3)
    assert [c.token_ids for c in shared.completions] == [c.token_ids for c in plain.completions]
    assert torch.allclose(shared.response_logprobs, plain.response_logprobs, atol=TOL)
    assert torch.equal(shared.prompt_ids, plain.prompt_ids)
