"""Reading config.json fields, each checked for its type and range, with errors that name the
file, the model type and the field.

A config.json is read as hostile until checked: a size must be a positive integer (not a bool,
a float or a string of digits), a probability a number in [0, 1], a token id an integer inside
the vocabulary. Whatever a Config or a module still refuses while the model is built from the
translated values comes out as a CheckpointError naming the file too (``config_errors``).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from .checkpoint import CheckpointError, ConfigFile

REQUIRED = object()

# The largest size a config may give (a vocabulary, a width, a position count): beyond every
# model npformer reads, and the product of two such sizes still fits NumPy's index type.
MAX_SIZE = 2 ** 31 - 1
# The largest initialiser scale: weights drawn with it stay finite in float32.
MAX_INIT_SCALE = 1e30


class UnsupportedModelError(CheckpointError):
    """A model type, architecture or option npformer cannot reproduce exactly."""


def where(config: Mapping) -> str:
    """The file and model type, for messages: ``/path/config.json (model_type 'gpt2')``."""
    return f"{getattr(config, 'path', 'config.json')} (model_type {show(config.get('model_type'))})"


def show(value: Any, limit: int = 40) -> str:
    """A config value for a one-line message: its repr, cut to ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return f"{'-' if value < 0 else ''}about 10**{len(str(abs(value))) - 1}"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def section(config: ConfigFile, values: Mapping) -> ConfigFile:
    """A nested object of config.json (``rope_parameters``), read with the same checks and
    messages as its top level."""
    return ConfigFile(getattr(config, "path", "config.json"), dict(values, model_type=config.get("model_type")))


def field(config: Mapping, name: str, default: Any = REQUIRED) -> Any:
    """The raw value of ``name`` (null counts as absent); ``default`` when absent, else an error."""
    if name in config and config[name] is not None:
        return config[name]
    if default is REQUIRED:
        raise CheckpointError(f"{where(config)} is missing the field {name!r}")
    return default


def _checked(config, name, default, fits, expected):
    value = field(config, name, default)
    if value is default and default is not REQUIRED:
        return value
    if not fits(value):
        raise CheckpointError(f"{where(config)}: {name} = {show(value)}; expected {expected}")
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value):
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def size(config: Mapping, name: str, default: Any = REQUIRED) -> int:
    """A positive integer (a width, a count of heads, layers or positions, a vocabulary size)."""
    return _checked(config, name, default, lambda v: _is_int(v) and 1 <= v <= MAX_SIZE,
                    f"a positive integer up to {MAX_SIZE}")


def token_id(config: Mapping, name: str, vocab_size: int, default: Any = REQUIRED) -> int:
    """An integer id inside a vocabulary of ``vocab_size`` tokens."""
    return _checked(config, name, default, lambda v: _is_int(v) and 0 <= v < vocab_size,
                    f"a token id in [0, {vocab_size}) (vocab_size = {vocab_size})")


def number(config: Mapping, name: str, default: Any = REQUIRED, low: float = 0.0, high: float = math.inf) -> float:
    """A finite real number in [low, high]."""
    return _checked(config, name, default, lambda v: _is_real(v) and low <= v <= high,
                    f"a number in [{low}, {high}]")


def probability(config: Mapping, name: str, default: Any = REQUIRED) -> float:
    return number(config, name, default, 0.0, 1.0)


def init_scale(config: Mapping, name: str, default: Any = REQUIRED) -> float:
    """An initialiser's standard deviation or factor."""
    return number(config, name, default, 0.0, MAX_INIT_SCALE)


def flag(config: Mapping, name: str, default: Any = REQUIRED) -> bool:
    return _checked(config, name, default, lambda v: isinstance(v, bool), "true or false")


def text(config: Mapping, name: str, default: Any = REQUIRED) -> str:
    return _checked(config, name, default, lambda v: isinstance(v, str), "a string")


def divides(config: Mapping, part_name: str, part: int, whole_name: str, whole: int) -> None:
    """Refuse a head count that does not divide the width it splits."""
    if whole % part:
        raise CheckpointError(f"{where(config)}: {part_name} = {part} does not divide {whole_name} = {whole}")


def require(config: Mapping, name: str, expected: Any, default: Any = None) -> None:
    """Refuse an option whose value changes the math in a way npformer does not implement."""
    value = config.get(name, default)
    if value != expected and not (value is None and default == expected):
        raise UnsupportedModelError(f"{where(config)}: {name}={show(value)} is not supported "
                                    f"(npformer implements {name}={expected!r})")


def activation(config: Mapping, name: str, table: Mapping[str, str]) -> str:
    value = text(config, name)
    if value not in table:
        raise UnsupportedModelError(f"{where(config)}: {name}={show(value)} is not supported; "
                                    f"supported: {sorted(table)}")
    return table[value]


@contextmanager
def config_errors(config: Mapping) -> Iterator[None]:
    """Turn what a Config or a module refuses while a model is built from ``config`` (a
    ValueError, TypeError or arithmetic error) into a CheckpointError naming the file."""
    try:
        yield
    except CheckpointError:
        raise
    except (ValueError, TypeError, ArithmeticError) as error:
        raise CheckpointError(f"{where(config)}: the configuration does not build a model: {error}") from None
