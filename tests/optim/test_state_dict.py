"""Optimizer state_dict: layout, the resume round trip (10 steps == 5 steps, save, a new
optimizer, load, 5 steps, bit for bit), the checkpoint form, and the errors on bad state."""
import json

import numpy as np
import pytest

from npformer import optim
from npformer.io import load_file, save_file
from tests.optim.test_optimizers import make_grads, make_params, run

CASES = {
    "SGD": lambda groups: optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "SGD-plain": lambda groups: optim.SGD(groups, lr=0.1),
    "Adam": lambda groups: optim.Adam(groups, lr=1e-2, weight_decay=0.01, amsgrad=True),
    "AdamW": lambda groups: optim.AdamW(groups, lr=1e-2, betas=(0.8, 0.95)),
    "Adagrad": lambda groups: optim.Adagrad(groups, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
}


def two_groups(params):
    return [{"params": params[:2], "weight_decay": 0.1}, {"params": params[2:], "weight_decay": 0.0, "lr": 3e-3}]


def checkpoint_round_trip(state_dict, directory=None):
    """Through the checkpoint form: arrays by name (in a safetensors file when ``directory``
    is given) plus a JSON string."""
    arrays, meta = optim.state_dict_to_arrays(state_dict, prefix="")
    if directory is None:
        arrays = {name: np.array(a) for name, a in arrays.items()}
    else:
        path = str(directory / "optimizer.safetensors")
        save_file(arrays, path)
        arrays = load_file(path)
    return optim.state_dict_from_arrays(arrays, json.loads(json.dumps(meta)))


@pytest.mark.parametrize("through", ["memory", "json", "safetensors"])
@pytest.mark.parametrize("name", list(CASES))
def test_resume_continues_bit_identically(name, through, tmp_path):
    make = CASES[name]
    grads = make_grads(make_params(), steps=10)
    # uninterrupted
    params = make_params()
    straight = run(make(two_groups(params)), params, grads)[-1]
    # 5 steps, save, a fresh optimizer over the same parameters, load, 5 more steps
    params = make_params()
    first = make(two_groups(params))
    run(first, params, grads[:5])
    saved = first.state_dict()
    if through != "memory":
        saved = checkpoint_round_trip(saved, tmp_path if through == "safetensors" else None)
    second = make(two_groups(params))
    second.load_state_dict(saved)
    resumed = run(second, params, grads[5:])[-1]
    for a, b in zip(straight, resumed):
        assert np.array_equal(a, b)


def test_layout_indices_and_values():
    params = make_params()
    opt = optim.Adam(two_groups(params), lr=1e-2, amsgrad=True)
    run(opt, params, make_grads(params, steps=3))
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 3e-3 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 1, 2]
    entry = sd["state"][1]
    assert entry["step"] == 3 and type(entry["step"]) is int
    assert sorted(entry) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert entry["exp_avg"].shape == params[1].numpy().shape
    json.dumps(sd["param_groups"])                                    # hyperparameters are plain Python


def test_loaded_arrays_are_copies_and_hyperparameters_are_restored():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    run(opt, params, make_grads(params, steps=2))
    saved = opt.state_dict()
    other = optim.SGD(params, lr=0.5, momentum=0.5)
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.1 and other.param_groups[0]["momentum"] == 0.9
    assert other.param_groups[0]["params"][0] is params[0]
    buf = other.state[params[0]]["momentum_buffer"]
    assert buf is not saved["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(buf, saved["state"][0]["momentum_buffer"])


def test_loading_casts_state_to_the_parameter_dtype():
    params64 = make_params()
    opt = optim.Adam(params64, lr=1e-2)
    run(opt, params64, make_grads(params64, steps=2))
    params32 = make_params(np.float32)
    opt32 = optim.Adam(params32, lr=1e-2)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32


def test_torch_style_float_steps_and_string_keys_load():
    params = make_params()
    opt = optim.Adam(params)
    run(opt, params, make_grads(params, steps=2))
    sd = opt.state_dict()
    sd = {"param_groups": [dict(g, betas=list(g["betas"])) for g in sd["param_groups"]],
          "state": {str(k): dict(v, step=float(v["step"])) for k, v in sd["state"].items()}}
    other = optim.Adam(params)
    other.load_state_dict(sd)
    assert other.state[params[2]]["step"] == 2 and other.param_groups[0]["betas"] == (0.9, 0.999)


def saved_adam():
    params = make_params()
    opt = optim.Adam(two_groups(params), lr=1e-2)
    run(opt, params, make_grads(params, steps=2))
    return opt.state_dict()


def corrupt(change):
    def apply():
        sd = saved_adam()
        change(sd)
        return sd
    return apply


def _set(mapping, key, value):
    mapping[key] = value


BAD = [
    (lambda: [1, 2], "expected a dict with 'state' and 'param_groups'"),
    (corrupt(lambda sd: sd.pop("state")), "expected a dict with 'state' and 'param_groups'"),
    (corrupt(lambda sd: sd["param_groups"].pop()), "has 1 parameter groups, this optimizer has 2"),
    (corrupt(lambda sd: sd["param_groups"][0]["params"].pop()), "parameter group 0 has 1 parameters in the state "
                                                                "dict, 2 in this optimizer"),
    (corrupt(lambda sd: _set(sd["param_groups"][1], "params", [0])), "index 0 appears twice"),
    (corrupt(lambda sd: _set(sd["param_groups"][1], "lr", -1.0)), "group 1: invalid lr"),
    (corrupt(lambda sd: _set(sd["param_groups"][0], "betas", (0.9,))), "betas must be a pair"),
    (corrupt(lambda sd: _set(sd["state"], 7, sd["state"][0])), "parameter 7, which is in no parameter group"),
    (corrupt(lambda sd: _set(sd["state"], -1, sd["state"][0])), "index must be an int >= 0"),
    (corrupt(lambda sd: _set(sd["state"][2], "exp_avg", np.zeros((2, 2)))),
     r"parameter 2 \(group 1\): 'exp_avg' has shape \(2, 2\), the parameter has shape \(\)"),
    (corrupt(lambda sd: _set(sd["state"][0], "exp_avg_sq", np.zeros((4, 3)))), "'exp_avg_sq' has shape"),
    (corrupt(lambda sd: _set(sd["state"][0], "exp_avg", [[0.0] * 4] * 3)), "must be a numeric ndarray"),
    (corrupt(lambda sd: sd["state"][1].pop("exp_avg_sq")), r"missing \['exp_avg_sq'\]"),
    (corrupt(lambda sd: _set(sd["state"][1], "momentum_buffer", np.zeros(5))), r"unexpected \['momentum_buffer'\]"),
    (corrupt(lambda sd: _set(sd["state"][1], "step", -1)), "'step' must be a whole number >= 0"),
    (corrupt(lambda sd: _set(sd["state"][1], "step", 2.5)), "'step' must be a whole number >= 0"),
    (corrupt(lambda sd: _set(sd["state"][1], "step", np.zeros(5))), "'step' must be a whole number >= 0"),
    (corrupt(lambda sd: _set(sd["state"], 1, [1, 2])), "expected a dict, got list"),
    # amsgrad switched on in the saved groups, but the state has no max_exp_avg_sq
    (corrupt(lambda sd: _set(sd["param_groups"][0], "amsgrad", True)), r"missing \['max_exp_avg_sq'\]"),
]


@pytest.mark.parametrize("make_bad, match", BAD, ids=[m for _, m in BAD])
def test_bad_state_is_a_clear_error_and_changes_nothing(make_bad, match):
    params = make_params()
    opt = optim.Adam(two_groups(params), lr=1e-2)
    run(opt, params, make_grads(params, steps=1, seed=5))
    before = opt.state_dict()
    before_arrays = {k: {n: np.copy(v) for n, v in e.items()} for k, e in before["state"].items()}
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(make_bad())
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for k, entry in before_arrays.items():
        for n, v in entry.items():
            assert np.array_equal(after["state"][k][n], v)


def test_state_arrays_from_another_optimizer_are_rejected():
    params = make_params()
    sgd = optim.SGD(params, lr=0.1, momentum=0.9)
    run(sgd, params, make_grads(params, steps=1))
    with pytest.raises(ValueError, match=r"missing \['exp_avg', 'exp_avg_sq', 'step'\]"):
        optim.Adam(params).load_state_dict(sgd.state_dict())


def test_state_dict_from_arrays_rejects_bad_names():
    with pytest.raises(ValueError, match="expected 'optimizer.state.<index>.<key>'"):
        optim.state_dict_from_arrays({"optimizer.state.x.exp_avg": np.zeros(2)}, {"param_groups": []})
