"""ModelOutput: what a model's forward returns, read by attribute (``out.logits``, ``out.loss``)
as in Hugging Face transformers. Fields that are None are left out of the mapping."""


class ModelOutput(dict):
    def __init__(self, **fields):
        super().__init__((name, value) for name, value in fields.items() if value is not None)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            if name.startswith("_"):
                raise AttributeError(name) from None
            return None

    def __repr__(self):
        parts = ", ".join(f"{name}={getattr(value, 'shape', value)}" for name, value in self.items())
        return f"ModelOutput({parts})"
