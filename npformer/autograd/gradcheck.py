"""gradcheck: compare the analytic gradient of a function with central finite differences.

For inputs x (the tensors that require grad) and outputs y = f(x), the Jacobian entry
J[j, k] = dy_j / dx_k is estimated numerically as

    (y_j(x + eps e_k) - y_j(x - eps e_k)) / (2 eps)      error O(eps^2 f''')

in float64, and analytically by one vector-Jacobian product per output element (backward
with a one-hot upstream gradient). Full mode compares every entry. Fast mode compares one
random projection per input, v^T J u with random unit u (input side) and v (output side),
which costs two evaluations of f per input instead of two per input element; when a
projection disagrees, the full Jacobian of that input is computed to name the worst entry.

An entry passes when |analytic - numeric| <= atol + rtol * |numeric|, as in PyTorch.
"""
import numpy as np

from .engine import grad as autograd_grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytic and numerical gradients disagree; the message names where and by how much."""


class InputReport:
    """What gradcheck measured for one input."""

    def __init__(self, position, max_abs_error, max_abs_numeric, entries):
        self.position = position
        self.max_abs_error = max_abs_error
        self.max_abs_numeric = max_abs_numeric
        self.entries = entries

    @property
    def relative_error(self):
        """Normwise: max |analytic - numeric| over max |numeric|.

        Elementwise ratios blow up on entries whose true derivative is 0 (where the finite
        difference leaves O(eps^2) noise), so the table reports the error against the scale
        of the Jacobian.
        """
        return self.max_abs_error / max(self.max_abs_numeric, np.finfo(np.float64).tiny)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, raise_exception=True,
              seed=0):
    """True when ``fn``'s backward agrees with finite differences; otherwise raise GradcheckError.

    ``inputs`` is a Tensor or a sequence whose Tensors requiring grad are checked (as float64
    copies: finite differences in float32 would drown in rounding). Other items are passed
    through unchanged. ``fn`` returns a Tensor or a tuple of Tensors.
    """
    try:
        gradcheck_report(fn, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, seed=seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradcheck_report(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, seed=0):
    """Run the check and return one InputReport per checked input; raises GradcheckError."""
    inputs = _float64_inputs(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    outputs = _differentiable_outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    reports = []
    for position in checked:
        if fast_mode:
            analytic, numeric = _projection(fn, inputs, outputs, position, eps, rng)
            if abs(analytic - numeric) <= atol + rtol * abs(numeric):
                reports.append(InputReport(position, abs(analytic - numeric), abs(numeric), 1))
                continue
        analytic = _analytic_jacobian(inputs, outputs, position)
        numeric = _numeric_jacobian(fn, inputs, position, eps, analytic.shape[0])
        report = _compare(analytic, numeric, inputs, outputs, position, atol, rtol)
        reports.append(report)
    return reports


def _float64_inputs(inputs):
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    converted = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            converted.append(Tensor(x._data.astype(np.float64), requires_grad=x.requires_grad))
        else:
            converted.append(x)
    return converted


def _differentiable_outputs(out):
    outputs = [out] if isinstance(out, Tensor) else list(out)
    for k, y in enumerate(outputs):
        if not isinstance(y, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors; output {k} is {type(y).__name__}")
    result = [y for y in outputs if y.dtype.kind == "f"]
    for k, y in enumerate(result):
        if y.dtype != np.float64:
            raise GradcheckError(
                f"gradcheck: output {k} is {y.dtype}; fn must compute in float64 for finite "
                f"differences to mean anything")
    if not result:
        raise ValueError("gradcheck: fn returned no floating-point output")
    return result


def _evaluate(fn, inputs):
    """The outputs of fn at the current input values, flattened and concatenated."""
    with no_grad():
        out = _differentiable_outputs(fn(*inputs))
    return np.concatenate([y._data.ravel() for y in out])


def _vjp(inputs, outputs, position, upstream):
    """v^T J for one input, where v is given per output."""
    requiring = [y for y in outputs if y.requires_grad]
    if not requiring:
        return np.zeros_like(inputs[position]._data)
    grad_outputs = [u for y, u in zip(outputs, upstream) if y.requires_grad]
    g = autograd_grad(requiring, [inputs[position]], grad_outputs, retain_graph=True, allow_unused=True)[0]
    return np.zeros_like(inputs[position]._data) if g is None else g._data


def _analytic_jacobian(inputs, outputs, position):
    sizes = [y._data.size for y in outputs]
    x = inputs[position]
    jacobian = np.zeros((sum(sizes), x._data.size))
    row = 0
    for k, y in enumerate(outputs):
        for j in range(y._data.size):
            upstream = [np.zeros(o._data.shape) for o in outputs]   # C order, so flat
            upstream[k].reshape(-1)[j] = 1.0                         # indexing writes through
            jacobian[row] = _vjp(inputs, outputs, position, upstream).ravel()
            row += 1
    return jacobian


def _numeric_jacobian(fn, inputs, position, eps, output_size):
    x = inputs[position]._data
    flat = x.reshape(-1)           # a view: x is a fresh contiguous float64 copy
    columns = []
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        plus = _evaluate(fn, inputs)
        flat[k] = original - eps
        minus = _evaluate(fn, inputs)
        flat[k] = original
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((output_size, 0))


def _projection(fn, inputs, outputs, position, eps, rng):
    """v^T J u for random unit u and random v, analytically and by central differences."""
    x = inputs[position]._data
    direction = rng.standard_normal(x.shape)
    direction /= max(np.linalg.norm(direction), np.finfo(np.float64).tiny)
    upstream = [rng.standard_normal(y._data.shape) for y in outputs]
    analytic = float(np.sum(_vjp(inputs, outputs, position, upstream) * direction))
    original = x.copy()
    x += eps * direction
    plus = _evaluate(fn, inputs)
    x[...] = original - eps * direction
    minus = _evaluate(fn, inputs)
    x[...] = original
    v = np.concatenate([u.ravel() for u in upstream])
    numeric = float(np.sum(v * ((plus - minus) / (2 * eps))))
    return analytic, numeric


def _compare(analytic, numeric, inputs, outputs, position, atol, rtol):
    difference = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    report = InputReport(
        position,
        float(difference.max()) if difference.size else 0.0,
        float(np.abs(numeric).max()) if numeric.size else 0.0,
        difference.size)
    if difference.size and np.any(difference > allowed):
        row, column = np.unravel_index(np.argmax(difference - allowed), difference.shape)
        output, element = _locate_output(outputs, row)
        input_index = np.unravel_index(column, inputs[position]._data.shape)
        raise GradcheckError(
            f"gradcheck: the gradient of input {position} (shape {inputs[position]._data.shape}) "
            f"disagrees with finite differences.\n"
            f"  worst entry: d output {output}{tuple(int(i) for i in element)} / "
            f"d input {position}{tuple(int(i) for i in input_index)}\n"
            f"  analytic {float(analytic[row, column])!r}, numeric {float(numeric[row, column])!r}, "
            f"|difference| {difference[row, column]:.3e} > allowed {allowed[row, column]:.3e}\n"
            f"  {int(np.sum(difference > allowed))} of {difference.size} entries disagree")
    return report


def _locate_output(outputs, row):
    for k, y in enumerate(outputs):
        if row < y._data.size:
            return k, np.unravel_index(row, y._data.shape)
        row -= y._data.size
    raise AssertionError("row out of range")


def gradcheck_parameters(fn, parameters, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True, seed=0, names=None):
    """gradcheck for the tensors a function closes over, such as a model's parameters.

    ``fn()`` takes no arguments and returns a Tensor or a tuple of Tensors; ``parameters`` are
    float64 leaves it uses, perturbed in place (and restored). Fast mode compares one random
    projection over all parameters at once; when it disagrees, each parameter is projected
    alone to name the one that is wrong. Full mode compares every entry of every parameter.
    Returns True, or raises GradcheckError naming the parameter (``names`` gives their names).
    """
    parameters = list(parameters)
    names = list(names) if names is not None else [f"parameter {i}" for i in range(len(parameters))]
    for name, p in zip(names, parameters):
        if p.dtype != np.float64 or not p.requires_grad:
            raise ValueError(f"gradcheck_parameters: {name} must be a float64 tensor that requires grad, "
                             f"got {p.dtype} (requires_grad={p.requires_grad})")
    rng = np.random.default_rng(seed)
    outputs = _differentiable_outputs(fn())
    upstream = [rng.standard_normal(y._data.shape) for y in outputs]
    v = np.concatenate([u.ravel() for u in upstream])
    analytic_grads = _parameter_vjp(outputs, parameters, upstream)

    def projected(indices, directions):
        analytic = sum(float(np.sum(analytic_grads[i] * d)) for i, d in zip(indices, directions))
        originals = [parameters[i]._data.copy() for i in indices]
        for i, d in zip(indices, directions):
            parameters[i]._data += eps * d
        plus = _evaluate(lambda: fn(), [])
        for i, d, original in zip(indices, directions, originals):
            parameters[i]._data[...] = original - eps * d
        minus = _evaluate(lambda: fn(), [])
        for i, original in zip(indices, originals):
            parameters[i]._data[...] = original
        return analytic, float(np.sum(v * ((plus - minus) / (2 * eps))))

    if fast_mode:
        directions = [rng.standard_normal(p._data.shape) for p in parameters]
        norm = np.sqrt(sum(float(np.sum(d * d)) for d in directions)) or 1.0
        analytic, numeric = projected(range(len(parameters)), [d / norm for d in directions])
        if abs(analytic - numeric) <= atol + rtol * abs(numeric):
            return True
    for i, p in enumerate(parameters):
        for k in (range(p._data.size) if not fast_mode else [None]):
            if k is None:
                d = rng.standard_normal(p._data.shape)
                d /= np.linalg.norm(d) or 1.0
            else:
                d = np.zeros(p._data.shape)
                d.reshape(-1)[k] = 1.0
            analytic, numeric = projected([i], [d])
            if abs(analytic - numeric) > atol + rtol * abs(numeric):
                where = "along a random direction" if k is None else f"at {np.unravel_index(k, p._data.shape)}"
                raise GradcheckError(
                    f"gradcheck_parameters: the gradient of {names[i]} (shape {p._data.shape}) disagrees with "
                    f"finite differences {where}: analytic {analytic!r}, numeric {numeric!r}")
    if fast_mode:
        raise GradcheckError("gradcheck_parameters: the joint projection disagrees with finite differences, "
                             "but no single parameter does (a cancellation between parameters)")
    return True


def _parameter_vjp(outputs, parameters, upstream):
    requiring = [(y, u) for y, u in zip(outputs, upstream) if y.requires_grad]
    if not requiring:
        return [np.zeros_like(p._data) for p in parameters]
    grads = autograd_grad([y for y, _ in requiring], parameters, [u for _, u in requiring], allow_unused=True)
    return [np.zeros_like(p._data) if g is None else g._data for p, g in zip(parameters, grads)]
