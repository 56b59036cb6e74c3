"""verl 0.9.1's rollout correction vs rlvr_bench's, through the export's overrides: run with the verl
environment's Python, CPU only.

    PYTHONPATH=/work/main .venv-verl/bin/python tests/backends/verl_rollout_correction_check.py CASES_JSON

``CASES_JSON`` is a list of ``{"mode", "cap", "floor", "args"}``: a recipe's ``rollout.correction*`` and the
Hydra arguments its export writes for them (``tests/backends/test_verl_rollout_correction.py`` builds them
with ``build_plan``). For each case and seed, on a random batch (every row has a token; log-ratio noise std
0.7, so ratios cross 2 and 1/2):

1. the arguments are composed strictly with verl's ``ppo_trainer`` config (an unknown key fails; once per case)
   and converted to its typed ``AlgoConfig``;
2. verl's ``compute_rollout_correction_and_add_to_batch`` (what its trainer calls) runs with the composed
   ``algorithm.rollout_correction`` on a ``DataProto`` of old / rollout log-probs and the mask, and ours
   (``correction_weights``, ``mismatch_metrics``) on the same tensors: weights, the response mask and the
   common metrics are compared;
3. for several policy losses, verl's loss function with ``rollout_is_weights`` = its weights and ours on
   ``weighted_log_prob(log_prob, our weights)``: the gradients w.r.t. ``log_prob`` are compared.

Prints one JSON object on the last line of stdout: ``{"cases": [...]}``. Never collected by pytest.
"""

from __future__ import annotations

import json
import sys
import warnings

import torch

warnings.filterwarnings("ignore")

LOSSES = ("vanilla", "gspo", "cispo", "sapo", "clip_cov", "kl_cov", "gpg")
"""Losses whose token loss depends on log_prob through that token only: the weighting's gradient is verl's."""
METRICS = {"kl": "kl", "k3_kl": "k3_kl", "log_ppl_diff": "log_ppl_diff", "log_ppl_abs_diff": "log_ppl_abs_diff"}
"""Our mismatch metric -> verl's ``rollout_corr/`` name."""


def batch(seed: int, bs: int = 16, length: int = 10) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (bs,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    old = -torch.rand(bs, length, generator=g) * 3
    rollout = old - 0.7 * torch.randn(bs, length, generator=g)
    rollout[::5] = old[::5] - 0.05 * torch.randn(old[::5].shape, generator=g)  # near-on-policy rows
    new = old + 0.3 * torch.randn(bs, length, generator=g)
    adv = (torch.randn(bs, 1, generator=g).expand(bs, length) * mask).clone()
    return {"mask": mask, "old": old, "rollout": rollout, "new": new, "adv": adv}


def composed(args: list[str]) -> object:
    """verl's config with ``args`` composed strictly, after a check that its typed ``AlgoConfig`` accepts them."""
    from verl.utils.config import omega_conf_to_dataclass

    from rlvr_bench.backends.verl.compose import compose_verl_config

    cfg = compose_verl_config(args)
    omega_conf_to_dataclass(cfg.algorithm)
    assert cfg.actor_rollout_ref.rollout.calculate_log_probs
    return cfg


def verl_correction(cfg: object, x: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor, dict]:
    from verl.protocol import DataProto
    from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch

    data = DataProto.from_dict(tensors={"old_log_probs": x["old"], "rollout_log_probs": x["rollout"],
                                        "response_mask": x["mask"]})
    data, metrics = compute_rollout_correction_and_add_to_batch(data, cfg.algorithm.rollout_correction)
    weights = data.batch["rollout_is_weights"] if "rollout_is_weights" in data.batch else None
    return weights, data.batch["response_mask"], metrics


def gradient_diffs(x: dict[str, torch.Tensor], verl_w: torch.Tensor, ours_w: torch.Tensor, seed: int) -> dict:
    from verl.trainer.ppo import core_algos

    from rlvr_bench.algorithms import policy_loss
    from rlvr_bench.algorithms.rollout_correction import weighted_log_prob
    from tests.algorithms.verl_losses_2025_check import actor_config

    out = {}
    for name in LOSSES:
        actor = actor_config(name, {}, "token-mean")
        info = {"dp_size": 1, "batch_num_tokens": x["mask"].sum(), "global_batch_size": x["mask"].shape[0]}
        actor.global_batch_info.update(info, loss_scale_factor=actor.loss_scale_factor)
        lp_v = x["new"].clone().requires_grad_(True)
        torch.manual_seed(seed)
        loss_v, _ = core_algos.get_policy_loss_fn(actor.policy_loss.loss_mode)(
            old_log_prob=x["old"], log_prob=lp_v, advantages=x["adv"], response_mask=x["mask"].bool(),
            loss_agg_mode="token-mean", config=actor, rollout_is_weights=verl_w)
        loss_v.backward()
        lp_o = x["new"].clone().requires_grad_(True)
        torch.manual_seed(seed)
        loss_o, _ = policy_loss(name, old_log_prob=x["old"], log_prob=weighted_log_prob(lp_o, ours_w),
                                advantages=x["adv"], response_mask=x["mask"], loss_agg_mode="token-mean",
                                batch_num_tokens=info["batch_num_tokens"], global_batch_size=info["global_batch_size"])
        loss_o.backward()
        out[name] = {"grad_diff": float((lp_o.grad - lp_v.grad).abs().max()),
                     "grad_norm": float(lp_v.grad.abs().max())}
    return out


def one_case(case: dict, cfg: object, seed: int) -> dict:
    from rlvr_bench.algorithms.rollout_correction import correction_weights, mismatch_metrics

    x = batch(seed)
    verl_w, verl_mask, verl_metrics = verl_correction(cfg, x)
    ours_w, ours_stats = correction_weights(case["mode"], x["old"], x["rollout"], x["mask"], cap=case["cap"],
                                            floor=case["floor"])
    ours_metrics = mismatch_metrics(x["old"], x["rollout"], x["mask"])
    out = {"mode": case["mode"], "cap": case["cap"], "floor": case["floor"], "seed": seed,
           "verl_has_weights": verl_w is not None, "mask_equal": bool(torch.equal(verl_mask, x["mask"])),
           "metric_diffs": {k: abs(ours_metrics[k] - float(verl_metrics[f"rollout_corr/{v}"]))
                            for k, v in METRICS.items()},
           "frac_corrected": ours_stats.get("token_frac_corrected", 0.0)}
    if verl_w is not None:
        out["weight_diff"] = float((verl_w - ours_w).abs().max())
        out["grads"] = gradient_diffs(x, verl_w, ours_w, 1000 + seed)
    return out


def main(argv: list[str]) -> int:
    import rlvr_bench.algorithms  # noqa: F401  (registers the losses)

    torch.set_num_threads(1)
    cases = json.loads(argv[0])
    seeds = [int(s) for s in argv[1:]] or [0, 1]
    print(json.dumps({"cases": [one_case(c, composed(c["args"]), s) for c in cases for s in seeds]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
