"""The vLLM engine (optional extra ``pip install -e ".[vllm]"``, CUDA GPUs): same interface as ``hf``.

Two modes, chosen by what the engine is given:

* **a path / hub name** (or a ready ``vllm.LLM``): an evaluation engine; vLLM loads its own copy.
* **the trainer's torch model** (or a PEFT model): the colocated training engine, as TRL's
  ``vllm_mode="colocate"`` and verl's hybrid vLLM rollout. ``vllm.LLM`` is built once from the model's
  ``name_or_path`` (a PEFT model's base) in the trainer's process (``distributed_executor_backend=
  "external_launcher"``: vLLM's V1 engine core then runs in-process, so its model is reachable) with sleep
  mode on, and shares the GPU with the trainer:

  - ``prepare_generation(model)`` before a rollout: wake the weights, load the policy's weights when they
    changed since the last load (``rollout.vllm_weights`` maps the state dict to checkpoint names and merges
    a LoRA adapter), then wake the KV cache (weights first, as TRL and verl do: the KV cache is sized after);
  - ``release_memory()`` after the rollout: sleep at ``sleep_level`` while the trainer updates: level 1
    offloads the weights to CPU memory and drops the KV cache, level 2 drops both (the weights are loaded
    again at every wake), 0 never sleeps.

  Each sampled token's log-probability comes back in ``Completion.logprobs``: ``SamplingParams(logprobs=0)``
  with ``logprobs_mode="processed_logprobs"`` (after temperature, top-k and top-p, as the HF engine reports
  them), so the trainer can measure and correct the engine/trainer mismatch (``rollout.correction``).

Prompts are tokenized here with the HF engine's rule (special tokens unless the prompt starts with BOS) and
sent as token ids, so both engines see the same prompt tokens; texts are decoded the same way too. A prompt
with an image goes as text with ``multi_modal_data`` (vLLM's processor expands the image placeholder).
Every vLLM call goes through one narrow object (:class:`VLLMBackend`: wake / sleep / load / generate), the
only code that touches vLLM's API; the ordering logic above it is tested on CPU with a recording backend.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from rlvr_bench.errors import UserError
from rlvr_bench.rollout.base import Completion, Decoding, RolloutEngine, RolloutResult, register_engine
from rlvr_bench.rollout.padding import pad_floats, pad_rows
from rlvr_bench.rollout.stopping import end_of_text_ids
from rlvr_bench.rollout.vllm_weights import iter_vllm_weights, lora_scalings

__all__ = ["VLLMBackend", "VLLMEngine", "VLLMUnavailableError", "policy_source", "weights_version"]

INSTALL_HINT = 'pip install -e ".[vllm]" (CUDA torch first, see README)'
COLOCATED_GPU_MEMORY = 0.3
"""The colocated engine's default share of the GPU (``rollout.vllm_gpu_memory_utilization``'s default)."""


class VLLMUnavailableError(UserError, ImportError):
    """vLLM cannot run here: not installed, or no CUDA GPU."""


def policy_source(model: Any) -> str:
    """The path / hub name vLLM builds its copy of ``model`` from: ``config._name_or_path`` of the model
    (a PEFT or DDP model's base)."""
    inner = getattr(model, "module", model)
    get_base = getattr(inner, "get_base_model", None)
    base = get_base() if callable(get_base) else inner
    name = getattr(getattr(base, "config", None), "_name_or_path", "") or ""
    if not name:
        raise UserError("the vllm backend builds its engine from the policy's name_or_path, and this model has "
                        "none (built in memory?): save it with save_pretrained and load it from that directory")
    return str(name)


def weights_version(model: Any) -> tuple[tuple[int, int], ...]:
    """A fingerprint that changes whenever a parameter of ``model`` is written in place (an optimizer step, a
    ``load_state_dict``: each bumps the tensor's version counter) or replaced (its storage changes)."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMBackend:
    """The only code that calls vLLM: build ``vllm.LLM``, wake / sleep it, load weights, generate.

    Args:
        llm: a ``vllm.LLM``.
        vllm_module: the imported ``vllm`` package (for ``SamplingParams``).
    """

    def __init__(self, llm: Any, vllm_module: Any) -> None:
        self.llm, self.vllm = llm, vllm_module

    @classmethod
    def build(cls, model: str, *, colocated: bool, **llm_kwargs: Any) -> VLLMBackend:
        """Import vLLM and build the engine for ``model`` (a path or hub name); ``colocated`` runs it in this
        process with sleep mode and processed log-probs (the training engine)."""
        vllm = import_vllm()
        if colocated:
            for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"),
                               ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", str(_free_port()))):
                os.environ.setdefault(key, value)  # a launcher's (accelerate, torchrun) values win
            llm_kwargs = {"distributed_executor_backend": "external_launcher",
                          "logprobs_mode": "processed_logprobs", **llm_kwargs}
        return cls(vllm.LLM(model=model, **llm_kwargs), vllm)

    def wake(self, tags: list[str]) -> None:
        self.llm.wake_up(tags=tags)

    def sleep(self, level: int) -> None:
        self.llm.sleep(level=level)

    def load(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load checkpoint-named weights into the in-process model (TRL's colocate path), then drop the prefix
        cache computed with the old ones."""
        try:
            model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        except AttributeError:
            raise RuntimeError("this vLLM engine runs its model in another process; the colocated engine needs "
                               "distributed_executor_backend='external_launcher'") from None
        model.load_weights(weights)
        self.llm.reset_prefix_cache()

    def generate(self, requests: list[dict[str, Any]], params: list[dict[str, Any]]) -> list[Any]:
        """``vllm.LLM.generate`` with one ``SamplingParams(**p)`` per request; returns its ``RequestOutput``s."""
        sampling = [self.vllm.SamplingParams(**p) for p in params]
        return self.llm.generate(requests, sampling, use_tqdm=False)

    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        return {"vllm": getattr(self.vllm, "__version__", None)}


def import_vllm() -> Any:
    """The ``vllm`` package, or a one-line error naming the extra (no CUDA GPU: a one-line error too)."""
    if not torch.cuda.is_available():
        raise VLLMUnavailableError(f"the vllm rollout backend needs a CUDA GPU (none is visible here) and the vllm "
                                   f"extra ({INSTALL_HINT}); use the hf backend on this machine")
    try:
        import vllm
    except ImportError as exc:
        raise VLLMUnavailableError(f"the vllm rollout backend needs the vllm extra: {INSTALL_HINT}") from exc
    return vllm


@register_engine("vllm")
class VLLMEngine(RolloutEngine):
    """Generation with ``vllm.LLM`` (see the module docstring for the two modes).

    Args:
        model: the trainer's torch model (PEFT and DDP-wrapped too): the colocated engine; or a path / hub
            name, or a ``vllm.LLM``: an evaluation engine.
        tokenizer: the tokenizer (prompt tokens, decoding, end-of-text ids); default: vLLM's.
        batch_size: unused (vLLM schedules its own batches); accepted for interface compatibility.
        gpu_memory_utilization: fraction of the GPU vLLM takes (weights + KV cache); None = 0.3 for the
            colocated engine (``COLOCATED_GPU_MEMORY``), vLLM's default (0.9) for an evaluation engine.
        sleep_level: 0 (never sleep), 1 or 2 (see module docstring); None = 1 for the colocated engine, 0 else.
        dtype: vLLM's weight dtype; None = the torch model's dtype (colocated), vLLM's "auto" otherwise.
        max_model_len: prompt + response tokens vLLM plans for; None = the model's context length.
        backend: a ready :class:`VLLMBackend`-like object (wake/sleep/load/generate); None = build one.
        **llm_kwargs: more ``vllm.LLM`` arguments (``enforce_eager``, ``seed``, ...).
    """

    def __init__(self, model: Any, tokenizer: Any = None, *, batch_size: int | None = None,
                 gpu_memory_utilization: float | None = None, sleep_level: int | None = None,
                 dtype: str | None = None, max_model_len: int | None = None, backend: Any = None,
                 **llm_kwargs: Any) -> None:
        colocated = isinstance(model, torch.nn.Module)
        self.model = model if colocated else None
        self.sleep_level = int(sleep_level if sleep_level is not None else (1 if colocated else 0))
        if self.sleep_level not in (0, 1, 2):
            raise ValueError(f"sleep_level must be 0, 1 or 2, got {sleep_level}")
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            self.model_name = str(model)
        elif colocated:
            self.model_name = policy_source(model)
        elif hasattr(model, "generate") and hasattr(model, "llm_engine"):
            self.model_name, backend = "vllm.LLM", backend or VLLMBackend(model, import_vllm())
        else:
            raise TypeError("VLLMEngine needs a torch model, a model path or a vllm.LLM")
        if backend is None:
            if colocated:
                dtype = dtype or str(next(model.parameters()).dtype).removeprefix("torch.")
                gpu_memory_utilization = gpu_memory_utilization or COLOCATED_GPU_MEMORY
            kwargs = {"gpu_memory_utilization": gpu_memory_utilization, "dtype": dtype,
                      "max_model_len": max_model_len, "enable_sleep_mode": self.sleep_level > 0 or None}
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            backend = VLLMBackend.build(self.model_name, colocated=colocated, **kwargs, **llm_kwargs)
        self.backend = backend
        self.tokenizer = tokenizer or backend.tokenizer()
        self.eos_ids = list(end_of_text_ids(self.tokenizer, self.model))
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.eos_ids or [0])[0])
        self.synced_version: tuple | None = None  # the policy weights vLLM holds (None: its own checkpoint's)
        self.asleep = False
        self.weights_lost = False  # level-2 sleep dropped the weights: load them at the next wake
        self.loads = 0
        if self.sleep_level:  # free the GPU for the trainer until the first rollout
            self.release_memory()

    def describe(self) -> dict[str, Any]:
        extra = getattr(self.backend, "describe", dict)()
        return {"backend": self.name, "model": self.model_name, "colocated": self.model is not None,
                "sleep_level": self.sleep_level, **extra}

    # ---------------------------------------------------------------------------------- lifecycle
    def prepare_generation(self, model: Any) -> None:
        """Before a rollout: wake the weights, load ``model``'s when they changed, wake the KV cache."""
        if model is not None:
            self.model = model
        if self.asleep:
            self.backend.wake(["weights"])
        if self.model is not None:
            version = weights_version(self.model)
            if self.weights_lost or version != self.synced_version:
                self.backend.load(self._weights())
                self.synced_version, self.weights_lost = version, False
                self.loads += 1
        if self.asleep:
            self.backend.wake(["kv_cache"])
            self.asleep = False

    def release_memory(self) -> None:
        """After a rollout: sleep at ``sleep_level`` (nothing at level 0)."""
        if self.sleep_level and not self.asleep:
            self.backend.sleep(self.sleep_level)
            self.asleep = True
            self.weights_lost = self.weights_lost or self.sleep_level == 2

    def _weights(self) -> Iterable[tuple[str, torch.Tensor]]:
        """The policy's weights under vLLM's checkpoint names, a LoRA adapter merged (``vllm_weights``)."""
        inner = getattr(self.model, "module", self.model)
        adapter = getattr(inner, "active_adapter", "default")
        adapter = adapter if isinstance(adapter, str) else "default"
        config = (getattr(inner, "peft_config", None) or {}).get(adapter)
        return iter_vllm_weights(inner.state_dict(), lora_scaling=lora_scalings(inner, adapter), adapter=adapter,
                                 fan_in_fan_out=bool(getattr(config, "fan_in_fan_out", False)))

    # ---------------------------------------------------------------------------------------- API
    def generate(self, prompts: Sequence[str], *, n: int = 1, decoding: Decoding | None = None,
                 seed: int | None = None, images: Sequence[Any] | None = None) -> RolloutResult:
        """Sample ``n`` completions per prompt (``images``: one PIL image or None per prompt)."""
        decoding = decoding or Decoding()
        prompts = list(prompts)
        if images is not None and len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts (one image or None per prompt)")
        if self.asleep:  # outside a training rollout (evaluation): wake with the current weights
            self.prepare_generation(None)
        stop_ids = sorted({*self.eos_ids, *decoding.stop_token_ids})
        requests = [self._request(p, None if images is None else images[i]) for i, p in enumerate(prompts)]
        params = [self._sampling(decoding, n, stop_ids, seed, i) for i in range(len(prompts))]
        t0 = time.perf_counter()
        outputs = self.backend.generate(requests, params)
        seconds = time.perf_counter() - t0
        completions, prompt_rows, response_rows = [], [], []
        for out in outputs:
            for o in out.outputs:
                ids = list(o.token_ids)
                finish = "length" if o.finish_reason == "length" else "stop"
                completions.append(Completion(text=self._decode(ids, finish, stop_ids), token_ids=ids,
                                              finish_reason=finish, logprobs=sampled_logprobs(ids, o.logprobs)))
                prompt_rows.append(list(out.prompt_token_ids))
                response_rows.append(ids)
        if len(completions) != len(prompts) * n:
            raise RuntimeError(f"vLLM returned {len(completions)} completions for {len(prompts)} prompts x {n}")
        result = RolloutResult(prompts=prompts, n=n, completions=completions, decoding=decoding, seed=seed)
        result.prompt_ids, result.prompt_mask = pad_rows(prompt_rows, self.pad_id, left=True)
        result.response_ids, result.response_mask = pad_rows(response_rows, self.pad_id, left=False)
        if all(c.logprobs is not None for c in completions):
            result.response_logprobs = pad_floats([c.logprobs for c in completions], result.response_ids.shape[1])
        tokens = result.num_tokens
        result.stats = {"seconds": seconds, "tokens": float(tokens), "tokens_per_s": tokens / max(seconds, 1e-9)}
        return result

    # ------------------------------------------------------------------------------------ internals
    def _request(self, prompt: str, image: Any) -> dict[str, Any]:
        if image is not None:
            return {"prompt": prompt, "multi_modal_data": {"image": image}}
        bos = getattr(self.tokenizer, "bos_token", None)
        ids = self.tokenizer(prompt, add_special_tokens=not (bos and prompt.startswith(bos)))["input_ids"]
        if not ids:
            raise ValueError(f"prompt {prompt[:40]!r} encodes to no tokens")
        return {"prompt_token_ids": list(ids)}

    def _sampling(self, decoding: Decoding, n: int, stop_ids: list[int], seed: int | None, index: int
                  ) -> dict[str, Any]:
        """``SamplingParams`` arguments of prompt ``index``. vLLM seeds sample j of a request with seed + j,
        so prompt i gets seed + i * n: no two samples of one call share a seed (identical prompts included)."""
        params: dict[str, Any] = {
            "n": n, "temperature": decoding.temperature, "top_p": decoding.top_p,
            "top_k": decoding.top_k if decoding.top_k > 0 else -1, "max_tokens": decoding.max_new_tokens,
            "stop": list(decoding.stop) or None, "stop_token_ids": stop_ids, "include_stop_str_in_output": True,
            "seed": None if seed is None else (int(seed) + index * n) % 2**62}
        if self.model is not None:
            params["logprobs"] = 0  # the sampled token's log-prob only
        return params

    def _decode(self, ids: list[int], finish: str, stop_ids: list[int]) -> str:
        """The HF engine's text: the final stop id and special tokens removed, a stop string kept."""
        body = ids[:-1] if ids and finish == "stop" and ids[-1] in stop_ids else ids
        return self.tokenizer.decode(body, skip_special_tokens=True)


def sampled_logprobs(token_ids: list[int], logprobs: Any) -> list[float] | None:
    """Each sampled token's log-prob from vLLM's per-position ``{token id: Logprob}`` (``logprobs=0`` holds the
    sampled token); None when vLLM reported none or not one per token."""
    if logprobs is None or len(logprobs) != len(token_ids):
        return None
    out = []
    for entry, tok in zip(logprobs, token_ids):
        lp = entry.get(tok) if hasattr(entry, "get") else None
        if lp is None:
            return None
        out.append(float(getattr(lp, "logprob", lp)))
    return out
