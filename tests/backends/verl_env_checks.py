"""Checks that need verl: run with the verl environment's Python (``.venv-verl/bin/python``), CPU only.

    python tests/backends/verl_env_checks.py compose EXPORT_DIR...      # Hydra composition, strict
    python tests/backends/verl_env_checks.py parity EXPORT_DIR...       # advantages + policy/KL losses
    python tests/backends/verl_env_checks.py reward EXPORT_DIR CASES.json   # scores through verl's manager
    python tests/backends/verl_env_checks.py agg                        # agg_loss, all modes, raw
    python tests/backends/verl_env_checks.py quoting VALUES.json        # Hydra's parse of hydra_value()
    python tests/backends/verl_env_checks.py fake-ckpt HF_DIR ACTOR_DIR  # an FSDP2 actor checkpoint (CPU)

Each prints one JSON object on the last line of stdout. ``tests/backends/test_verl_parity.py`` (main
environment) runs them in a subprocess and asserts on the numbers; this file imports verl and is never
collected by pytest.

Parity inputs are random but seeded: per preset, 6 prompts x 4 responses with binary outcome scores
(some groups all-equal), random response lengths, old/ref/current log-probs and critic values. Ours:
``rlvr_bench.algorithms`` with the export's resolved algorithm (``recipe.yaml``). verl: ``ray_trainer``'s
``apply_kl_penalty`` + ``compute_advantage`` and ``core_algos``' policy loss / ``kl_penalty`` /
``agg_loss``, configured by the *composed* verl config of the same export (so the key translation is
checked together with the numerics).
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

warnings.filterwarnings("ignore")


def _composed(export_dir: str) -> tuple[Any, list[str]]:
    from rlvr_bench.backends.verl.compose import compose_verl_config
    from rlvr_bench.backends.verl.launch import launch_args

    args = launch_args(export_dir, {"NGPUS_PER_NODE": "8"})
    return compose_verl_config(args), args


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def check_compose(export_dir: str) -> dict[str, Any]:
    """Compose strictly, run validate_config, and read every override back from the composed config."""
    from omegaconf import OmegaConf

    from rlvr_bench.backends.verl.compose import validate_verl_config
    from rlvr_bench.backends.verl.overrides import substitute_export_dir

    try:
        cfg, args = _composed(export_dir)
        validate_verl_config(cfg)
    except Exception as exc:  # reported, asserted on by the test
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    wanted = yaml.safe_load((Path(export_dir) / "overrides.yaml").read_text())
    root = str(Path(export_dir).resolve())
    mismatches = []
    for key, value in wanted.items():
        got = OmegaConf.to_container(OmegaConf.create({"v": OmegaConf.select(cfg, key)}), resolve=True)["v"]
        if not _same(got, substitute_export_dir(value, root)):
            mismatches.append(f"{key}: wanted {value!r}, composed {got!r}")
    return {"ok": not mismatches, "n_args": len(args), "mismatches": mismatches}


def _inputs(seed: int, groups: int = 6, n: int = 4, length: int = 12) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    bs = groups * n
    lengths = torch.randint(1, length + 1, (bs,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    scores = torch.randint(0, 2, (bs,), generator=g).float()
    scores[:n] = 1.0  # one all-correct group
    scores[n:2 * n] = 0.0  # one all-wrong group
    old = -torch.rand(bs, length, generator=g) * 3
    return {
        "mask": mask, "scores": scores, "uids": np.array([f"p{i // n}" for i in range(bs)], dtype=object),
        "old": old, "ref": old + 0.3 * torch.randn(bs, length, generator=g),
        "new": old + 0.4 * torch.randn(bs, length, generator=g),
        "values": torch.randn(bs, length, generator=g), "baselines": torch.randint(0, 2, (bs,), generator=g).float(),
    }


def _ours_advantages(algo: dict[str, Any], x: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    from rlvr_bench.algorithms import (
        apply_kl_in_reward,
        compute_advantages,
        kl_penalty,
        scores_to_token_rewards,
    )

    rewards = scores_to_token_rewards(x["scores"], x["mask"])
    if algo["use_kl_in_reward"]:
        kl = kl_penalty(x["old"], x["ref"], algo["kl_penalty_type"])
        rewards = apply_kl_in_reward(rewards, kl, x["mask"], algo["kl_coef"])
    return compute_advantages(algo["adv_estimator"], token_level_rewards=rewards, response_mask=x["mask"],
                              group_index=list(x["uids"]), values=x["values"], reward_baselines=x["baselines"],
                              gamma=algo["gamma"], lam=algo["lam"], norm_adv_by_std=algo["norm_adv_by_std"],
                              **_params(algo))


def _verl_advantages(cfg: Any, x: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    from verl import DataProto
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.ray_trainer import apply_kl_penalty, compute_advantage

    mask = x["mask"]
    last = mask.sum(-1).long() - 1
    token_scores = torch.zeros_like(mask)
    token_scores[torch.arange(len(last)), last] = x["scores"]
    data = DataProto.from_dict(
        tensors={"token_level_scores": token_scores, "response_mask": mask, "old_log_probs": x["old"],
                 "ref_log_prob": x["ref"], "values": x["values"], "reward_baselines": x["baselines"]},
        non_tensors={"uid": x["uids"]})
    alg = cfg.algorithm
    if alg.use_kl_in_reward:
        data, _ = apply_kl_penalty(data, kl_ctrl=core_algos.get_kl_controller(alg.kl_ctrl), kl_penalty=alg.kl_penalty)
    else:
        data.batch["token_level_rewards"] = data.batch["token_level_scores"]
    data = compute_advantage(data, adv_estimator=alg.adv_estimator, gamma=alg.gamma, lam=alg.lam,
                             num_repeat=cfg.actor_rollout_ref.rollout.n,
                             norm_adv_by_std_in_grpo=alg.get("norm_adv_by_std_in_grpo", True), config=alg)
    return data.batch["advantages"], data.batch["returns"]


def _knobs(algo: dict[str, Any]) -> dict[str, Any]:
    """The policy loss's knobs as the local trainer passes them (a field, else ``knobs``, else the default)."""
    from rlvr_bench.algorithms import policy_loss_spec

    spec = policy_loss_spec(algo["policy_loss"])
    knobs = algo.get("knobs") or {}
    return {name: algo[name] if name in algo else knobs.get(name, k.default) for name, k in spec.knobs.items()}


def _params(algo: dict[str, Any]) -> dict[str, Any]:
    """The advantage estimator's params (``knobs``, else the default)."""
    from rlvr_bench.algorithms import advantage_estimator_spec

    knobs = algo.get("knobs") or {}
    return {name: knobs.get(name, k.default) for name, k in advantage_estimator_spec(algo["adv_estimator"]).params.items()}


def _loss_pair(algo: dict[str, Any], cfg: Any, x: dict[str, Any], adv: torch.Tensor) -> dict[str, float]:
    from verl.trainer.ppo import core_algos
    from verl.utils.config import omega_conf_to_dataclass

    from rlvr_bench.algorithms import kl_loss, policy_loss

    mask = x["mask"]
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    # verl's actor passes the mini-batch's sequence count (ppo_mini_batch_size x n) as global_batch_size
    bs = int(cfg.actor_rollout_ref.actor.ppo_mini_batch_size) * int(cfg.actor_rollout_ref.rollout.n)
    info = {"dp_size": 1, "batch_num_tokens": mask.sum(), "global_batch_size": bs}
    actor.global_batch_info.update(info, loss_scale_factor=actor.loss_scale_factor)
    ours_lp, verl_lp = x["new"].clone().requires_grad_(True), x["new"].clone().requires_grad_(True)
    torch.manual_seed(0)  # clip_cov draws its tokens from torch's global generator, on both sides
    ours, _ = policy_loss(algo["policy_loss"], old_log_prob=x["old"], log_prob=ours_lp, advantages=adv,
                          response_mask=mask, loss_agg_mode=algo["loss_agg_mode"],
                          loss_scale_factor=algo["loss_scale_factor"], batch_num_tokens=info["batch_num_tokens"],
                          global_batch_size=bs, **_knobs(algo))
    fn = core_algos.get_policy_loss_fn(actor.policy_loss.get("loss_mode", "vanilla"))
    torch.manual_seed(0)
    theirs, _ = fn(old_log_prob=x["old"], log_prob=verl_lp, advantages=adv, response_mask=mask.bool(),
                   loss_agg_mode=actor.loss_agg_mode, config=actor)
    if algo["use_kl_loss"]:
        ours = ours + algo["kl_loss_coef"] * kl_loss(ours_lp, x["ref"], mask, algo["kl_loss_type"],
                                                     algo["loss_agg_mode"], loss_scale_factor=algo["loss_scale_factor"],
                                                     batch_num_tokens=info["batch_num_tokens"], global_batch_size=bs)
        kld = core_algos.kl_penalty(logprob=verl_lp, ref_logprob=x["ref"], kl_penalty=actor.kl_loss_type)
        theirs = theirs + actor.kl_loss_coef * core_algos.agg_loss(
            loss_mat=kld, loss_mask=mask.bool(), loss_agg_mode=actor.loss_agg_mode, **actor.global_batch_info)
    ours.backward()
    theirs.backward()
    return {"loss_ours": float(ours), "loss_verl": float(theirs), "loss_diff": abs(float(ours) - float(theirs)),
            "grad_diff": float((ours_lp.grad - verl_lp.grad).abs().max())}


def check_parity(export_dir: str, seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """Max |ours - verl| over seeds for advantages, returns, total policy loss and its gradient."""
    cfg, _ = _composed(export_dir)
    algo = yaml.safe_load((Path(export_dir) / "recipe.yaml").read_text())["algorithm"]
    out = {"adv_diff": 0.0, "ret_diff": 0.0, "loss_diff": 0.0, "grad_diff": 0.0, "loss_scale": 0.0}
    for seed in seeds:
        x = _inputs(seed)
        a_ours, r_ours = _ours_advantages(algo, x)
        a_verl, r_verl = _verl_advantages(cfg, x)
        m = x["mask"].bool()  # padding positions are not compared (never used by a loss)
        out["adv_diff"] = max(out["adv_diff"], float((a_ours - a_verl)[m].abs().max()))
        out["ret_diff"] = max(out["ret_diff"], float((r_ours - r_verl)[m].abs().max()))
        losses = _loss_pair(algo, cfg, x, a_ours)
        out["loss_diff"] = max(out["loss_diff"], losses["loss_diff"])
        out["grad_diff"] = max(out["grad_diff"], losses["grad_diff"])
        out["loss_scale"] = max(out["loss_scale"], abs(losses["loss_ours"]))
        out[f"loss_ours_s{seed}"], out[f"loss_verl_s{seed}"] = losses["loss_ours"], losses["loss_verl"]
    return out


def check_reward(export_dir: str, cases_file: str) -> dict[str, Any]:
    """Scores of response token ids through verl's reward-manager loading (custom function + manager)."""
    from verl import DataProto
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.utils import hf_tokenizer

    cfg, _ = _composed(export_dir)
    tokenizer = hf_tokenizer(cfg.actor_rollout_ref.model.path)
    manager = load_reward_manager(cfg, tokenizer)
    max_len = int(cfg.data.max_response_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores, infos = [], []
    for case in json.loads(Path(cases_file).read_text()):
        ids = case["response_ids"]
        prompt = torch.tensor([case["prompt_ids"]])
        resp = torch.tensor([ids + [pad] * (max_len - len(ids))])
        attn = torch.cat([torch.ones_like(prompt), (torch.arange(max_len) < len(ids)).long()[None]], dim=-1)
        data = DataProto.from_dict(
            tensors={"prompts": prompt, "responses": resp, "attention_mask": attn},
            non_tensors={"data_source": np.array([case["data_source"]], dtype=object),
                         "reward_model": np.array([{"style": "rule", "ground_truth": case["ground_truth"]}], dtype=object),
                         "extra_info": np.array([{"index": 0}], dtype=object)})
        result = asyncio.get_event_loop().run_until_complete(manager.run_single(data))
        scores.append(float(result["reward_score"]))
        infos.append({k: v for k, v in result["reward_extra_info"].items() if k in ("truncated", "task_score")})
    return {"manager": type(manager).__name__, "scores": scores, "infos": infos}


def check_agg(seed: int = 0) -> dict[str, Any]:
    """rlvr_bench's agg_loss vs verl's for every mode, same arguments (global counts as verl's actor passes)."""
    from verl.trainer.ppo import core_algos

    from rlvr_bench.algorithms import LOSS_AGG_MODES, agg_loss

    x = _inputs(seed)
    mat, mask = x["new"], x["mask"]
    kwargs = {"batch_num_tokens": float(mask.sum()), "global_batch_size": 64.0, "loss_scale_factor": 12.0}
    out = {}
    for mode in LOSS_AGG_MODES:
        ours = float(agg_loss(mat, mask, mode, **kwargs))
        theirs = float(core_algos.agg_loss(loss_mat=mat, loss_mask=mask.bool(), loss_agg_mode=mode, dp_size=1,
                                           **kwargs))
        out[mode] = {"ours": ours, "verl": theirs}
    return out


def check_quoting(values_file: str) -> list[Any]:
    """Each ``k=<hydra_value(v)>`` parsed by Hydra's override grammar and resolved by OmegaConf."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from rlvr_bench.backends.verl.overrides import hydra_value

    parser = OverridesParser.create()
    out = []
    for value in json.loads(Path(values_file).read_text()):
        parsed = parser.parse_override(f"k={hydra_value(value)}").value()
        out.append(OmegaConf.to_container(OmegaConf.create({"k": parsed}), resolve=True)["k"])
    return out


def fake_checkpoint(hf_dir: str, actor_dir: str) -> dict[str, Any]:
    """Write an actor checkpoint as verl's FSDP2 checkpoint manager lays it out (world size 1, CPU, gloo)."""
    import socket

    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    mesh = init_device_mesh("cpu", (1,), mesh_dim_names=("fsdp",))
    model = AutoModelForCausalLM.from_pretrained(hf_dir)
    state = {k: distribute_tensor(v.detach().clone(), mesh, [Shard(0)]) for k, v in model.state_dict().items()}
    actor = Path(actor_dir)
    (actor / "huggingface").mkdir(parents=True, exist_ok=True)
    torch.save(state, actor / "model_world_size_1_rank_0.pt")
    (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 1}))
    model.config.save_pretrained(actor / "huggingface")
    AutoTokenizer.from_pretrained(hf_dir).save_pretrained(actor / "huggingface")
    dist.destroy_process_group()
    return {"tensors": len(state)}


def check_agent_loop(export_dir: str) -> dict[str, Any]:
    """The export's agent loop: verl can resolve its class, and its requests carry the stop rule."""
    from hydra.utils import get_class
    from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

    from rlvr_bench.backends.verl.agent_loop import with_stop_rule

    entry = yaml.safe_load((Path(export_dir) / "agent_loops.yaml").read_text())[0]
    cls = get_class(entry["_target_"])
    params = with_stop_rule({"temperature": 1.0, "stop_token_ids": [7]}, entry["stop_token_ids"], entry["stop"])
    return {"subclass": issubclass(cls, SingleTurnAgentLoop), "params": params, "entry": entry}


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    if command == "compose":
        result: Any = {d: check_compose(d) for d in rest}
    elif command == "parity":
        result = {d: check_parity(d) for d in rest}
    elif command == "reward":
        result = check_reward(rest[0], rest[1])
    elif command == "agg":
        result = check_agg()
    elif command == "quoting":
        result = check_quoting(rest[0])
    elif command == "agent-loop":
        result = check_agent_loop(rest[0])
    elif command == "fake-ckpt":
        result = fake_checkpoint(rest[0], rest[1])
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
