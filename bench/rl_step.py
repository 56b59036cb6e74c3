"""One RL optimisation step: rlvr_bench's engine vs TRL's GRPOTrainer, side by side in one run.

Same toy model (the cached toy base if built, else a random toy model), same prompts, group size,
lengths, reward and learning rate; no KL (so neither computes reference log-probs); one update per
rollout batch. Prints median seconds per step, the ratio (goal: ours <= 0.7x TRL), rollout tokens/s vs a
bare ``model.generate`` loop, and peak RSS growth of each.

    .venv/bin/python bench/rl_step.py [--steps 6] [--prompts 8] [--n 8]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _toy_model import toy_model_dir


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(model_dir: str, out: Path, args) -> list[float]:
    from rlvr_bench.config import config_from_dict
    from rlvr_bench.trainers.rl import RLTrainer

    cfg = config_from_dict({
        "method": "rl", "output_dir": str(out), "model": {"name_or_path": model_dir},
        "data": {"source": "toy", "template": "toy"},
        "algorithm": {"preset": "grpo", "use_kl_loss": False, "mini_batches": 1},
        "trainer": {"steps": args.steps, "prompts_per_step": args.prompts, "learning_rate": 1e-4,
                    "micro_batch_size": args.prompts * args.n},
        "rollout": {"n": args.n, "max_new_tokens": args.max_new_tokens}, "evaluation": {"enabled": False},
        "logging": {"trackers": [], "progress": False}})
    trainer = RLTrainer(cfg)
    times = []
    for step in range(1, args.steps + 1):
        trainer.step = step
        t0 = time.perf_counter()
        trainer.train_step()
        times.append(time.perf_counter() - t0)
    return times


def trl(model_dir: str, out: Path, args) -> list[float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_bench.data.toy import toy_dataset
    from rlvr_bench.rewards import make_trl_reward

    ds = toy_dataset("train").map(lambda r: {"prompt": f"Q:{r['problem']}A:"})
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            times.append(time.perf_counter() - self.t0)

    conf = GRPOConfig(output_dir=str(out), use_cpu=True, bf16=False, per_device_train_batch_size=args.prompts * args.n,
                      num_generations=args.n, max_completion_length=args.max_new_tokens, max_steps=args.steps,
                      learning_rate=1e-4, beta=0.0, report_to=[], logging_steps=1, save_strategy="no",
                      temperature=1.0, disable_tqdm=True, loss_type="grpo", gradient_accumulation_steps=1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=make_trl_reward("math"),
                          args=conf, train_dataset=ds, processing_class=tok, callbacks=[Timer()])
    trainer.train()
    return times


def bare_generate_tps(model_dir: str, args) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompts = [f"Q:{i}+{i + 7}-3=?A:" for i in range(args.prompts)]
    enc = tok(prompts, return_tensors="pt", padding=True)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, do_sample=True, max_new_tokens=args.max_new_tokens, num_return_sequences=args.n,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, top_k=0)
    gen = out[:, enc["input_ids"].shape[1]:]
    tokens = int((gen != tok.pad_token_id).sum())
    return tokens / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (2 on an idle 2-core machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = toy_model_dir(tmp)
        rss0 = _rss_mb()
        ours_t = ours(model_dir, tmp / "ours", args)
        rss1 = _rss_mb()
        trl_t = trl(model_dir, tmp / "trl", args)
        rss2 = _rss_mb()
        gen_tps = bare_generate_tps(model_dir, args)
    # the first step of each includes warm-up; compare medians of the rest
    o, t = statistics.median(ours_t[1:]), statistics.median(trl_t[1:])
    print(f"model: {model_dir}; {args.prompts} prompts x {args.n}, max_new_tokens {args.max_new_tokens}, "
          f"{args.steps} steps, torch threads {torch.get_num_threads()}")
    print(f"{'engine':<22}{'median s/step':>14}{'peak RSS growth MB':>20}")
    print(f"{'rlvr_bench RLTrainer':<22}{o:>14.3f}{rss1 - rss0:>20.0f}")
    print(f"{'TRL GRPOTrainer':<22}{t:>14.3f}{rss2 - rss1:>20.0f}")
    print(f"ratio ours/TRL: {o / t:.2f}x (goal <= 0.70x)")
    print(f"bare model.generate: {gen_tps:,.0f} tokens/s (see bench/eval_throughput.py for the rollout engine)")


if __name__ == "__main__":
    main()
