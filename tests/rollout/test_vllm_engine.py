"""The vLLM backend: registered behind the same interface; its colocated lifecycle (wake weights -> load ->
wake KV cache -> generate -> sleep) and result layout checked on CPU through a recording backend (the narrow
object every vLLM call goes through), and the one-line errors where vLLM cannot run.

The recording backend tests the engine's ordering and bookkeeping, never vLLM: it answers ``generate`` with
fixed token ids in vLLM's output shape. The real vLLM path runs in ``bench/gpu_check.sh`` (docs/gpu.md).
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
import torch

from rlvr_bench.cli import main
from rlvr_bench.recipes import recipes_dir
from rlvr_bench.rollout import Decoding, engine_names, get_engine_class
from rlvr_bench.rollout.vllm_engine import VLLMEngine, VLLMUnavailableError, sampled_logprobs, weights_version
from rlvr_bench.rollout.vllm_weights import iter_vllm_weights
from tests.realmodels.builders import QWEN_EOS, QWEN_IM_END, build_qwen_model, build_qwen_tokenizer

HAS_VLLM = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


class RecordingBackend:
    """Records wake/sleep/load/generate; ``generate`` answers every request with n samples: even samples
    ``[10 + j, 11, stop]`` (finish "stop"), odd ones ``max_tokens`` x 12 (finish "length")."""

    def __init__(self, stop_id: int) -> None:
        self.stop_id = stop_id
        self.calls: list[tuple] = []
        self.loaded: list[dict[str, torch.Tensor]] = []
        self.requests: list[dict] = []
        self.params: list[dict] = []

    def wake(self, tags):
        self.calls.append(("wake", tuple(tags)))

    def sleep(self, level):
        self.calls.append(("sleep", level))

    def load(self, weights):
        self.loaded.append({k: v.detach().clone() for k, v in weights})
        self.calls.append(("load",))

    def generate(self, requests, params):
        self.calls.append(("generate",))
        self.requests, self.params = requests, params
        outputs = []
        for req, p in zip(requests, params):
            samples = []
            for j in range(p["n"]):
                ids = [10 + j, 11, self.stop_id] if j % 2 == 0 else [12] * p["max_tokens"]
                lps = [{t: SimpleNamespace(logprob=-0.5 * (k + 1))} for k, t in enumerate(ids)] \
                    if p.get("logprobs") == 0 else None
                samples.append(SimpleNamespace(token_ids=ids, finish_reason="stop" if j % 2 == 0 else "length",
                                               logprobs=lps))
            outputs.append(SimpleNamespace(prompt_token_ids=req.get("prompt_token_ids", [1, 2]), outputs=samples))
        return outputs


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    """A tiny random Qwen2 saved and loaded back (so its name_or_path is the directory) + its tokenizer."""
    from transformers import AutoModelForCausalLM

    tok = build_qwen_tokenizer()
    path = tmp_path_factory.mktemp("qwen_vllm")
    build_qwen_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return path, tok, lambda: AutoModelForCausalLM.from_pretrained(path)


def _engine(qwen, **kwargs):
    path, tok, load = qwen
    model = load()
    backend = RecordingBackend(tok.convert_tokens_to_ids(QWEN_EOS))
    return VLLMEngine(model, tok, backend=backend, **kwargs), model, backend


def _step(model) -> None:
    """One real AdamW step (changes every weight in place)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(input_ids=torch.tensor([[5, 6, 7]]), labels=torch.tensor([[5, 6, 7]])).loss.backward()
    opt.step()


def test_vllm_is_a_registered_backend():
    assert "vllm" in engine_names()
    assert get_engine_class("vllm") is VLLMEngine


def test_colocated_lifecycle_order_and_weight_sync(qwen):
    engine, model, backend = _engine(qwen)
    assert engine.model_name == str(qwen[0]) and backend.calls == [("sleep", 1)]  # asleep until the first rollout
    engine.prepare_generation(model)
    engine.generate(["Q: 1+1?"], n=2, decoding=Decoding(max_new_tokens=4), seed=0)
    engine.release_memory()
    assert backend.calls[1:] == [("wake", ("weights",)), ("load",), ("wake", ("kv_cache",)), ("generate",),
                                 ("sleep", 1)]
    assert sorted(backend.loaded[0]) == sorted(k for k, _ in iter_vllm_weights(model.state_dict()))
    backend.calls.clear()
    engine.prepare_generation(model)  # unchanged weights: not loaded again
    engine.release_memory()
    assert backend.calls == [("wake", ("weights",)), ("wake", ("kv_cache",)), ("sleep", 1)]
    before = weights_version(model)
    _step(model)
    assert weights_version(model) != before
    backend.calls.clear()
    engine.prepare_generation(model)
    assert backend.calls == [("wake", ("weights",)), ("load",), ("wake", ("kv_cache",))]
    head = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(backend.loaded[-1][head], model.state_dict()[head]) and engine.loads == 2
    assert not torch.equal(backend.loaded[-1][head], backend.loaded[0][head])


def test_sleep_level_two_reloads_every_wake_and_zero_never_sleeps(qwen):
    engine, model, backend = _engine(qwen, sleep_level=2)
    for _ in range(2):
        engine.prepare_generation(model)
        engine.release_memory()
    assert [c[0] for c in backend.calls].count("load") == 2  # weights dropped at every level-2 sleep
    engine, model, backend = _engine(qwen, sleep_level=0)
    for _ in range(2):
        engine.prepare_generation(model)
        engine.release_memory()
    assert backend.calls == [("load",)]


def test_generate_while_asleep_wakes_first(qwen):
    engine, model, backend = _engine(qwen)
    engine.generate(["Q: 2+2?"], n=1, decoding=Decoding(max_new_tokens=3), seed=1)  # evaluation, no prepare
    assert backend.calls == [("sleep", 1), ("wake", ("weights",)), ("load",), ("wake", ("kv_cache",)),
                             ("generate",)]


def test_results_carry_ids_masks_logprobs_and_texts(qwen):
    engine, model, backend = _engine(qwen)
    tok = qwen[1]
    stop = tok.convert_tokens_to_ids(QWEN_EOS)
    im_end = tok.convert_tokens_to_ids(QWEN_IM_END)
    prompts = ["Q: 1+1?", "A longer prompt"]
    dec = Decoding(temperature=0.7, top_k=0, max_new_tokens=5, stop_token_ids=(im_end,))
    res = engine.generate(prompts, n=2, decoding=dec, seed=100)
    enc = [tok(p)["input_ids"] for p in prompts]
    assert [r["prompt_token_ids"] for r in backend.requests] == enc
    p = backend.params
    assert [q["seed"] for q in p] == [100, 102] and p[0]["n"] == 2 and p[0]["top_k"] == -1  # seed + i * n
    assert p[0]["stop_token_ids"] == sorted({stop, im_end}) and p[0]["logprobs"] == 0
    assert p[0]["temperature"] == 0.7 and p[0]["max_tokens"] == 5
    assert res.prompt_ids.shape == (4, len(enc[1])) and res.prompt_mask[0].tolist() == \
        [0] * (len(enc[1]) - len(enc[0])) + [1] * len(enc[0])  # left-padded
    assert res.prompt_ids[2, -len(enc[1]):].tolist() == enc[1]
    assert res.response_ids.shape == (4, 5) and res.response_mask[0].tolist() == [1, 1, 1, 0, 0]  # right-padded
    assert res.response_ids[1].tolist() == [12] * 5
    c0, c1 = res.completions[:2]
    assert c0.token_ids == [10, 11, stop] and c0.finish_reason == "stop" and c1.truncated
    assert c0.text == tok.decode([10, 11]) and c0.logprobs == [-0.5, -1.0, -1.5]
    assert res.response_logprobs[0].tolist() == [-0.5, -1.0, -1.5, 0.0, 0.0]
    assert res.stats["tokens"] == 3 + 5 + 3 + 5


def test_image_prompts_go_as_text_with_multimodal_data(qwen):
    engine, _, backend = _engine(qwen)
    image = object()  # any image object: passed through as is
    engine.generate(["with image", "without"], n=1, decoding=Decoding(max_new_tokens=2), images=[image, None])
    assert backend.requests[0] == {"prompt": "with image", "multi_modal_data": {"image": image}}
    assert "prompt_token_ids" in backend.requests[1]
    with pytest.raises(ValueError, match="one image or None per prompt"):
        engine.generate(["a", "b"], n=1, images=[None])


def test_lora_policy_builds_from_its_base_and_syncs_merged_weights(qwen):
    from peft import LoraConfig, get_peft_model

    path, tok, load = qwen
    base = load()
    names = sorted(k for k, _ in iter_vllm_weights(base.state_dict()))
    peft_model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], lora_dropout=0.0))
    backend = RecordingBackend(96)
    engine = VLLMEngine(peft_model, tok, backend=backend)
    assert engine.model_name == str(path)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.1)
    engine.prepare_generation(peft_model)
    assert sorted(backend.loaded[0]) == names
    merged = peft_model.merge_and_unload().state_dict()
    q = "model.layers.1.self_attn.q_proj.weight"
    torch.testing.assert_close(backend.loaded[0][q], merged[q])


class RecordingLLM:
    """Stands at the vllm.LLM boundary to record what VLLMBackend asks of it (the API TRL 1.16's colocate mode
    uses: sleep/wake_up, the in-process model's load_weights, reset_prefix_cache, generate)."""

    def __init__(self, **kwargs):
        self.kwargs, self.calls, self.loaded = kwargs, [], []
        runner = SimpleNamespace(model=SimpleNamespace(load_weights=lambda w: self.loaded.extend(n for n, _ in w)))
        self.llm_engine = SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(
            model_runner=runner)))

    def sleep(self, level):
        self.calls.append(("sleep", level))

    def wake_up(self, tags):
        self.calls.append(("wake_up", tuple(tags)))

    def reset_prefix_cache(self):
        self.calls.append(("reset_prefix_cache",))


def test_backend_builds_the_colocated_llm_and_drives_its_api(qwen, monkeypatch):
    import rlvr_bench.rollout.vllm_engine as ve

    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(key, "x")
        monkeypatch.delenv(key)  # restored to its original state after the test
    fake = SimpleNamespace(LLM=RecordingLLM, SamplingParams=dict, __version__="recording")
    monkeypatch.setattr(ve, "import_vllm", lambda: fake)
    path, tok, load = qwen
    model = load().to(torch.bfloat16)
    engine = VLLMEngine(model, tok, sleep_level=2)
    llm = engine.backend.llm
    assert llm.kwargs == {"model": str(path), "distributed_executor_backend": "external_launcher",
                          "logprobs_mode": "processed_logprobs", "gpu_memory_utilization": 0.3,
                          "dtype": "bfloat16", "enable_sleep_mode": True}
    assert ve.os.environ["WORLD_SIZE"] == "1" and ve.os.environ["MASTER_PORT"].isdigit()
    engine.prepare_generation(model)
    assert llm.calls == [("sleep", 2), ("wake_up", ("weights",)), ("reset_prefix_cache",), ("wake_up", ("kv_cache",))]
    assert sorted(llm.loaded) == sorted(k for k, _ in iter_vllm_weights(model.state_dict()))
    assert engine.describe()["vllm"] == "recording"
    evaluation = VLLMEngine(str(path), tok)  # an evaluation engine: vLLM's own executor and defaults, no sleep
    assert evaluation.backend.llm.kwargs == {"model": str(path)} and evaluation.backend.llm.calls == []


def test_sampled_logprobs_reads_the_sampled_token():
    lp = [{5: SimpleNamespace(logprob=-0.1)}, {7: SimpleNamespace(logprob=-2.0), 1: SimpleNamespace(logprob=-0.2)}]
    assert sampled_logprobs([5, 7], lp) == [-0.1, -2.0]
    assert sampled_logprobs([5, 7], None) is None and sampled_logprobs([5], lp) is None


@pytest.mark.skipif(HAS_VLLM, reason="vLLM and a GPU here: see the GPU test")
def test_without_vllm_or_cuda_the_engine_fails_in_one_line(tiny_model_dir):
    with pytest.raises(VLLMUnavailableError, match=r"pip install -e \".\[vllm\]\"") as exc:
        get_engine_class("vllm")(str(tiny_model_dir))
    assert isinstance(exc.value, ImportError) and "\n" not in str(exc.value)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM and a GPU here")
def test_train_with_vllm_on_cpu_fails_at_validation(capsys):
    assert main(["train", str(recipes_dir() / "toy/grpo.yaml"), "rollout.backend=vllm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "needs a CUDA GPU" in err, err
    assert main(["recipes"]) == 0  # the verl recipe (rollout.backend: vllm) still validates on this machine


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed or no GPU (GPU extra)")
def test_vllm_generates_with_finish_reasons(tiny_model_dir):
    engine = get_engine_class("vllm")(str(tiny_model_dir), gpu_memory_utilization=0.2)
    res = engine.generate(["Q:1+2=?A:"], n=4, decoding=Decoding(max_new_tokens=8), seed=0)
    assert len(res.completions) == 4 and all(c.finish_reason in ("stop", "length") for c in res.completions)
