"""Tokenizers in pure Python: characters, GPT-2's byte-level BPE and BERT's WordPiece.

Each reads and writes the files of the Hugging Face tokenizers of its kind, and all share the
``Tokenizer`` base class: ``encode(text) -> list[int]``, ``decode(ids) -> str``, and the batch
call ``tokenizer(texts, text_pair=None, padding=True, truncation=False, max_length=None)``
returning ``input_ids``, ``attention_mask`` and ``token_type_ids`` as NumPy arrays.

``load(directory)`` recognizes a Hugging Face tokenizer folder:

- ``tokenizer.json`` whose model is BPE (with GPT-2's byte-level pre-tokenizer) or WordPiece
  (with BERT's normalizer and pre-tokenizer);
- ``vocab.json`` + ``merges.txt``: byte-level BPE;
- ``vocab.txt``: WordPiece;
- a folder saved by ``CharTokenizer.save``.
``tokenizer_config.json`` and ``special_tokens_map.json`` are read when present (special
tokens, casing, ``add_prefix_space``, ``model_max_length``).
"""
import os

from .base import AddedToken, BatchEncoding, Tokenizer
from .bpe import BPE, ByteLevelBPETokenizer, train_bpe
from .bytelevel import BYTE_TO_CHAR, bytes_to_unicode, pretokenize
from .char import CharTokenizer
from .hf_files import (FileFormatError, read_merges_txt, read_special_config, read_tokenizer_json,
                       read_vocab_json, read_vocab_txt)
from .wordpiece import BasicTokenizer, WordPieceTokenizer

__all__ = ["AddedToken", "BatchEncoding", "Tokenizer", "CharTokenizer", "ByteLevelBPETokenizer",
           "WordPieceTokenizer", "BasicTokenizer", "BPE", "train_bpe", "bytes_to_unicode",
           "BYTE_TO_CHAR", "pretokenize", "load", "FileFormatError"]

# transformers writes int(1e30) for "no limit"
_NO_LIMIT = 10 ** 12


def load(directory):
    """Load the tokenizer of a Hugging Face tokenizer folder (see the module docstring)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a directory")

    def has(name):
        return os.path.isfile(os.path.join(directory, name))

    added, roles, config = read_special_config(directory)
    if config.get("tokenizer_class") == "CharTokenizer":
        return CharTokenizer.load(directory)
    if has("tokenizer.json"):
        tokenizer = _from_tokenizer_json(os.path.join(directory, "tokenizer.json"), roles)
    elif has("vocab.json") and has("merges.txt"):
        vocab_path = os.path.join(directory, "vocab.json")
        merges_path = os.path.join(directory, "merges.txt")
        vocab = read_vocab_json(vocab_path)
        special = None if added is None else _merge_added(vocab, added, vocab_path)
        tokenizer = ByteLevelBPETokenizer(
            vocab, read_merges_txt(merges_path), special_tokens=special, source=merges_path,
            add_prefix_space=bool(config.get("add_prefix_space", False)),
            **_known_roles(roles, vocab, special))
    elif has("vocab.txt"):
        tokens = read_vocab_txt(os.path.join(directory, "vocab.txt"))
        kwargs = {role: roles[role] for role in ("unk_token", "sep_token", "cls_token", "pad_token", "mask_token")
                  if role in roles}
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
    return FileFormatError(f"{path}: {what} {value!r} is not supported; npformer reads byte-level "
                           f"BPE (GPT-2) and WordPiece (BERT) tokenizers")


def _kind(component):
    return None if component is None else component.get("type") if isinstance(component, dict) else component


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
    normalizer, pre, post, decoder = (config.get(key) for key in
                                      ("normalizer", "pre_tokenizer", "post_processor", "decoder"))

    if model["type"] == "BPE":
        for option, default in (("dropout", None), ("unk_token", None), ("continuing_subword_prefix", None),
                                ("end_of_word_suffix", None), ("fuse_unk", False), ("byte_fallback", False)):
            if model.get(option) not in (default, "") and not (option == "fuse_unk" and not model.get(option)):
                raise _unsupported(path, f"model.{option}", model.get(option))
        if normalizer is not None:
            raise _unsupported(path, "normalizer", _kind(normalizer))
        if _kind(pre) != "ByteLevel" or not pre.get("use_regex", True):
            raise _unsupported(path, "pre_tokenizer",
                               _kind(pre) if _kind(pre) != "ByteLevel" else "ByteLevel without use_regex")
        if _kind(post) not in (None, "ByteLevel"):
            raise _unsupported(path, "post_processor", _kind(post))
        if _kind(decoder) not in (None, "ByteLevel"):
            raise _unsupported(path, "decoder", _kind(decoder))
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
                raise FileFormatError(f"{path}: model.merges[{i}] is {merge!r}; expected 'left right' "
                                      f"or [left, right]")
            pairs.append((parts[0], parts[1]))
        return ByteLevelBPETokenizer(vocab, pairs, special_tokens=special,
                                     add_prefix_space=bool(pre.get("add_prefix_space", False)),
                                     ignore_merges=bool(model.get("ignore_merges", False)), source=path,
                                     **_known_roles(roles, vocab, special))

    if model["type"] == "WordPiece":
        if normalizer is None:
            options = dict(do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False, clean_text=False)
        elif _kind(normalizer) == "BertNormalizer":
            lower = bool(normalizer.get("lowercase", True))
            options = dict(do_lower_case=lower, strip_accents=normalizer.get("strip_accents"),
                           tokenize_chinese_chars=bool(normalizer.get("handle_chinese_chars", True)),
                           clean_text=bool(normalizer.get("clean_text", True)))
        else:
            raise _unsupported(path, "normalizer", _kind(normalizer))
        if _kind(pre) != "BertPreTokenizer":
            raise _unsupported(path, "pre_tokenizer", _kind(pre))
        if _kind(decoder) not in (None, "WordPiece"):
            raise _unsupported(path, "decoder", _kind(decoder))
        cls_token, sep_token = _bert_template(path, post)
        unk = model.get("unk_token", "[UNK]")
        by_role = dict(roles)
        by_role.update(cls_token=cls_token, sep_token=sep_token, unk_token=unk)
        kwargs = {role: by_role.get(role)
                  for role in ("unk_token", "sep_token", "cls_token", "pad_token", "mask_token")}
        tokenizer = WordPieceTokenizer(
            vocab, max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
            continuing_subword_prefix=model.get("continuing_subword_prefix", "##"),
            cleanup=bool((decoder or {}).get("cleanup", True)), added_tokens=special, **kwargs, **options)
        return tokenizer

    raise _unsupported(path, "model type", model["type"])


def _bert_template(path, post):
    """(cls, sep) of a BertProcessing or BERT-shaped TemplateProcessing post-processor."""
    kind = _kind(post)
    if kind == "BertProcessing":
        try:
            return post["cls"][0], post["sep"][0]
        except (KeyError, IndexError, TypeError):
            raise FileFormatError(f"{path}: post_processor BertProcessing needs 'cls' and 'sep'") from None
    if kind == "TemplateProcessing":
        def shape(items):
            out = []
            for item in items or []:
                if "SpecialToken" in item:
                    out.append(("special", item["SpecialToken"]["id"], item["SpecialToken"].get("type_id", 0)))
                elif "Sequence" in item:
                    out.append(("sequence", item["Sequence"]["id"], item["Sequence"].get("type_id", 0)))
            return out
        single, pair = shape(post.get("single")), shape(post.get("pair"))
        if (len(single) == 3 and single[0][0] == "special" and single[1] == ("sequence", "A", 0)
                and single[2][0] == "special" and len(pair) == 5 and pair[:3] == single
                and pair[3] == ("sequence", "B", 1) and pair[4] == ("special", single[2][1], 1)
                and single[0][2] == 0 and single[2][2] == 0):
            return single[0][1], single[2][1]
        raise _unsupported(path, "post_processor TemplateProcessing of shape", [s[1] for s in single])
    if kind is None:
        return None, None
    raise _unsupported(path, "post_processor", kind)
