"""Hugging Face checkpoint folders in and out: config.json + model.safetensors (or shards).

    model = from_pretrained("path/to/folder")            # gpt2, llama, bert (+5 heads), bart, marian, t5
    model.save_pretrained("out")                          # a folder transformers loads

Each family module (gpt2, llama, bert, bart, t5) holds the config translation and one name-mapping
table; the loading and saving logic below is shared. Loading checks the table against the
checkpoint both ways: a tensor the table expects but the file lacks, or a tensor the file has
that the table does not know (and is not a known ignorable buffer), is an error that lists them.
"""
import re

import numpy as np

from ..autograd.dtypes import as_dtype
from ..autograd.random import Generator
from . import bart, bert, gpt2, llama, t5
from .checkpoint import CheckpointError, read_config, read_tensors, write_folder
from .fields import UnsupportedModelError

FAMILIES = {"gpt2": gpt2, "llama": llama, "bert": bert, "bart": bart, "marian": bart, "t5": t5}

__all__ = ["from_pretrained", "save_pretrained", "CheckpointError", "UnsupportedModelError"]


def from_pretrained(directory, dtype=None, strict=True):
    """The npformer model for a Hugging Face checkpoint folder, in eval mode.

    ``dtype=None`` keeps the checkpoint's float dtype (float16 and bfloat16 become float32:
    NumPy has no fast half-precision matmul); ``np.float64`` casts the model for checking.
    With ``strict=False`` missing and unexpected tensors are allowed and returned as
    ``model.load_report``.
    """
    hf = read_config(directory)
    model_type = hf.get("model_type")
    if model_type not in FAMILIES:
        raise UnsupportedModelError(f"{directory}: model_type {model_type!r} is not supported; supported: "
                                    f"{sorted(FAMILIES)}")
    family = FAMILIES[model_type]
    architectures = [a for a in (hf.get("architectures") or []) if a in family.ARCHITECTURES]
    if not architectures:
        raise UnsupportedModelError(f"{directory}: architectures {hf.get('architectures')} are not supported for "
                                    f"{model_type}; supported: {sorted(family.ARCHITECTURES)}")
    architecture = architectures[0]
    tensors = read_tensors(directory)
    dtype = _checkpoint_dtype(tensors) if dtype is None else as_dtype(dtype)
    config = family.config_from_hf(hf, architecture, dtype)
    model = family.ARCHITECTURES[architecture](config, dtype=dtype, generator=Generator(0))
    model.load_report = load_tensors(model, tensors, family, strict)
    return model.eval()


def load_tensors(model, tensors, family, strict=True):
    """Fill ``model`` from checkpoint tensors through the family's table."""
    rules = family.rules(model)
    prefix = f"{family.PREFIX}." if family.PREFIX else None
    if prefix and any(rule.hf.startswith(prefix) for rule in rules) and not any(name.startswith(prefix)
                                                                                 for name in tensors):
        # a base-model checkpoint (GPT2Model, BertModel, ...) saved without its prefix
        tensors = {prefix + name: array for name, array in tensors.items()}
    state, missing, used = {}, [], set()
    for rule in rules:
        if rule.hf not in tensors:
            missing.append(rule.hf)
            continue
        for name, array in zip(rule.ours, rule.load(np.asarray(tensors[rule.hf]))):
            state[name] = array
        used.add(rule.hf)
    ignored = [re.compile(pattern) for pattern in family.ignored(model)]
    unexpected = [name for name in tensors if name not in used and not any(p.search(name) for p in ignored)]
    if strict and (missing or unexpected):
        lines = [f"the checkpoint does not fit {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing tensors ({len(missing)}): " + ", ".join(missing[:20]))
        if unexpected:
            lines.append(f"  unexpected tensors ({len(unexpected)}): " + ", ".join(unexpected[:20]))
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state, strict=strict)
    return {"missing": missing, "unexpected": unexpected}


def save_pretrained(model, directory, dtype=None, max_shard_size=None):
    """Write ``model`` as a Hugging Face folder (config.json + model.safetensors, sharded above
    ``max_shard_size`` bytes) that transformers' from_pretrained loads."""
    family = next((f for f in (gpt2, llama, bert, bart, t5) if f.matches(model)), None)
    if family is None:
        raise UnsupportedModelError(f"{type(model).__name__} with this configuration has no Hugging Face "
                                    f"equivalent (supported: GPT-2, Llama, BERT and its heads, BART, Marian, T5)")
    state = model.state_dict()
    dtype = as_dtype(dtype) if dtype is not None else _checkpoint_dtype(state)
    tensors = {}
    for rule in family.rules(model):
        tensors[rule.hf] = np.ascontiguousarray(rule.save(tuple(state[name] for name in rule.ours)), dtype=dtype)
    config = family.config_to_hf(model)
    config["dtype"] = dtype.name
    write_folder(directory, config, tensors, max_shard_size)
    return directory


def _checkpoint_dtype(tensors):
    for array in tensors.values():
        if array.dtype.kind == "f":
            return np.dtype(np.float64) if array.dtype == np.float64 else np.dtype(np.float32)
    return np.dtype(np.float32)
