"""Learning-rate schedules: nanoGPT's get_lr reproduced exactly, values at the key steps of
each schedule, and the ScheduleSetter (applies per group, state_dict round trip, errors)."""
import math

import numpy as np
import pytest

from npformer import optim
from npformer.optim import schedules
from tests.optim.test_optimizers import make_params


def nanogpt_get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    """nanoGPT's train.py get_lr (karpathy/nanoGPT), with its globals made arguments."""
    # 1) linear warmup for warmup_iters steps
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    # 2) if it > lr_decay_iters, return min learning rate
    if it > lr_decay_iters:
        return min_lr
    # 3) in between, use cosine decay down to min learning rate
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # coeff ranges 0..1
    return min_lr + coeff * (learning_rate - min_lr)


@pytest.mark.parametrize("config", [
    dict(learning_rate=6e-4, warmup_iters=20, lr_decay_iters=600, min_lr=6e-5),     # train_gpt2.py, scaled
    dict(learning_rate=1e-3, warmup_iters=100, lr_decay_iters=5000, min_lr=1e-4),   # train_shakespeare_char.py
    dict(learning_rate=1e-3, warmup_iters=0, lr_decay_iters=50, min_lr=0.0),
    dict(learning_rate=0.3, warmup_iters=7, lr_decay_iters=8, min_lr=0.1),
    dict(learning_rate=1e-3, warmup_iters=100, lr_decay_iters=50, min_lr=1e-4),    # a run shorter than warmup
    dict(learning_rate=1e-3, warmup_iters=100, lr_decay_iters=0, min_lr=1e-4),
])
def test_warmup_cosine_is_nanogpts_get_lr_exactly(config):
    schedule = optim.WarmupCosine(config["learning_rate"], config["warmup_iters"], config["lr_decay_iters"],
                                  config["min_lr"])
    for it in range(config["lr_decay_iters"] + 20):
        expected = nanogpt_get_lr(it, **config)
        assert schedule.lr_at(it) == expected, it
        assert schedule(it) == expected
        assert optim.warmup_cosine_lr(it, config["learning_rate"], config["warmup_iters"],
                                      config["lr_decay_iters"], config["min_lr"]) == expected


def test_warmup_cosine_key_steps():
    lr, min_lr, warmup, decay = 1.0, 0.1, 10, 110
    s = optim.WarmupCosine(lr, warmup, decay, min_lr)
    assert s(0) == pytest.approx(lr / 11)
    assert s(9) == pytest.approx(lr * 10 / 11)                   # the last warmup step stays below lr
    assert s(10) == lr                                           # peak
    assert s(60) == pytest.approx((lr + min_lr) / 2, abs=1e-15)  # half way: cos(pi/2) = 0
    assert s(110) == pytest.approx(min_lr, abs=1e-15)
    assert s(111) == s(10 ** 9) == min_lr
    values = [s(t) for t in range(120)]
    assert all(a < b for a, b in zip(values[:10], values[1:11]))     # rises during warmup
    assert all(a >= b for a, b in zip(values[10:], values[11:]))     # never rises after


@pytest.mark.parametrize("make", [optim.WarmupCosine, optim.WarmupLinear])
def test_decay_ending_with_the_warmup_holds_min_lr_after_it(make):
    # get_lr divides 0 by 0 at step = warmup_iters = lr_decay_iters; the limit from either
    # side of "decay ends at or before the warmup" is min_lr
    s = make(1.0, 10, 10, 0.1)
    assert [s(t) for t in range(10)] == [(t + 1) / 11 for t in range(10)]
    assert s(10) == s(11) == s(10 ** 6) == 0.1


def test_warmup_linear_key_steps():
    s = optim.WarmupLinear(2.0, 4, 14, min_lr=0.5)
    assert [s(t) for t in range(4)] == pytest.approx([2.0 * k / 5 for k in (1, 2, 3, 4)])
    assert s(4) == 2.0
    assert s(9) == pytest.approx(1.25)                            # half way between 2.0 and 0.5
    assert s(14) == pytest.approx(0.5) and s(15) == s(1000) == 0.5
    steps = np.diff([s(t) for t in range(4, 15)])
    np.testing.assert_allclose(steps, -0.15, rtol=1e-12)         # a straight line
    assert optim.warmup_linear_lr(9, 2.0, 4, 14, 0.5) == s(9)
    assert optim.WarmupLinear(1.0, 0, 10)(10) == 0.0             # min_lr defaults to 0


def test_noam():
    d_model, warmup, factor = 512, 4000, 2.0
    s = optim.Noam(d_model, warmup, factor)
    peak = factor * d_model ** -0.5 * warmup ** -0.5
    assert s(warmup) == pytest.approx(peak, rel=1e-15)
    assert s(1) == pytest.approx(factor * d_model ** -0.5 * warmup ** -1.5, rel=1e-15)
    assert s(0) == s(1)                                          # step 0 read as step 1
    assert s(100) == pytest.approx(100 * s(1), rel=1e-13)         # linear during warmup
    assert s(4 * warmup) == pytest.approx(peak / 2, rel=1e-13)   # then ~ 1/sqrt(step)
    values = [s(t) for t in range(1, 3 * warmup)]
    assert int(np.argmax(values)) + 1 == warmup
    assert optim.noam_lr(123, d_model, warmup, factor) == s(123)


def test_constant():
    s = optim.Constant(3e-4)
    assert s(0) == s(10 ** 6) == optim.constant_lr(5, 3e-4) == 3e-4


@pytest.mark.parametrize("make, match", [
    (lambda: optim.WarmupCosine(-1.0, 10, 100), "lr must be"),
    (lambda: optim.WarmupCosine(1.0, 1.5, 100), "warmup_iters must be an int"),
    (lambda: optim.WarmupCosine(1.0, 10, 100, float("nan")), "min_lr must be"),
    (lambda: optim.Noam(512, 0), "must be > 0"),
    (lambda: optim.Noam(512, 4000, factor=-1.0), "factor"),
    (lambda: optim.Constant("0.1"), "lr must be"),
])
def test_bad_schedule_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_as_dict_and_repr():
    s = optim.WarmupCosine(6e-4, 2000, 600000, 6e-5)
    assert s.as_dict() == {"schedule": "WarmupCosine", "lr": 6e-4, "warmup_iters": 2000, "lr_decay_iters": 600000,
                           "min_lr": 6e-5}
    assert repr(s).startswith("WarmupCosine(lr=0.0006")


# ---------------------------------------------------------------------------- ScheduleSetter
def two_group_optimizer():
    params = make_params()
    return optim.AdamW([{"params": params[:2]}, {"params": params[2:], "weight_decay": 0.0}], lr=1.0)


def test_scheduler_sets_every_groups_lr_each_step():
    opt = two_group_optimizer()
    schedule = optim.WarmupCosine(1e-3, 5, 50, 1e-4)
    scheduler = optim.ScheduleSetter(opt, schedule)
    seen = []
    for _ in range(60):
        seen.append([g["lr"] for g in opt.param_groups])
        assert scheduler.get_last_lr() == seen[-1]
        opt.step()
        scheduler.step()
    assert seen == [[schedule(t)] * 2 for t in range(60)]
    assert scheduler.last_step == 60


def test_scheduler_with_one_schedule_per_group():
    opt = two_group_optimizer()
    schedules_ = [optim.Constant(0.5), optim.Noam(16, 4)]
    scheduler = optim.ScheduleSetter(opt, schedules_)
    scheduler.step()
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == [0.5, schedules_[1](2)]
    with pytest.raises(ValueError, match="3 schedules for 2 parameter groups"):
        optim.ScheduleSetter(opt, schedules_ + [optim.Constant(1.0)])
    with pytest.raises(TypeError, match="not callable"):
        optim.ScheduleSetter(opt, [0.1, 0.2])


def test_scheduler_accepts_any_function_and_last_step():
    opt = two_group_optimizer()
    scheduler = optim.ScheduleSetter(opt, lambda step: 0.1 * (step + 1), last_step=9)
    assert scheduler.last_step == 10 and opt.param_groups[0]["lr"] == pytest.approx(1.1)


def test_scheduler_state_dict_round_trip():
    schedule = optim.WarmupCosine(1e-3, 5, 50, 1e-4)
    opt = two_group_optimizer()
    scheduler = optim.ScheduleSetter(opt, schedule)
    for _ in range(17):
        scheduler.step()
    saved = scheduler.state_dict()
    assert saved == {"last_step": 17, "last_lr": [schedule(17)] * 2}
    fresh_opt = two_group_optimizer()
    fresh = optim.ScheduleSetter(fresh_opt, schedule)
    fresh.load_state_dict(saved)
    assert fresh.last_step == 17 and [g["lr"] for g in fresh_opt.param_groups] == [schedule(17)] * 2
    fresh.step()
    scheduler.step()
    assert fresh.get_last_lr() == scheduler.get_last_lr()
    for bad, match in [({}, "'last_step'"), ({"last_step": -1}, "int >= 0"), ({"last_step": 2.0}, "int >= 0")]:
        with pytest.raises(ValueError, match=match):
            fresh.load_state_dict(bad)
    with pytest.raises(ValueError, match="last_step must be an int >= -1"):
        optim.ScheduleSetter(opt, schedule, last_step=-2)


def test_module_exports():
    for name in schedules.__all__:
        assert getattr(optim, name) is getattr(schedules, name)


def test_the_old_name_is_gone_with_a_pointer_to_the_new_ones():
    # torch.optim has no LRScheduler; torch's base class is optim.lr_scheduler.LRScheduler
    with pytest.raises(AttributeError, match="ScheduleSetter"):
        optim.LRScheduler                                   # noqa: B018
    assert not hasattr(optim, "LRScheduler") and hasattr(optim.lr_scheduler, "LRScheduler")
    assert not isinstance(optim.ScheduleSetter(two_group_optimizer(), optim.Constant(0.1)),
                          optim.lr_scheduler.LRScheduler)
