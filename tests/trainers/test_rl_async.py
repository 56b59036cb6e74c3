"""One-step-off-policy rollouts (``rollout.mode: one_step_off``, ``rlvr_bench.trainers.rl_async``): the schedule
and its staleness metrics, reproducibility, exact resume, the one-line refusals; and (slow) the toy GRPO preset
trained asynchronously lands in the synchronous run's pass@1 band."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from rlvr_bench.errors import UserError
from rlvr_bench.trainers import rl as rl_module
from rlvr_bench.trainers import rl_async
from rlvr_bench.trainers.rl import RLTrainer
from tests.trainers.rl_helpers import starts_with_digit, tiny_rl_config

STOPS = [str(d) for d in range(10)]  # a random model ends at its first digit: rewards vary within groups
TIMING = ("compute/wall_seconds", "async/wait_seconds", "async/rollout_seconds")


def _cfg(model_dir, out, mode: str, **trainer):
    return tiny_rl_config(model_dir, out, "grpo", trainer={"steps": 4, "save_every": 2, **trainer},
                          rollout={"stop": STOPS, "mode": mode, "correction": "token_truncate"},
                          algorithm={"use_kl_loss": False})


def _rows(run) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in run.metrics() if "reward/mean" in r]


def _weights(trainer: RLTrainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.accelerator.unwrap_model(trainer.model).state_dict().items()}


class _Stop(Exception):
    pass


def test_one_step_off_is_one_step_stale_reproducible_and_resumes_exactly(tiny_model_dir, tmp_path, monkeypatch):
    full = RLTrainer(_cfg(tiny_model_dir, tmp_path / "full", "one_step_off"), reward_fn=starts_with_digit)
    rows = _rows(full.train())
    assert [r["async/staleness"] for r in rows] == [0.0, 1.0, 1.0, 1.0]
    assert [r["async/policy_version"] for r in rows] == [0.0, 0.0, 1.0, 2.0]
    # the engine's log-probs are the stale copy's: equal to the trainer's at step 1, apart after an update
    assert rows[0]["rollout_correction/logp_abs_diff_max"] < 1e-4
    assert all(r["rollout_correction/logp_abs_diff_max"] > 1e-3 for r in rows[1:])
    assert rows[-1]["compute/samples"] == 4 * 16  # every batch trained on once, none generated past the end

    def stop_after_2(step):
        if step == 2:
            raise _Stop

    monkeypatch.setattr(rl_module, "maybe_fault", stop_after_2)  # killed right after checkpoint 2
    with pytest.raises(_Stop):
        RLTrainer(_cfg(tiny_model_dir, tmp_path / "cut", "one_step_off"), reward_fn=starts_with_digit).train()
    monkeypatch.undo()
    state = torch.load(tmp_path / "cut" / "checkpoints" / "step-2" / "trainer_state.pt", weights_only=False)
    assert state[rl_async.STATE_KEY]["step"] == 3 and state[rl_async.STATE_KEY]["version"] == 1
    resumed = RLTrainer(_cfg(tiny_model_dir, tmp_path / "cut", "one_step_off"), reward_fn=starts_with_digit)
    assert resumed.step == 0 and resumed.resume_step == 2
    # steps 1-2: a second run with the same seed; steps 3-4: after the resume (the saved batch, then a new one)
    assert _rows(resumed.train()) == rows
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_of_one_mode_is_refused_by_the_other_in_one_line():
    pending = {rl_async.STATE_KEY: {"step": 3, "version": 1, "batch": None}}
    with pytest.raises(rl_async.AsyncRolloutError, match="rollout.mode=one_step_off") as err:
        rl_async.restore(None, pending, step=2, final_step=4)
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)
    with pytest.raises(rl_async.AsyncRolloutError, match="rollout.mode=sync"):
        rl_async.restore(object(), {}, step=2, final_step=4)
    rl_async.restore(object(), {}, step=4, final_step=4)  # saved at the last step: nothing was pending
    rl_async.restore(None, {}, step=2, final_step=4)


@pytest.mark.parametrize("backend,world,needle", [("vllm", 1, "rollout.backend=vllm"), ("hf", 2, "2 were launched")])
def test_one_step_off_refuses_other_engines_and_processes_in_one_line(backend, world, needle):
    trainer = SimpleNamespace(cfg=SimpleNamespace(rollout=SimpleNamespace(mode="one_step_off", backend=backend),
                                                  trainer=SimpleNamespace(torch_threads=1)), world=world)
    with pytest.raises(rl_async.AsyncRolloutError) as err:
        rl_async.make_overlap(trainer)
    assert needle in str(err.value) and "\n" not in str(err.value)
    trainer.cfg.rollout.mode = "sync"
    assert rl_async.make_overlap(trainer) is None


def test_threads_are_split_between_trainer_and_worker():
    assert [rl_async.split_threads(n) for n in (1, 2, 3, 8)] == [(1, 1), (1, 1), (2, 1), (4, 4)]


def test_verl_export_refuses_one_step_off_in_one_line():
    from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
    from rlvr_bench.backends.verl.plan import build_plan
    from rlvr_bench.config import config_from_dict
    from rlvr_bench.trainers.rl import resolve_algorithm
    from tests.backends.test_verl_export import FACTS

    raw = {"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"}}
    sync = config_from_dict(raw)
    assert [r for r in build_plan(sync, resolve_algorithm(sync), FACTS).rows if r.field == "rollout.mode"]
    cfg = config_from_dict({**raw, "rollout": {"mode": "one_step_off"}})
    with pytest.raises(UnsupportedRecipeError) as err:
        build_plan(cfg, resolve_algorithm(cfg), FACTS)
    lines = [p for p in err.value.problems if p.startswith("rollout.mode=")]
    assert len(lines) == 1 and "one_step_off_policy" in lines[0] and "\n" not in lines[0]
