"""Does a model fit the tensors a checkpoint holds? Checked on shapes and dtypes alone, before
any array is allocated.

``from_pretrained`` reads only the weights' headers, translates config.json, and builds the model
under ``nn.shapes_only()`` (a skeleton: every parameter has its shape and dtype, and no memory).
The family's table then says, tensor by tensor, which shape the file must hold for the config's
sizes, and what kind of value (a float parameter takes F16, BF16, F32 or F64; never an integer
tensor's bit patterns). Only when everything agrees is the real model built, so a config.json
that claims sizes its file does not hold fails before it costs memory or time.

Two things a header cannot confirm are bounded instead:

- layers: a stack of n layers needs n times one layer's tensors, so a layer count beyond what
  the file's tensors could fill is refused before the skeleton of every layer is built (its
  cost grows with the number of modules);
- what the model computes from config.json or creates without the file (Marian's sinusoidal
  tables; under ``strict=False`` the tensors the file lacks) may take at most as many bytes as
  the file's tensors plus ``UNFILLED_ALLOWANCE``.
"""
from __future__ import annotations

import dataclasses
import re
from types import ModuleType
from typing import Callable, Dict, List, Mapping

import numpy as np

from ..io.safetensors import dtype_kind
from ..nn.module import Module, state_arrays
from ..nn.shapes import shapes_only
from .checkpoint import CheckpointError, ConfigFile, StoredTensor
from .fields import show, where
from .rules import Rule

UNFILLED_ALLOWANCE = 2 ** 20          # bytes the model may hold beyond what its files fill


@dataclasses.dataclass
class Plan:
    """Which checkpoint tensor fills what: ``rules`` present in the file, with the file's name
    of each rule's tensor, and the names missing from the file or unknown to the table."""
    rules: List[Rule]
    file_names: Dict[str, str]
    missing: List[str]
    unexpected: List[str]


def in_memory(tensors: Mapping[str, np.ndarray], source: str) -> Dict[str, StoredTensor]:
    """{name: StoredTensor} for arrays already read (``source`` names where they came from)."""
    return {name: StoredTensor(str(array.dtype), dtype_kind(array.dtype), tuple(array.shape), array.nbytes, source)
            for name, array in tensors.items()}


def check_layer_counts(build: Callable[[object], Module], config: object, family: ModuleType,
                       stored: Mapping[str, StoredTensor], hf: ConfigFile) -> Module:
    """Refuse a config whose layers the file does not hold, before building them all:
    ``build(config)`` makes a skeleton. Skeletons with one layer per stack, and with two in one
    stack, name that stack's tensors of layers 0 and 1; the index in those names is the layer's,
    so every layer i < n must have tensors in the file under the same names with i. (Counting
    tensors alone would let a file padded with empty tensors claim thousands of layers.)
    Returns the skeleton with a single layer per stack, whose shapes stand for every layer's."""
    fields = [f.name for f in dataclasses.fields(config) if f.name.endswith("_layers")]
    single = dataclasses.replace(config, **{name: 1 for name in fields})
    one_layer = build(single)
    first = {rule.hf for rule in family.rules(one_layer)}
    names = _table_names(family, family.rules(one_layer), stored)
    for name in fields:
        count = getattr(config, name)
        second = {rule.hf for rule in family.rules(build(dataclasses.replace(single, **{name: 2})))} - first
        key = f"{_config_key(hf, count, 'layer', name)} = {show(count)}"
        if count * len(second) > len(stored):        # before looking layer by layer: a bound on the loop
            raise CheckpointError(f"{where(hf)}: {key} would need {count * len(second)} layer tensors, but the "
                                  f"weights ({_files(stored)}) hold {len(stored)} tensors in all")
        # a layer is there when any of its tensors is (a tensor missing from a layer is listed,
        # or allowed with strict=False, once the skeleton is built)
        templates = [_layer_template(hf_name, first) for hf_name in sorted(second)]
        absent = next((i for i in range(count) if not any(t.format(i) in names for t in templates)), None)
        if absent is not None:
            raise CheckpointError(f"{where(hf)}: {key}, but the weights ({_files(stored)}) hold no tensor of layer "
                                  f"{absent} (such as {templates[0].format(absent)})")
    return one_layer


def _layer_template(name, first_layer_names):
    """'h.1.attn.w' -> 'h.{}.attn.w': the dotted segment that is 1 here and 0 in a name of layer 0."""
    parts = name.split(".")
    for position, part in enumerate(parts):
        if part == "1" and ".".join(parts[:position] + ["0"] + parts[position + 1:]) in first_layer_names:
            escaped = [p.replace("{", "{{").replace("}", "}}") for p in parts]
            return ".".join(escaped[:position] + ["{}"] + escaped[position + 1:])
    raise AssertionError(f"no layer index in {name!r}")                  # the tables always index layers


def plan(model: Module, family: ModuleType, stored: Mapping[str, StoredTensor], implied_by: str,
         strict: bool = True) -> Plan:
    """Check ``stored`` against ``model`` (a skeleton or a built model) through the family's
    table; return the Plan. ``implied_by`` names what gave the model its sizes (config.json)."""
    rules = family.rules(model)
    names = _table_names(family, rules, stored)
    file_names = {rule.hf: names[rule.hf] for rule in rules if rule.hf in names}
    state = state_arrays(model)
    present = [rule for rule in rules if rule.hf in file_names]
    kinds, shapes = [], []
    for rule in present:
        entry = stored[file_names[rule.hf]]
        wrong = [ours for ours in rule.ours if dtype_kind(state[ours].dtype) != entry.kind]
        if wrong:
            target = state[wrong[0]].dtype
            kinds.append(f"{entry.file}: {rule.hf} is {entry.dtype} ({entry.kind} values), but it fills the "
                         f"{dtype_kind(target)} parameter {wrong[0]} ({target})")
        expected = rule.hf_shape(tuple(state[ours].shape for ours in rule.ours))
        if tuple(entry.shape) != expected:
            shapes.append(f"{rule.hf} has shape {tuple(entry.shape)} in {entry.file}, but {implied_by} implies "
                          f"{expected}")
    for problems in (kinds, shapes):
        if problems:
            more = f" (and {len(problems) - 1} more tensors disagree)" if len(problems) > 1 else ""
            raise CheckpointError(problems[0] + more)
    used = {rule.hf for rule in present}
    ignored = [re.compile(pattern) for pattern in family.ignored(model)]
    missing = [rule.hf for rule in rules if rule.hf not in file_names]
    unexpected = [name for name in names if name not in used and not any(p.search(name) for p in ignored)]
    if strict and (missing or unexpected):
        lines = [f"the checkpoint does not fit {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing tensors ({len(missing)}): " + ", ".join(missing[:20]))
        if unexpected:
            lines.append(f"  unexpected tensors ({len(unexpected)}): " + ", ".join(unexpected[:20]))
        raise CheckpointError("\n".join(lines))
    return Plan(present, file_names, missing, unexpected)


def check_unfilled(model: Module, plan: Plan, stored: Mapping[str, StoredTensor], hf: ConfigFile) -> None:
    """Refuse a model whose arrays that no file tensor fills (computed from config.json, or
    missing under strict=False) would take more than the files' tensors plus the allowance."""
    state = state_arrays(model)
    seen = {id(state[ours]) for rule in plan.rules for ours in rule.ours}        # filled from the files
    unfilled = []
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if id(tensor._data) not in seen:
            seen.add(id(tensor._data))
            unfilled.append((name, tensor._data))
    total = sum(array.size * array.itemsize for _, array in unfilled)
    file_bytes = sum(entry.nbytes for entry in stored.values())
    limit = file_bytes + UNFILLED_ALLOWANCE
    if total > limit:
        name, array = max(unfilled, key=lambda item: item[1].size)
        known = {size for entry in stored.values() for size in entry.shape}
        keys = [_config_key(hf, size, "", None) for size in array.shape if size not in known]
        check = ", ".join(f"{key} = {show(hf[key])}" for key in keys if key)
        raise CheckpointError(f"{where(hf)}: the model would hold {total} bytes its weights do not fill (the largest: "
                              f"{name} of shape {array.shape}), beyond the {limit} allowed (the tensors' "
                              f"{file_bytes} bytes + {UNFILLED_ALLOWANCE}){'; check ' + check if check else ''}")


def skeleton_builder(architecture: type, dtype: np.dtype) -> Callable[[object], Module]:
    """config -> the architecture built under nn.shapes_only()."""
    def build(config):
        with shapes_only():
            return architecture(config, dtype=dtype)
    return build


def _table_names(family, rules, stored):
    """{name as the table spells it: name in the file}. A base-model checkpoint (GPT2Model,
    BertModel, ...) saved without its prefix has it added."""
    prefix = f"{family.PREFIX}." if family.PREFIX else None
    if prefix and any(rule.hf.startswith(prefix) for rule in rules) and not any(name.startswith(prefix)
                                                                                 for name in stored):
        return {prefix + name: name for name in stored}
    return {name: name for name in stored}


def _files(stored):
    files = sorted({entry.file for entry in stored.values()})
    return (", ".join(files[:3]) or "no file") + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def _config_key(hf, value, hint, fallback):
    """The config.json key holding ``value`` (preferring one whose name contains ``hint``), for
    messages; ``fallback`` when none does."""
    keys = [key for key, v in hf.items() if type(v) is int and v == value]
    return next((key for key in keys if hint in key), keys[0] if keys else fallback)
