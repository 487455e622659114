"""Reading and writing Hugging Face checkpoint folders: config.json plus model.safetensors, or
shards listed in model.safetensors.index.json. Only safetensors: loading never unpickles, so
pytorch_model.bin folders are refused with a message saying how to convert them."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import numpy as np

from ..io.atomic import write_atomic
from ..io.checkpoint import CheckpointError
from ..io.files import SETTINGS_LIMIT, read_regular
from ..io.safetensors import dtype_kind, load_file, read_header, save_file

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"


class ConfigFile(dict):
    """config.json's object, remembering its path so that errors about a field can name the file."""

    def __init__(self, path: str, values: Mapping) -> None:
        super().__init__(values)
        self.path = path


@dataclass(frozen=True)
class StoredTensor:
    """One tensor as its file describes it, without its data: enough to check it against a model."""
    dtype: str          # the safetensors dtype ("F32"), or the NumPy dtype of an array given in memory
    kind: str           # what it fills: "float", "int", "bool" or "complex" (io.safetensors.dtype_kind)
    shape: tuple
    nbytes: int
    file: str


def read_config(directory: str) -> ConfigFile:
    """config.json of a checkpoint folder, checked to be a JSON object (CheckpointError otherwise)."""
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory}: no config.json (is this a Hugging Face checkpoint folder?)")
    try:
        config = json.loads(read_regular(path, CheckpointError, SETTINGS_LIMIT))
    except CheckpointError:
        raise
    except (OSError, ValueError) as error:      # ValueError: bad JSON, bad UTF-8, an int of > 4300 digits
        raise CheckpointError(f"{path}: not readable JSON ({error})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: not readable JSON (nested too deeply)") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return ConfigFile(path, config)


def read_headers(directory: str) -> Dict[str, StoredTensor]:
    """Every tensor of the folder as its file's header describes it ({name: StoredTensor}), in
    the order read_tensors returns them. Reads no tensor data."""
    stored = {}
    for name, (entry, path) in _from_each_file(directory, read_header).items():
        begin, end = entry["data_offsets"]
        stored[name] = StoredTensor(entry["dtype"], dtype_kind(entry["dtype"]), entry["shape"], end - begin, path)
    return stored


def read_tensors(directory: str) -> Dict[str, np.ndarray]:
    """Every tensor of the folder, memory-mapped, by checkpoint name."""
    return {name: array for name, (array, _) in _from_each_file(directory, load_file).items()}


def _from_each_file(directory, reader):
    """{name: (what ``reader`` gives for it, its file)} over model.safetensors or the shards."""
    found = {}
    for path, names in _weight_files(directory):
        values = _read(reader, path)
        if names is not None:
            absent = sorted(names - set(values))
            if absent:
                raise CheckpointError(f"{path}: {INDEX} lists tensors this shard does not hold: {absent[:10]}")
            values = {name: value for name, value in values.items() if name in names}
        found.update((name, (value, path)) for name, value in values.items())
    return found


def _read(reader, path):
    try:
        return reader(path)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror or error})") from None


def _weight_files(directory):
    """[(safetensors path, the names to take from it, or None for all)]: model.safetensors, or
    the shards model.safetensors.index.json lists."""
    single, index = os.path.join(directory, SINGLE), os.path.join(directory, INDEX)
    if os.path.isfile(single):
        return [(single, None)]
    if os.path.isfile(index):
        by_shard = {}
        for name, shard in _weight_map(index).items():
            by_shard.setdefault(shard, set()).add(name)
        return [(os.path.join(directory, shard), by_shard[shard]) for shard in sorted(by_shard)]
    if os.path.isfile(os.path.join(directory, "pytorch_model.bin")):
        raise CheckpointError(f"{directory}: only pytorch_model.bin, a pickle, which npformer never loads; convert "
                              f"it with transformers (model.save_pretrained(dir, safe_serialization=True))")
    raise CheckpointError(f"{directory}: neither {SINGLE} nor {INDEX}")


def _weight_map(index):
    """The index's {tensor name: shard file name}, each shard a file of the folder itself."""
    try:
        weight_map = json.loads(read_regular(index, CheckpointError, SETTINGS_LIMIT))["weight_map"]
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise CheckpointError(f"{index}: not a valid index ({error!r})") from None
    if not isinstance(weight_map, dict) or not all(isinstance(shard, str) for shard in weight_map.values()):
        raise CheckpointError(f"{index}: weight_map must be an object mapping tensor names to shard file names")
    for shard in set(weight_map.values()):
        if os.path.basename(shard) != shard or shard in ("", ".", "..") or "\0" in shard:
            raise CheckpointError(f"{index}: shard name {shard!r} must be a file in the folder")
    return weight_map


def write_folder(directory: str, config: dict, tensors: Mapping[str, np.ndarray],
                 max_shard_size: Optional[int] = None) -> None:
    """config.json and the tensors, in one file or in shards of at most ``max_shard_size``
    bytes with an index. Each file is written atomically."""
    os.makedirs(directory, exist_ok=True)
    _write_json(os.path.join(directory, "config.json"), config)
    total = sum(a.nbytes for a in tensors.values())
    if max_shard_size is None or total <= max_shard_size:
        save_file(tensors, os.path.join(directory, SINGLE), metadata={"format": "pt"})
        return
    shards, current, size = [], {}, 0
    for name, array in tensors.items():
        if current and size + array.nbytes > max_shard_size:
            shards.append(current)
            current, size = {}, 0
        current[name] = array
        size += array.nbytes
    shards.append(current)
    weight_map = {}
    for number, shard in enumerate(shards, start=1):
        file_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(directory, file_name), metadata={"format": "pt"})
        weight_map.update({name: file_name for name in shard})
    _write_json(os.path.join(directory, INDEX), {"metadata": {"total_size": int(total)}, "weight_map": weight_map})


def _write_json(path, value):
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to config.json")
