"""Reading and writing the tokenizer files of Hugging Face folders.

- ``vocab.json``: a JSON object token -> id (GPT-2, RoBERTa, any byte-level BPE).
- ``merges.txt``: an optional ``#version`` line, then one merge per line, ``left right``, the
  line order being the merge rank.
- ``vocab.txt``: one WordPiece token per line, the line index being its id (BERT).
- ``tokenizer.json``: the single-file format of the ``tokenizers`` library; only the parts a
  BPE or WordPiece tokenizer of these two kinds uses are read.
- ``tokenizer_config.json`` / ``special_tokens_map.json``: which tokens are special, casing.

Every malformed file raises FileFormatError (a ValueError) naming the file, the line where one
applies, and what was expected. Nothing is executed or unpickled. Ids are trusted only inside
the range the files can fill: a tokenizer's files holding n entries (vocabulary entries and
added tokens together) may use the ids 0 .. n - 1, gaps allowed, so no table sized by an id is
larger than the files' own contents. Writes are atomic: a temporary file in the same
folder is renamed over the target, so a crash never leaves half a file where a good one stood.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..io.atomic import PathLike, write_atomic
from ..io.files import TOKENIZER_LIMIT, read_regular
from .roles import SPECIAL_ROLES

__all__ = ["read_vocab_json", "read_merges_txt", "read_vocab_txt", "read_json",
           "read_tokenizer_json", "write_text", "write_json", "write_vocab_json",
           "write_merges_txt", "write_vocab_txt", "read_special_config", "FileFormatError"]


class FileFormatError(ValueError):
    """A tokenizer file is not in the expected format."""


def _read_text(path):
    path = os.fspath(path)
    raw = read_regular(path, FileFormatError, TOKENIZER_LIMIT)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise FileFormatError(f"{path}, line {line}: not valid UTF-8 (byte 0x{raw[error.start]:02x} "
                              f"at offset {error.start})") from None


def _line_of(text, needle):
    index = text.find(needle)
    return None if index < 0 else text.count("\n", 0, index) + 1


def read_json(path: PathLike) -> Any:
    """A JSON file, with a clear error naming the file, line and column when it is not JSON."""
    path = os.fspath(path)
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(f"{path}, line {error.lineno}, column {error.colno}: not valid JSON "
                              f"({error.msg})") from None
    except ValueError as error:                 # an integer of more than 4300 digits
        raise FileFormatError(f"{path}: not valid JSON here ({error})") from None
    except RecursionError:
        raise FileFormatError(f"{path}: not valid JSON here (nested too deeply)") from None


def check_id_range(path: str, what: str, token: str, index: int, limit: int) -> None:
    """Refuse an id the files cannot fill: ``limit`` is the number of entries they hold."""
    if not 0 <= index < limit:
        raise FileFormatError(f"{path}: {what} {_show(token)} has id {_show(index)}, outside [0, {limit}): the "
                              f"tokenizer's files hold {limit} entries, so its ids must lie below that")


def _show(value, limit=60):
    if isinstance(value, int) and abs(value) > 10 ** 30:
        return f"about 10**{len(str(abs(value))) - 1}"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_vocab_json(path: PathLike, other_entries: int = 0) -> Dict[str, int]:
    """``vocab.json`` as a dict token -> id. Each id is a non-negative int used once, below the
    number of entries the tokenizer's files hold: this file's, plus ``other_entries`` (added
    tokens listed in another file)."""
    path = os.fspath(path)
    vocab = read_json(path)
    text = None
    if not isinstance(vocab, dict):
        raise FileFormatError(f"{path}: expected a JSON object mapping tokens to ids, got a "
                              f"JSON {type(vocab).__name__}")
    if not vocab:
        raise FileFormatError(f"{path}: the vocabulary is empty")
    seen = {}
    for token, index in vocab.items():
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            text = text or _read_text(path)
            line = _line_of(text, json.dumps(token, ensure_ascii=False)) or _line_of(text, json.dumps(token))
            where = f", line {line}" if line else ""
            raise FileFormatError(f"{path}{where}: token {_show(token)} has id {_show(index)}; expected a "
                                  f"non-negative integer")
        check_id_range(path, "token", token, index, len(vocab) + other_entries)
        if index in seen:
            raise FileFormatError(f"{path}: tokens {_show(seen[index])} and {_show(token)} both have id {index}; "
                                  f"expected each id once")
        seen[index] = token
    return vocab


def read_merges_txt(path: PathLike) -> List[Tuple[str, str, int]]:
    """``merges.txt`` as a list of ``(left, right, line_number)``.

    Lines starting with ``#version`` are skipped, as Hugging Face does; a final newline is
    allowed; every other line must be two symbols separated by one space."""
    path = os.fspath(path)
    text = _read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    merges = []
    for number, line in enumerate(lines, 1):
        line = line[:-1] if line.endswith("\r") else line
        if line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise FileFormatError(f"{path}, line {number}: expected two symbols separated by one "
                                  f"space, got {line!r}")
        merges.append((parts[0], parts[1], number))
    return merges


def read_vocab_txt(path: PathLike) -> List[str]:
    """``vocab.txt`` as the list of tokens, the index being the id.

    Trailing whitespace is trimmed as Hugging Face does (a Windows ``\\r`` too). An empty line
    is an error: no WordPiece token is empty. A repeated token keeps both lines' ids readable
    by ``decode``, and text maps to the later one, as in Hugging Face."""
    path = os.fspath(path)
    text = _read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise FileFormatError(f"{path}: the vocabulary is empty; expected one token per line")
    tokens = []
    for number, line in enumerate(lines, 1):
        token = line.rstrip(" \t\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                            "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
        if not token:
            raise FileFormatError(f"{path}, line {number}: empty line; expected one token per line")
        tokens.append(token)
    return tokens


def read_tokenizer_json(path: PathLike) -> dict:
    """``tokenizer.json``: the parsed object, checked to have a ``model`` object with a
    ``type`` and a ``vocab``, and a list of ``added_tokens``."""
    path = os.fspath(path)
    config = read_json(path)
    if not isinstance(config, dict):
        raise FileFormatError(f"{path}: expected a JSON object, got a JSON {type(config).__name__}")
    model = config.get("model")
    if not isinstance(model, dict):
        raise FileFormatError(f"{path}: expected a 'model' object")
    if "type" not in model:
        # files written by old versions of tokenizers omit the type; the keys tell
        model = dict(model, type="BPE" if "merges" in model else "WordPiece" if "vocab" in model else None)
    added = config.get("added_tokens") or []
    if not isinstance(added, list):
        raise FileFormatError(f"{path}: 'added_tokens' must be a list")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise FileFormatError(f"{path}: model.vocab must be an object mapping tokens to ids")
    limit = len(vocab) + len(added)
    for i, entry in enumerate(added):
        if (not isinstance(entry, dict) or not isinstance(entry.get("content"), str) or not entry["content"]
                or isinstance(entry.get("id"), bool) or not isinstance(entry.get("id"), int)):
            raise FileFormatError(f"{path}: added_tokens[{i}] must be an object with a non-empty string "
                                  f"'content' and an integer 'id', got {_show(entry)}")
        check_id_range(path, "the added token", entry["content"], entry["id"], limit)
    for token, index in vocab.items():
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise FileFormatError(f"{path}: model.vocab[{_show(token)}] is {_show(index)}; expected a "
                                  f"non-negative integer")
        check_id_range(path, "model.vocab token", token, index, limit)
    return dict(config, model=model)


# ids are below the number of entries of a file, far below 10**18
_MAX_ID_DIGITS = 18


def read_special_config(directory: PathLike) -> Tuple[Optional[List[dict]], Dict[str, str], dict]:
    """What ``tokenizer_config.json`` and ``special_tokens_map.json`` say, when present.

    Returns ``(added, roles, config)``: the ``added_tokens_decoder`` entries as a list of dicts
    sorted by id (each with ``id``, ``content``, ``special``, ``normalized``, ``lstrip``,
    ``rstrip``), or None when absent; the special-token roles (``eos_token``: ``"<|endoftext|>"``
    ...); and the whole config object."""
    directory = os.fspath(directory)
    config_path = os.path.join(directory, "tokenizer_config.json")
    map_path = os.path.join(directory, "special_tokens_map.json")
    config = read_json(config_path) if os.path.exists(config_path) else {}
    if not isinstance(config, dict):
        raise FileFormatError(f"{config_path}: expected a JSON object")
    special_map = read_json(map_path) if os.path.exists(map_path) else {}
    if not isinstance(special_map, dict):
        raise FileFormatError(f"{map_path}: expected a JSON object")
    added = None
    decoder = config.get("added_tokens_decoder")
    if decoder is not None:
        if not isinstance(decoder, dict):
            raise FileFormatError(f"{config_path}: 'added_tokens_decoder' must be an object id -> token")
        added = []
        for key, entry in decoder.items():
            if (not (key.isascii() and key.isdigit()) or not isinstance(entry, dict)
                    or not isinstance(entry.get("content"), str) or not entry["content"]):
                raise FileFormatError(f"{config_path}: added_tokens_decoder[{_show(key)}] must be keyed by "
                                      f"an id and hold an object with a non-empty string 'content'")
            if len(key) > _MAX_ID_DIGITS:          # (and int() of a long digit string is slow)
                raise FileFormatError(f"{config_path}: added_tokens_decoder key {_show(key)} has {len(key)} "
                                      f"digits, beyond any id a tokenizer's files can fill")
            added.append({"id": int(key), "content": entry["content"],
                          **{flag: bool(entry.get(flag, default)) for flag, default in
                             (("special", True), ("normalized", False), ("lstrip", False), ("rstrip", False))}})
        added.sort(key=lambda entry: entry["id"])
    roles = {}
    for source in (config, special_map):
        for role in SPECIAL_ROLES:
            value = source.get(role)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                roles[role] = value
    return added, roles, config


# ----------------------------------------------------------------------------- writing
def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 atomically (npformer.io.atomic: a temporary file, then a rename)."""
    write_atomic(os.fspath(path), text)


def write_json(path: PathLike, obj: Any, indent: Optional[int] = 2) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_vocab_json(path: PathLike, vocab: Mapping[str, int]) -> None:
    """``vocab.json`` as the tokenizers library writes it: compact, ordered by id."""
    ordered = dict(sorted(vocab.items(), key=lambda item: item[1]))
    write_text(path, json.dumps(ordered, ensure_ascii=False, separators=(",", ":")))


def write_merges_txt(path: PathLike, merges: Iterable[Tuple[str, str]]) -> None:
    write_text(path, "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def write_vocab_txt(path: PathLike, tokens: Sequence[str]) -> None:
    """``tokens``: the list of tokens by id (no gaps)."""
    write_text(path, "".join(t + "\n" for t in tokens))
