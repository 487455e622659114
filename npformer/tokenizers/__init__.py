"""Tokenizers in pure Python: characters, GPT-2's byte-level BPE and BERT's WordPiece.

Each reads and writes the files of the Hugging Face tokenizers of its kind, and all share the
``Tokenizer`` base class: ``encode(text) -> list[int]``, ``decode(ids) -> str``, and the batch
call ``tokenizer(texts, text_pair=None, padding=True, truncation=False, max_length=None)``
returning ``input_ids``, ``attention_mask`` and ``token_type_ids`` as NumPy arrays (padded by
``pad_to_batch``, the one padding helper, which npformer.data and the training tasks use too).
Special tokens have roles (``eos_token``, ``pad_token``, ...: the table ``SPECIAL_TOKEN_ROLES``),
each readable and settable as an attribute, with its id beside it (``tokenizer.eos_token_id``).

``load(directory)`` recognizes a Hugging Face tokenizer folder:

- ``tokenizer.json`` whose model is BPE (with GPT-2's byte-level pre-tokenizer) or WordPiece
  (with BERT's normalizer and pre-tokenizer);
- ``vocab.json`` + ``merges.txt``: byte-level BPE;
- ``vocab.txt``: WordPiece;
- a folder saved by ``CharTokenizer.save``.
``tokenizer_config.json`` and ``special_tokens_map.json`` are read when present (special
tokens, casing, ``add_prefix_space``, ``model_max_length``).

Files are trusted only as far as they hold: ids must lie below the number of entries the files
hold (see hf_files), so no table is sized by an id alone, and a malformed file raises
FileFormatError naming it. The memory bound, tested in tests/reliability:

    peak allocation of load  <=  100 x the bytes of the folder's files + 4 MiB

(measured: 12 to 33 x, up to 71 x for a vocab.txt of two-character tokens, whose Python
strings and table entries take about 200 bytes per 3-byte line).
"""
from __future__ import annotations

import os
from typing import Union

from .base import AddedToken, BatchEncoding, Tokenizer
from .batching import pad_to_batch
from .bpe import BPE, ByteLevelBPETokenizer, train_bpe
from .bytelevel import BYTE_TO_CHAR, bytes_to_unicode, pretokenize
from .char import CharTokenizer
from .hf_files import (
    FileFormatError,
    _show,
    check_id_range,
    read_merges_txt,
    read_special_config,
    read_tokenizer_json,
    read_vocab_json,
    read_vocab_txt,
)
from .roles import SPECIAL_ROLES, SPECIAL_TOKEN_ROLES, SpecialTokenNames
from .wordpiece import BasicTokenizer, WordPieceTokenizer

__all__ = ["AddedToken", "BatchEncoding", "Tokenizer", "CharTokenizer", "ByteLevelBPETokenizer",
           "WordPieceTokenizer", "BasicTokenizer", "BPE", "train_bpe", "bytes_to_unicode",
           "BYTE_TO_CHAR", "pretokenize", "load", "FileFormatError", "pad_to_batch", "SPECIAL_TOKEN_ROLES",
           "SPECIAL_ROLES", "SpecialTokenNames"]

# transformers writes int(1e30) for "no limit"
_NO_LIMIT = 10 ** 12
_KIND_NAMES = {int: "an integer", str: "a string"}


def load(directory: Union[str, os.PathLike]) -> Tokenizer:
    """Load the tokenizer of a Hugging Face tokenizer folder (see the module docstring).

    Malformed or hostile files raise FileFormatError naming the file (see hf_files); a folder
    without tokenizer files raises FileNotFoundError."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a directory")
    try:
        return _load(directory)
    except FileFormatError:
        raise
    except (ValueError, TypeError) as error:
        # what a tokenizer's constructor refuses in values the files gave it
        raise FileFormatError(f"{directory}: the tokenizer files do not make a tokenizer: {error}") from None


def _load(directory):
    def has(name):              # any kind of file: its reader refuses what is not a regular one, by name
        return os.path.exists(os.path.join(directory, name))

    added, roles, config = read_special_config(directory)
    if config.get("tokenizer_class") == "CharTokenizer":
        return CharTokenizer.load(directory)
    if has("tokenizer.json"):
        tokenizer = _from_tokenizer_json(os.path.join(directory, "tokenizer.json"), roles)
    elif has("vocab.json") and has("merges.txt"):
        vocab_path = os.path.join(directory, "vocab.json")
        merges_path = os.path.join(directory, "merges.txt")
        vocab = read_vocab_json(vocab_path, other_entries=len(added or ()))
        special = None
        if added is not None:
            config_path = os.path.join(directory, "tokenizer_config.json")
            entries = len(vocab) + len(added)
            for entry in added:
                check_id_range(config_path, "the added token", entry["content"], entry["id"], entries)
            special = _merge_added(vocab, added, config_path)
        tokenizer = ByteLevelBPETokenizer(
            vocab, read_merges_txt(merges_path), special_tokens=special, source=merges_path,
            add_prefix_space=bool(config.get("add_prefix_space", False)),
            **_known_roles(roles, vocab, special))
    elif has("vocab.txt"):
        tokens = read_vocab_txt(os.path.join(directory, "vocab.txt"))
        kwargs = {role: roles[role] for role in WordPieceTokenizer.ROLES if role in roles}
        tokenizer = WordPieceTokenizer(
            tokens, do_lower_case=config.get("do_lower_case", True), strip_accents=config.get("strip_accents"),
            tokenize_chinese_chars=config.get("tokenize_chinese_chars", True),
            clean_text=config.get("clean_text", True), **kwargs)
    else:
        raise FileNotFoundError(f"{directory} holds no tokenizer this library reads: expected "
                                f"tokenizer.json, vocab.json with merges.txt, or vocab.txt")
    max_length = config.get("model_max_length")
    if isinstance(max_length, (int, float)) and not isinstance(max_length, bool) and 0 < max_length < _NO_LIMIT:
        tokenizer.model_max_length = int(max_length)
    return tokenizer


def _merge_added(vocab, added, source):
    """Put added tokens with their ids into ``vocab``; return them as AddedTokens."""
    tokens = []
    for entry in added:
        content, index = entry["content"], entry["id"]
        if content in vocab and vocab[content] != index:
            raise FileFormatError(f"{source}: the added token {content!r} has id {index} in the "
                                  f"config but {vocab[content]} in the vocabulary")
        if content not in vocab:
            if index in set(vocab.values()):
                raise FileFormatError(f"{source}: the added token {content!r} has id {index}, "
                                      f"which the vocabulary gives to another token")
            vocab[content] = index
        tokens.append(AddedToken(content, special=entry["special"], normalized=entry["normalized"],
                                 lstrip=entry["lstrip"], rstrip=entry["rstrip"]))
    return tokens


def _known_roles(roles, vocab, special):
    names = set(vocab) | {t.content for t in special or ()}
    return {role: token for role, token in roles.items() if token in names}


def _unsupported(path, what, value):
    return FileFormatError(f"{path}: {what} {_show(value)} is not supported; npformer reads byte-level "
                           f"BPE (GPT-2) and WordPiece (BERT) tokenizers")


def _component(path, config, key):
    """(the object, its type) of a tokenizer.json pipeline step; (None, None) when absent."""
    component = config.get(key)
    if component is None:
        return None, None
    if not isinstance(component, dict) or not isinstance(component.get("type"), str):
        raise FileFormatError(f"{path}: {key} must be an object with a string 'type', got {_show(component)}")
    return component, component["type"]


def _option(path, model, name, default, kind):
    """model[name] (``default`` when absent or null), which must be of type ``kind``."""
    value = model.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FileFormatError(f"{path}: model.{name} is {_show(value)}; expected {_KIND_NAMES[kind]}")
    return value


def _flag(path, where, component, name, default, allow_none=False):
    """component[name] as a bool (``default`` when absent); anything but true or false (or null
    where the reference allows it) is refused, as the reference refuses it, not read by truthiness."""
    value = component.get(name, default)
    if isinstance(value, bool) or (value is None and allow_none):
        return value
    raise FileFormatError(f"{path}: {where}.{name} is {_show(value)}; expected true or false"
                          + (" or null" if allow_none else ""))


def _from_tokenizer_json(path, roles):
    config = read_tokenizer_json(path)
    model = config["model"]
    vocab = dict(model["vocab"])
    added = [{"id": e["id"], "content": e["content"], "special": bool(e.get("special", False)),
              "normalized": bool(e.get("normalized", False)), "lstrip": bool(e.get("lstrip", False)),
              "rstrip": bool(e.get("rstrip", False))} for e in config.get("added_tokens") or []]
    for e in config.get("added_tokens") or []:
        if e.get("single_word"):
            raise _unsupported(path, "an added token with single_word", e["content"])
    special = _merge_added(vocab, added, path)
    (normalizer, normalizer_type), (pre, pre_type), (_, post_type), (decoder, decoder_type) = (
        _component(path, config, key) for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"))

    if model["type"] == "BPE":
        for option, default in (("dropout", None), ("unk_token", None), ("continuing_subword_prefix", None),
                                ("end_of_word_suffix", None), ("fuse_unk", False), ("byte_fallback", False)):
            # absent or null means the default (files written by older tokenizers omit byte_fallback)
            if model.get(option) not in (default, "", None) and not (option == "fuse_unk" and not model.get(option)):
                raise _unsupported(path, f"model.{option}", model.get(option))
        if normalizer is not None:
            raise _unsupported(path, "normalizer", normalizer_type)
        if pre_type != "ByteLevel" or not _flag(path, "pre_tokenizer", pre, "use_regex", True):
            raise _unsupported(path, "pre_tokenizer",
                               pre_type if pre_type != "ByteLevel" else "ByteLevel without use_regex")
        if post_type not in (None, "ByteLevel"):
            raise _unsupported(path, "post_processor", post_type)
        if decoder_type not in (None, "ByteLevel"):
            raise _unsupported(path, "decoder", decoder_type)
        merges = model.get("merges")
        if not isinstance(merges, list):
            raise FileFormatError(f"{path}: model.merges must be a list")
        pairs = []
        for i, merge in enumerate(merges):
            if isinstance(merge, str):
                parts = merge.split(" ")
            elif isinstance(merge, list):
                parts = merge
            else:
                parts = None
            if not parts or len(parts) != 2 or not all(isinstance(p, str) and p for p in parts):
                raise FileFormatError(f"{path}: model.merges[{i}] is {_show(merge)}; expected 'left right' "
                                      f"or [left, right]")
            pairs.append((parts[0], parts[1]))
        return ByteLevelBPETokenizer(vocab, pairs, special_tokens=special,
                                     add_prefix_space=_flag(path, "pre_tokenizer", pre, "add_prefix_space", False),
                                     ignore_merges=_flag(path, "model", model, "ignore_merges", False), source=path,
                                     **_known_roles(roles, vocab, special))

    if model["type"] == "WordPiece":
        if normalizer is None:
            options = dict(do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False, clean_text=False)
        elif normalizer_type == "BertNormalizer":
            options = dict(do_lower_case=_flag(path, "normalizer", normalizer, "lowercase", True),
                           strip_accents=_flag(path, "normalizer", normalizer, "strip_accents", None, allow_none=True),
                           tokenize_chinese_chars=_flag(path, "normalizer", normalizer, "handle_chinese_chars", True),
                           clean_text=_flag(path, "normalizer", normalizer, "clean_text", True))
        else:
            raise _unsupported(path, "normalizer", normalizer_type)
        if pre_type != "BertPreTokenizer":
            raise _unsupported(path, "pre_tokenizer", pre_type)
        if decoder_type not in (None, "WordPiece"):
            raise _unsupported(path, "decoder", decoder_type)
        cls_token, sep_token = _bert_template(path, config.get("post_processor"))
        unk = _option(path, model, "unk_token", "[UNK]", str)
        by_role = dict(roles)
        by_role.update(cls_token=cls_token, sep_token=sep_token, unk_token=unk)
        kwargs = {role: by_role.get(role) for role in WordPieceTokenizer.ROLES}
        max_chars = _option(path, model, "max_input_chars_per_word", 100, int)
        if max_chars < 1:
            raise FileFormatError(f"{path}: model.max_input_chars_per_word is {max_chars}; expected a positive "
                                  f"integer (every word would become the unknown token)")
        tokenizer = WordPieceTokenizer(
            vocab, max_input_chars_per_word=max_chars,
            continuing_subword_prefix=_option(path, model, "continuing_subword_prefix", "##", str),
            cleanup=_flag(path, "decoder", decoder or {}, "cleanup", True), added_tokens=special, **kwargs, **options)
        return tokenizer

    raise _unsupported(path, "model type", model["type"])


def _bert_template(path, post):
    """(cls, sep) of a BertProcessing or BERT-shaped TemplateProcessing post-processor."""
    kind = None if post is None else post["type"]
    if kind == "BertProcessing":
        try:
            cls_token, sep_token = post["cls"][0], post["sep"][0]
        except (KeyError, IndexError, TypeError):
            cls_token = sep_token = None
        if not (isinstance(cls_token, str) and isinstance(sep_token, str)):
            raise FileFormatError(f"{path}: post_processor BertProcessing needs 'cls' and 'sep'")
        return cls_token, sep_token
    if kind == "TemplateProcessing":
        def shape(items):
            out = []
            for item in items if isinstance(items, list) else [items]:
                piece = next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (None, None)
                kind, body = piece
                if (kind not in ("SpecialToken", "Sequence") or not isinstance(body, dict)
                        or not isinstance(body.get("id"), str) or not isinstance(body.get("type_id", 0), int)):
                    raise FileFormatError(f"{path}: post_processor TemplateProcessing holds {_show(item)}; expected "
                                          f"{{'SpecialToken' or 'Sequence': {{'id': str, 'type_id': int}}}}")
                out.append(("special" if kind == "SpecialToken" else "sequence", body["id"], body.get("type_id", 0)))
            return out
        single, pair = shape(post.get("single") or []), shape(post.get("pair") or [])
        if (len(single) == 3 and single[0][0] == "special" and single[1] == ("sequence", "A", 0)
                and single[2][0] == "special" and len(pair) == 5 and pair[:3] == single
                and pair[3] == ("sequence", "B", 1) and pair[4] == ("special", single[2][1], 1)
                and single[0][2] == 0 and single[2][2] == 0):
            return single[0][1], single[2][1]
        raise _unsupported(path, "post_processor TemplateProcessing of shape", [s[1] for s in single])
    if kind is None:
        return None, None
    raise _unsupported(path, "post_processor", kind)
