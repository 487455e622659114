"""Hugging Face checkpoint folders in and out: config.json + model.safetensors (or shards).

    model = from_pretrained("path/to/folder")            # gpt2, llama, bert (+5 heads), bart, marian, t5
    model.save_pretrained("out")                          # a folder transformers loads

Each family module (gpt2, llama, bert, bart, t5) holds the config translation and one name-mapping
table; the loading and saving logic below is shared. Loading checks the table against the
checkpoint both ways: a tensor the table expects but the file lacks, or a tensor the file has
that the table does not know (and is not a known ignorable buffer), is an error that lists them.

A folder is trusted only as far as its files hold (see ``fit``): config.json's fields are
checked for type and range (``fields``), then its sizes against the shapes and dtypes in the
weights' headers, on a model built under ``nn.shapes_only()``, before any array is allocated.
A wrong config.json, header or index raises CheckpointError (UnsupportedModelError for what
npformer cannot reproduce) or SafetensorsError, naming the file. The memory bound, tested in
tests/reliability/test_hostile_files.py:

    peak allocation of from_pretrained  <=  20 x the bytes of the folder's files + 4 MiB

(measured: 2 to 5 x for float32 files; 16 x for a float16 file loaded as float64, most of it the
float64 draws of the model's random initialisation before the file's values replace them).
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Dict, List, Mapping, Optional, Union

import numpy as np
from numpy.typing import DTypeLike

from ..autograd.dtypes import as_dtype
from ..autograd.random import Generator
from ..io.safetensors import dtype_kind
from ..nn.module import Module, state_arrays
from . import bart, bert, fit, gpt2, llama, t5
from .checkpoint import CheckpointError, read_config, read_headers, read_tensors, write_folder
from .fields import UnsupportedModelError, config_errors, show

FAMILIES = {"gpt2": gpt2, "llama": llama, "bert": bert, "bart": bart, "marian": bart, "t5": t5}

__all__ = ["from_pretrained", "save_pretrained", "CheckpointError", "UnsupportedModelError"]


def from_pretrained(directory: Union[str, os.PathLike], dtype: Optional[DTypeLike] = None,
                    strict: bool = True) -> Module:
    """The npformer model for a Hugging Face checkpoint folder, in eval mode.

    ``dtype=None`` keeps the checkpoint's float dtype (float16 and bfloat16 become float32:
    NumPy has no fast half-precision matmul); ``np.float64`` casts the model for checking.
    With ``strict=False`` missing and unexpected tensors are allowed and returned as
    ``model.load_report``. config.json is checked against the weights' headers before any
    array is allocated (see the memory bound above).
    """
    hf = read_config(directory)
    family, architecture_name = _architecture(hf)
    architecture = family.ARCHITECTURES[architecture_name]
    stored = read_headers(directory)
    dtype = _checkpoint_dtype(entry.dtype for entry in stored.values()) if dtype is None else as_dtype(dtype)
    build = fit.skeleton_builder(architecture, dtype)
    with config_errors(hf):
        config = family.config_from_hf(hf, architecture_name, dtype)
        one_layer = fit.check_layer_counts(build, config, family, stored, hf)
        fit.plan(one_layer, family, stored, hf.path, strict=False)     # every size but the layer counts
        skeleton = build(config)
    fit.check_unfilled(skeleton, fit.plan(skeleton, family, stored, hf.path, strict), stored, hf)
    tensors = read_tensors(directory)
    model = architecture(config, dtype=dtype, generator=Generator(0))
    model.load_report = load_tensors(model, tensors, family, strict, source=directory)
    return model.eval()


def _architecture(hf):
    """(family module, architecture name) that config.json names."""
    model_type = hf.get("model_type")
    if not isinstance(model_type, str) or model_type not in FAMILIES:
        raise UnsupportedModelError(f"{hf.path}: model_type {show(model_type)} is not supported; supported: "
                                    f"{sorted(FAMILIES)}")
    family = FAMILIES[model_type]
    named = hf.get("architectures") or []
    if not isinstance(named, list):
        named = [named]
    architectures = [a for a in named if isinstance(a, str) and a in family.ARCHITECTURES]
    if not architectures:
        raise UnsupportedModelError(f"{hf.path}: architectures {show(hf.get('architectures'))} are not supported "
                                    f"for {model_type}; supported: {sorted(family.ARCHITECTURES)}")
    return family, architectures[0]


def load_tensors(model: Module, tensors: Mapping[str, np.ndarray], family: ModuleType, strict: bool = True,
                 source: str = "the checkpoint") -> Dict[str, List[str]]:
    """Fill ``model`` from checkpoint tensors ({name: array}) through the family's table."""
    plan = fit.plan(model, family, fit.in_memory(tensors, source), "the model", strict)
    state = {}
    for rule in plan.rules:
        for name, array in zip(rule.ours, rule.load(np.asarray(tensors[plan.file_names[rule.hf]]))):
            state[name] = array
    model.load_state_dict(state, strict=strict)
    return {"missing": plan.missing, "unexpected": plan.unexpected}


def save_pretrained(model: Module, directory: Union[str, os.PathLike], dtype: Optional[DTypeLike] = None,
                    max_shard_size: Optional[int] = None) -> Union[str, os.PathLike]:
    """Write ``model`` as a Hugging Face folder (config.json + model.safetensors, sharded above
    ``max_shard_size`` bytes) that transformers' from_pretrained loads."""
    family = next((f for f in (gpt2, llama, bert, bart, t5) if f.matches(model)), None)
    if family is None:
        raise UnsupportedModelError(f"{type(model).__name__} with this configuration has no Hugging Face "
                                    f"equivalent (supported: GPT-2, Llama, BERT and its heads, BART, Marian, T5)")
    state = state_arrays(model)
    dtype = as_dtype(dtype) if dtype is not None else _checkpoint_dtype(array.dtype for array in state.values())
    tensors = {}
    for rule in family.rules(model):
        tensors[rule.hf] = np.ascontiguousarray(rule.save(tuple(state[name] for name in rule.ours)), dtype=dtype)
    config = family.config_to_hf(model)
    config["dtype"] = dtype.name
    write_folder(directory, config, tensors, max_shard_size)
    return directory


def _checkpoint_dtype(dtypes):
    """float64 when the first float tensor is F64 (or float64), else float32."""
    for dtype in dtypes:
        if dtype_kind(dtype) == "float":
            wide = dtype == "F64" if isinstance(dtype, str) else np.dtype(dtype) == np.float64
            return np.dtype(np.float64 if wide else np.float32)
    return np.dtype(np.float32)
