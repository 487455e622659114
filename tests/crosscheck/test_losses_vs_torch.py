"""npformer's losses against torch's: every function of npformer.functional and every loss
module of npformer.nn, each reduction and option, in float64.

Each case feeds the same float64 arrays to both libraries, backpropagates the same upstream
gradient (a fixed random array for reduction="none", a random scalar otherwise) and compares
the loss and the gradient of every differentiable argument (the input always, the target and
the class weights where torch differentiates them) with relative error
max |ours - torch| / max(max |torch|, 1) <= 1e-10.
"""
import warnings

import numpy as np
import pytest

import npformer as nf
import npformer.functional as F
import npformer.nn as nn
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
TF = torch.nn.functional

COVERS = {"BinaryCrossEntropy"}   # the one new Function here; the other losses compose existing ops

TOLERANCE = 1e-10
REDUCTIONS = ("none", "mean", "sum")


def _quiet(fn, *args, **kwargs):
    """Both libraries warn for kl_div's "mean" and for size_average/reduce: same warnings, not the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def compare(what, ours, theirs, arrays, differentiable, seed=0, **options):
    """Run ``ours(*tensors, **options)`` and ``theirs(*torch_tensors, **options)`` on float64
    copies of ``arrays`` (name -> array; integer arrays stay integer); compare the value and the
    gradients of the arrays named in ``differentiable``. Returns the worst error."""
    names = list(arrays)
    our_in = {n: nf.tensor(np.array(a), requires_grad=n in differentiable) for n, a in arrays.items()}
    torch_in = {n: torch.tensor(np.array(a), requires_grad=n in differentiable) for n, a in arrays.items()}
    our_out = _quiet(ours, *[our_in[n] for n in names], **options)
    torch_out = _quiet(theirs, *[torch_in[n] for n in names], **options)
    assert our_out.shape == tuple(torch_out.shape), f"{what}: shape {our_out.shape} vs {tuple(torch_out.shape)}"
    assert our_out.dtype == np.float64
    errors = {"value": relative_error(our_out.numpy(), torch_out.detach().numpy())}
    upstream = np.random.default_rng(seed).standard_normal(our_out.shape)
    our_out.backward(nf.tensor(upstream))
    torch_out.backward(torch.from_numpy(upstream))
    for name in differentiable:
        expected = torch_in[name].grad
        assert expected is not None, f"{what}: torch gives no gradient for {name}"
        got = our_in[name].grad
        assert got is not None, f"{what}: no gradient for {name}"
        errors["gradient of " + name] = relative_error(got.numpy(), expected.numpy())
    worst = max(errors, key=errors.get)
    record_torch_error(f"{what} float64", errors[worst])
    assert errors[worst] <= TOLERANCE, f"{what}: {worst} relative error {errors[worst]:.3e}"
    return errors[worst]


def _logits(rng, *shape):
    return rng.standard_normal(shape) * 2


# ---------------------------------------------------------------------------- cross_entropy
CE_SHAPES = {"(N, C)": (5, 4), "(C,)": (4,), "(N, C, d1, d2)": (2, 4, 3, 2)}


def _class_targets(rng, shape, ignore=False):
    classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = rng.integers(0, classes, target_shape)
    if ignore and target.ndim:
        target.reshape(-1)[1] = -100
    return target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", list(CE_SHAPES))
@pytest.mark.parametrize("weighted, ignore, smoothing", [(False, False, 0.0), (True, False, 0.0), (False, True, 0.0),
                                                          (True, True, 0.0), (False, False, 0.2), (True, True, 0.3)])
def test_cross_entropy_class_targets(shape, reduction, weighted, ignore, smoothing):
    rng = np.random.default_rng(1)
    dims = CE_SHAPES[shape]
    classes = dims[0] if len(dims) == 1 else dims[1]
    arrays = {"input": _logits(rng, *dims), "target": _class_targets(rng, dims, ignore and len(dims) > 1)}
    if weighted:
        arrays["weight"] = rng.uniform(0.2, 2.0, classes)
    what = f"cross_entropy {shape} {reduction} weight={weighted} ignore={ignore} smoothing={smoothing}"
    compare(what, F.cross_entropy, TF.cross_entropy, arrays, ["input"], reduction=reduction,
            label_smoothing=smoothing)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", list(CE_SHAPES))
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.0), (True, 0.25)])
def test_cross_entropy_probability_targets_differentiable_in_both(shape, reduction, weighted, smoothing):
    rng = np.random.default_rng(2)
    dims = CE_SHAPES[shape]
    classes = dims[0] if len(dims) == 1 else dims[1]
    target = rng.dirichlet(np.ones(classes), size=int(np.prod(dims)) // classes)        # rows sum to 1
    target = np.moveaxis(target.reshape((dims[0],) + dims[2:] + (classes,)) if len(dims) > 1 else target[0], -1,
                         1 if len(dims) > 1 else 0)
    arrays = {"input": _logits(rng, *dims), "target": target}
    if weighted:
        arrays["weight"] = rng.uniform(0.2, 2.0, classes)
    what = f"cross_entropy probabilities {shape} {reduction} weight={weighted} smoothing={smoothing}"
    compare(what, F.cross_entropy, TF.cross_entropy, arrays, ["input", "target"], reduction=reduction,
            label_smoothing=smoothing)


def test_cross_entropy_legacy_size_average_and_reduce():
    rng = np.random.default_rng(3)
    arrays = {"input": _logits(rng, 4, 3), "target": rng.integers(0, 3, 4)}
    for size_average, reduce in [(False, None), (None, False), (True, True), (False, True)]:
        compare(f"cross_entropy size_average={size_average} reduce={reduce}", F.cross_entropy, TF.cross_entropy,
                arrays, ["input"], size_average=size_average, reduce=reduce)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", list(CE_SHAPES))
@pytest.mark.parametrize("weighted, ignore", [(False, False), (True, False), (True, True)])
def test_nll_loss(shape, reduction, weighted, ignore):
    rng = np.random.default_rng(4)
    dims = CE_SHAPES[shape]
    classes = dims[0] if len(dims) == 1 else dims[1]
    log_probs = torch.log_softmax(torch.from_numpy(_logits(rng, *dims)), dim=0 if len(dims) == 1 else 1).numpy()
    arrays = {"input": log_probs, "target": _class_targets(rng, dims, ignore and len(dims) > 1)}
    if weighted:
        arrays["weight"] = rng.uniform(0.2, 2.0, classes)
    compare(f"nll_loss {shape} {reduction} weight={weighted} ignore={ignore}", F.nll_loss, TF.nll_loss, arrays,
            ["input"], reduction=reduction)


# ---------------------------------------------------------------------------- kl_div
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    rng = np.random.default_rng(5)
    log_p = np.log(rng.dirichlet(np.ones(5), size=(3, 2)))
    q = rng.dirichlet(np.ones(5), size=(3, 2))
    q[0, 0, 1] = 0.0                                              # a zero probability: contributes 0
    target = np.log(rng.dirichlet(np.ones(5), size=(3, 2))) if log_target else q
    differentiable = ["input", "target"] if log_target else ["input"]
    compare(f"kl_div {reduction} log_target={log_target}", F.kl_div, TF.kl_div, {"input": log_p, "target": target},
            differentiable, reduction=reduction, log_target=log_target)


def test_kl_div_target_gradient_away_from_zero():
    rng = np.random.default_rng(6)
    arrays = {"input": np.log(rng.dirichlet(np.ones(4), size=3)), "target": rng.dirichlet(np.ones(4), size=3)}
    compare("kl_div target gradient", F.kl_div, TF.kl_div, arrays, ["input", "target"], reduction="batchmean")


# ---------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_and_l1(name, reduction, weighted):
    rng = np.random.default_rng(7)
    arrays = {"input": rng.standard_normal((3, 4)), "target": rng.standard_normal((3, 4))}
    if weighted:
        arrays["weight"] = rng.uniform(0.1, 2.0, (3, 4))
    ours, theirs = getattr(F, name), getattr(TF, name)
    compare(f"{name} {reduction} weight={weighted}", lambda x, y, *w: ours(x, y, reduction=reduction,
                                                                         weight=w[0] if w else None),
            lambda x, y, *w: theirs(x, y, reduction=reduction, weight=w[0] if w else None), arrays,
            ["input", "target"] + (["weight"] if weighted else []))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1(reduction, beta):
    rng = np.random.default_rng(8)
    arrays = {"input": rng.standard_normal((4, 5)) * 1.5, "target": rng.standard_normal((4, 5))}
    compare(f"smooth_l1_loss {reduction} beta={beta}", F.smooth_l1_loss, TF.smooth_l1_loss, arrays,
            ["input", "target"], reduction=reduction, beta=beta)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber(reduction, delta, weighted):
    rng = np.random.default_rng(9)
    arrays = {"input": rng.standard_normal((4, 5)) * 1.5, "target": rng.standard_normal((4, 5))}
    weight = rng.uniform(0.1, 2.0, (4, 5)) if weighted else None
    compare(f"huber_loss {reduction} delta={delta} weight={weighted}",
            lambda x, y: F.huber_loss(x, y, reduction=reduction, delta=delta,
                                      weight=None if weight is None else nf.tensor(weight)),
            lambda x, y: TF.huber_loss(x, y, reduction=reduction, delta=delta,
                                       weight=None if weight is None else torch.from_numpy(weight)),
            arrays, ["input", "target"])


def test_mse_broadcast_target_warns_and_matches():
    rng = np.random.default_rng(10)
    arrays = {"input": rng.standard_normal((3, 4)), "target": rng.standard_normal(4)}
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(nf.tensor(arrays["input"]), nf.tensor(arrays["target"]))
    compare("mse_loss broadcast target", F.mse_loss, TF.mse_loss, arrays, ["input", "target"])


# ---------------------------------------------------------------------------- binary cross entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (4,), (3, 4)])
def test_binary_cross_entropy(reduction, weight_shape):
    rng = np.random.default_rng(11)
    arrays = {"input": rng.uniform(0.02, 0.98, (3, 4)), "target": rng.uniform(0, 1, (3, 4))}
    if weight_shape:
        arrays["weight"] = rng.uniform(0.2, 2.0, weight_shape)
    compare(f"binary_cross_entropy {reduction} weight={weight_shape}", F.binary_cross_entropy,
            TF.binary_cross_entropy, arrays, ["input", "target"], reduction=reduction)


def test_binary_cross_entropy_at_saturated_probabilities_is_finite_as_torch():
    """A float32 sigmoid reaches exactly 0 and 1: PyTorch clamps the logs at -100 and the
    gradient's denominator at 1e-12, so loss and gradient stay finite; so do npformer's."""
    arrays = {"input": np.array([0.0, 1.0, 1.0, 0.0, 0.3]), "target": np.array([0.0, 1.0, 0.0, 1.0, 0.6])}
    for reduction in REDUCTIONS:
        compare(f"binary_cross_entropy saturated {reduction}", F.binary_cross_entropy, TF.binary_cross_entropy,
                arrays, ["input"], reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, positive", [(False, False), (True, False), (False, True), (True, True)])
def test_binary_cross_entropy_with_logits(reduction, weighted, positive):
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((3, 4)) * 3
    logits[0, :2] = [60.0, -60.0]                                  # far out: no overflow in either
    arrays = {"input": logits, "target": rng.uniform(0, 1, (3, 4))}
    if weighted:
        arrays["weight"] = rng.uniform(0.2, 2.0, (3, 4))
    pos_weight = rng.uniform(0.5, 3.0, 4) if positive else None
    compare(f"binary_cross_entropy_with_logits {reduction} weight={weighted} pos_weight={positive}",
            lambda x, y, *w: F.binary_cross_entropy_with_logits(
                x, y, w[0] if w else None, reduction=reduction,
                pos_weight=None if pos_weight is None else nf.tensor(pos_weight)),
            lambda x, y, *w: TF.binary_cross_entropy_with_logits(
                x, y, w[0] if w else None, reduction=reduction,
                pos_weight=None if pos_weight is None else torch.from_numpy(pos_weight)),
            arrays, ["input", "target"])                              # torch: weight is not differentiable


# ---------------------------------------------------------------------------- the modules
def _module_cases(rng):
    """(name, npformer module, torch module, arrays, differentiable) for every loss module."""
    logits, classes = _logits(rng, 5, 4), rng.integers(0, 4, 5)
    weight = rng.uniform(0.3, 2.0, 4)
    probs, y = rng.uniform(0.05, 0.95, (5, 4)), rng.uniform(0, 1, (5, 4))
    log_p = np.log(rng.dirichlet(np.ones(4), size=5))
    q = rng.dirichlet(np.ones(4), size=5)
    pos = rng.uniform(0.5, 2.0, 4)
    tn, tt = nf.tensor, torch.from_numpy
    return [
        ("CrossEntropyLoss", nn.CrossEntropyLoss(tn(weight), ignore_index=2, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(tt(weight), ignore_index=2, label_smoothing=0.1), (logits, classes)),
        ("CrossEntropyLoss sum", nn.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum"),
         (logits, classes)),
        ("NLLLoss", nn.NLLLoss(tn(weight), reduction="none"), torch.nn.NLLLoss(tt(weight), reduction="none"),
         (log_p, classes)),
        ("KLDivLoss batchmean", nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
         (log_p, q)),
        ("KLDivLoss log_target sum", nn.KLDivLoss(reduction="sum", log_target=True),
         torch.nn.KLDivLoss(reduction="sum", log_target=True), (log_p, np.log(q))),
        ("MSELoss", nn.MSELoss(), torch.nn.MSELoss(), (probs, y)),
        ("MSELoss size_average=False", nn.MSELoss(size_average=False), torch.nn.MSELoss(size_average=False),
         (probs, y)),
        ("L1Loss", nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), (probs, y)),
        ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.1), torch.nn.SmoothL1Loss(beta=0.1), (probs, y)),
        ("HuberLoss", nn.HuberLoss(delta=0.2, reduction="none"), torch.nn.HuberLoss(delta=0.2, reduction="none"),
         (probs, y)),
        ("BCELoss", nn.BCELoss(tn(weight)), torch.nn.BCELoss(tt(weight)), (probs, y)),
        ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(tn(np.ones((5, 4)) * 0.5), pos_weight=tn(pos)),
         torch.nn.BCEWithLogitsLoss(tt(np.ones((5, 4)) * 0.5), pos_weight=tt(pos)), (logits, y)),
    ]


@pytest.mark.parametrize("index", range(12))
def test_loss_modules_match_torch_modules(index):
    name, ours, theirs, (x, y), = _module_cases(np.random.default_rng(13))[index]
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())           # weight, pos_weight: buffers
    assert ours.reduction == theirs.reduction
    compare(f"nn.{name}", ours, theirs, {"input": x, "target": y}, ["input"])


def test_every_loss_module_is_covered():
    names = {case[0].split()[0] for case in _module_cases(np.random.default_rng(0))}
    assert names == {"CrossEntropyLoss", "NLLLoss", "KLDivLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
                     "BCELoss", "BCEWithLogitsLoss"}
    assert len(_module_cases(np.random.default_rng(0))) == 12


# ---------------------------------------------------------------------------- bad input, as torch
@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
                                "binary_cross_entropy_with_logits", "cross_entropy"])
def test_an_unknown_reduction_is_refused_by_both(fn):
    x, y = np.full((2, 3), 0.5), np.full((2, 3), 0.5)
    with pytest.raises(ValueError):
        getattr(TF, fn)(torch.from_numpy(x), torch.from_numpy(y), reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        getattr(F, fn)(nf.tensor(x), nf.tensor(y), reduction="avg")


def test_binary_cross_entropy_refuses_what_torch_refuses():
    with pytest.raises(ValueError):
        TF.binary_cross_entropy(torch.full((2, 3), 0.5), torch.full((3,), 0.5))
    with pytest.raises(ValueError, match=r"target size \(3,\) must be the same as input size \(2, 3\)"):
        F.binary_cross_entropy(nf.tensor(np.full((2, 3), 0.5)), nf.tensor(np.full(3, 0.5)))
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy(torch.tensor([1.5, 0.5]), torch.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(nf.tensor([1.5, 0.5]), nf.tensor([1.0, 0.0]))
    with pytest.raises(ValueError):
        TF.binary_cross_entropy_with_logits(torch.zeros(2, 3), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(nf.tensor(np.zeros((2, 3))), nf.tensor(np.zeros((2, 1))))


def test_mse_weight_of_another_shape_is_refused_by_both():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        TF.mse_loss(torch.from_numpy(x), torch.from_numpy(x), weight=torch.ones(3))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.mse_loss(nf.tensor(x), nf.tensor(x), weight=nf.tensor(np.ones(3)))
