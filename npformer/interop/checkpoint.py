"""Reading and writing Hugging Face checkpoint folders: config.json plus model.safetensors, or
shards listed in model.safetensors.index.json. Only safetensors: loading never unpickles, so
pytorch_model.bin folders are refused with a message saying how to convert them."""
import json
import os

import numpy as np

from ..io.atomic import write_atomic
from ..io.checkpoint import CheckpointError
from ..io.safetensors import load_file, save_file

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"


def read_config(directory):
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory}: no config.json (is this a Hugging Face checkpoint folder?)")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return config


def read_tensors(directory):
    """Every tensor of the folder, memory-mapped, by checkpoint name."""
    single, index = os.path.join(directory, SINGLE), os.path.join(directory, INDEX)
    if os.path.isfile(single):
        return load_file(single)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{index}: not a valid index ({error!r})") from None
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            if os.path.basename(shard) != shard:
                raise CheckpointError(f"{index}: shard name {shard!r} must be a file in the folder")
            shard_tensors = load_file(os.path.join(directory, shard))
            for name, array in shard_tensors.items():
                if weight_map.get(name) == shard:
                    tensors[name] = array
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise CheckpointError(f"{index}: tensors listed but absent from their shards: {missing[:10]}")
        return tensors
    if os.path.isfile(os.path.join(directory, "pytorch_model.bin")):
        raise CheckpointError(f"{directory}: only pytorch_model.bin, a pickle, which npformer never loads; convert "
                              f"it with transformers (model.save_pretrained(dir, safe_serialization=True))")
    raise CheckpointError(f"{directory}: neither {SINGLE} nor {INDEX}")


def write_folder(directory, config, tensors, max_shard_size=None):
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
