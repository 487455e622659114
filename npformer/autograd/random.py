"""Seeded randomness. Every random op in npformer draws from a ``Generator``.

A ``Generator`` wraps NumPy's PCG64 bit generator. Ops take ``generator=None`` and then use
``default_generator``; ``npformer.manual_seed(s)`` reseeds it, so one call makes a whole run
reproducible. ``get_state``/``set_state`` round-trip through JSON for training checkpoints.
"""
import numpy as np

from .device import check_device
from .device import device as _device

# The default generator starts from a fixed seed, as PyTorch's does: a fresh process is
# reproducible even when nobody calls manual_seed.
DEFAULT_SEED = 0


class Generator:
    def __init__(self, seed=DEFAULT_SEED, *, device=None):
        # torch.Generator(device="cpu") or torch.Generator("cpu"): a device names where the
        # generator lives, which is always the CPU here; npformer's own first argument is a seed
        if isinstance(seed, (str, _device)):
            seed, device = DEFAULT_SEED, seed
        check_device(device, "Generator")
        self.manual_seed(seed)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"manual_seed: the seed must be non-negative, got {seed}")
        self._initial_seed = seed
        self.numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        """A JSON-serialisable snapshot of the generator."""
        state = self.numpy.bit_generator.state
        return {
            "initial_seed": self._initial_seed,
            "bit_generator": state["bit_generator"],
            "state": {k: int(v) for k, v in state["state"].items()},
            "has_uint32": int(state["has_uint32"]),
            "uinteger": int(state["uinteger"]),
        }

    def set_state(self, state):
        if state.get("bit_generator") != "PCG64":
            raise ValueError(f"set_state: expected a PCG64 state, got {state.get('bit_generator')!r}")
        self._initial_seed = int(state["initial_seed"])
        self.numpy.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": dict(state["state"]),
            "has_uint32": state["has_uint32"],
            "uinteger": state["uinteger"],
        }
        return self

    def __repr__(self):
        return f"Generator(initial_seed={self._initial_seed})"


default_generator = Generator()


def manual_seed(seed):
    """Reseed the default generator; returns it, as ``torch.manual_seed`` does."""
    return default_generator.manual_seed(seed)


def resolve(generator):
    """The generator an op should draw from."""
    return default_generator if generator is None else generator
