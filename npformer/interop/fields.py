"""Reading config.json fields with errors that name the field and the model type."""
from .checkpoint import CheckpointError

REQUIRED = object()


class UnsupportedModelError(CheckpointError):
    """A model type, architecture or option npformer cannot reproduce exactly."""


def field(config, name, default=REQUIRED):
    if name in config and config[name] is not None:
        return config[name]
    if default is REQUIRED:
        raise CheckpointError(f"config.json (model_type {config.get('model_type')!r}) is missing the field {name!r}")
    return default


def require(config, name, expected, default=None):
    """Refuse an option whose value changes the math in a way npformer does not implement."""
    value = config.get(name, default)
    if value != expected and not (value is None and default == expected):
        raise UnsupportedModelError(f"{config.get('model_type')}: {name}={value!r} is not supported "
                                    f"(npformer implements {name}={expected!r})")


def activation(config, name, table):
    value = field(config, name)
    if value not in table:
        raise UnsupportedModelError(f"{config.get('model_type')}: {name}={value!r} is not supported; "
                                    f"supported: {sorted(table)}")
    return table[value]
