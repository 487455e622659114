"""Byte-pair encoding: the model (rank-ordered merges with a word cache), the trainer
(incremental pair counts), and GPT-2's byte-level BPE tokenizer built from both.

The model. A word starts as one symbol per character (for byte-level BPE: per UTF-8 byte).
Merge ``k`` of the list joins two adjacent symbols ``(left, right)`` into ``left+right`` and has
rank ``k``. Encoding a word repeatedly applies the lowest-ranked merge present in it, leftmost
first, until none applies. As in Hugging Face tokenizers, candidate merges sit in a heap keyed
by ``(rank, position)``; after a merge only the two pairs it touches are pushed, and entries
made stale by an earlier merge are skipped when popped. Results are cached per word.

The trainer, as in Hugging Face tokenizers' BpeTrainer (same order of ids, same merges):
1. special tokens take the first ids, then the alphabet sorted by code point;
2. each distinct word (with its count) becomes a list of symbol ids;
3. every adjacent pair is counted once over all words (weighted by word count), and an index
   maps each pair to the words that contain it;
4. a max-heap holds ``(count, pair)``; the best pair is the most frequent, ties going to the
   smallest ``(left id, right id)``. Heap entries are refreshed lazily: a popped entry whose
   count is stale is pushed back with the current count;
5. merging a pair visits only the words the index lists for it; each merge inside a word
   reports the pair counts it changes (``(prev, left)`` and ``(right, next)`` lose the word's
   count, ``(prev, new)`` and ``(new, next)`` gain it), so counts stay exact without recounting,
   and the new pairs enter the heap with the words they were seen in.
Training stops when the vocabulary reaches ``vocab_size`` or the best count is below
``min_frequency``.
"""
from __future__ import annotations

import heapq
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .base import AddedToken, Tokenizer, TokenLike
from .bytelevel import BYTE_TO_CHAR, CHAR_TO_BYTE, pretokenize, text_to_symbols
from .hf_files import FileFormatError, read_merges_txt, read_vocab_json, write_json, write_merges_txt, write_vocab_json

__all__ = ["BPE", "train_bpe", "ByteLevelBPETokenizer"]


class BPE:
    """A BPE model: vocabulary, merges by rank, and the word-level merge loop.

    ``merges``: pairs ``(left, right)`` or ``(left, right, line)`` in rank order. Both symbols
    and their concatenation (minus ``continuing_subword_prefix`` on the right symbol) must be in
    ``vocab``; ``source`` names the file in errors. A pair listed twice keeps its last rank, as
    in Hugging Face tokenizers.
    """

    def __init__(self, vocab: Dict[str, int], merges: Sequence[Sequence],
                 continuing_subword_prefix: Optional[str] = None, ignore_merges: bool = False,
                 source: str = "merges") -> None:
        self.vocab = vocab
        self.continuing_subword_prefix = continuing_subword_prefix
        self.ignore_merges = ignore_merges
        self.merges = []
        self.ranks = {}
        prefix_len = len(continuing_subword_prefix or "")
        for rank, merge in enumerate(merges):
            left, right = merge[0], merge[1]
            where = f"{source}, line {merge[2]}" if len(merge) > 2 else f"{source}, merge {rank}"
            for symbol in (left, right):
                if symbol not in vocab:
                    raise FileFormatError(f"{where}: merge {left!r} {right!r} names the symbol "
                                          f"{symbol!r}, which is not in the vocabulary")
            if prefix_len and right.startswith(continuing_subword_prefix):
                merged = left + right[prefix_len:]
            else:
                merged = left + right
            if merged not in vocab:
                raise FileFormatError(f"{where}: merge {left!r} {right!r} makes {merged!r}, which "
                                      f"is not in the vocabulary")
            self.merges.append((left, right))
            self.ranks[(vocab[left], vocab[right])] = (rank, vocab[merged])

    def merge_word(self, ids: Sequence[int]) -> List[int]:
        """Apply the merges to a word given as symbol ids; returns the merged ids."""
        n = len(ids)
        if n < 2:
            return list(ids)
        ranks = self.ranks
        symbols = list(ids)
        following = list(range(1, n + 1))
        following[-1] = -1
        previous = list(range(-1, n - 1))
        alive = [True] * n
        heap = []
        for pos in range(n - 1):
            merge = ranks.get((symbols[pos], symbols[pos + 1]))
            if merge is not None:
                heap.append((merge[0], pos, merge[1]))
        if not heap:
            return symbols
        heapq.heapify(heap)
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            _, pos, new = pop(heap)
            if not alive[pos]:
                continue
            right = following[pos]
            if right == -1:
                continue
            merge = ranks.get((symbols[pos], symbols[right]))
            if merge is None or merge[1] != new:   # stale: this pair changed since it was pushed
                continue
            symbols[pos] = new
            alive[right] = False
            after = following[right]
            following[pos] = after
            if after != -1:
                previous[after] = pos
            before = previous[pos]
            if before >= 0:
                merge = ranks.get((symbols[before], new))
                if merge is not None:
                    push(heap, (merge[0], before, merge[1]))
            if after != -1:
                merge = ranks.get((new, symbols[after]))
                if merge is not None:
                    push(heap, (merge[0], pos, merge[1]))
        return [s for s, a in zip(symbols, alive) if a]


def train_bpe(word_counts: Mapping[str, int], vocab_size: int, min_frequency: int = 0,
              special_tokens: Iterable[str] = (), initial_alphabet: Iterable[str] = (),
              limit_alphabet: Optional[int] = None, continuing_subword_prefix: Optional[str] = None,
              max_token_length: Optional[int] = None,
              _replay=None) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """Learn BPE merges from ``word_counts`` (word -> count); see the module docstring.

    Returns ``(vocab, merges)``: token -> id, and the merges as ``(left, right)`` strings in
    rank order. ``limit_alphabet`` keeps the most frequent characters (ties: lower code point
    kept); ``initial_alphabet`` characters are always kept. With ``continuing_subword_prefix``
    (WordPiece's ``##``), every character after the first of a word carries the prefix.

    ``_replay`` (for cross-checks): a sequence of ``(left, right)`` merges chosen by another
    trainer. Each is applied instead of this trainer's choice after checking that its count
    equals the best count here, i.e. that the two trainers differ only in breaking ties.
    """
    word_to_id, id_to_word = {}, []
    token_len = []   # characters of the word each token covers (for max_token_length)

    def add(token, length):
        if token not in word_to_id:
            word_to_id[token] = len(id_to_word)
            id_to_word.append(token)
            token_len.append(length)
        return word_to_id[token]

    for token in special_tokens:
        add(token.content if isinstance(token, AddedToken) else token, 1)

    # 1. the alphabet: characters by frequency, limited, then sorted by code point
    alphabet = {}
    for word, count in word_counts.items():
        for char in word:
            alphabet[char] = alphabet.get(char, 0) + count
    for char in initial_alphabet:
        alphabet[char] = float("inf")
    kept = list(alphabet.items())
    if limit_alphabet is not None and len(kept) > limit_alphabet:
        kept.sort(key=lambda item: (item[1], -ord(item[0])))
        kept = kept[len(kept) - limit_alphabet:]
    for char, _ in sorted(kept, key=lambda item: ord(item[0])):
        add(char, 1)

    # 2. words as symbol ids; characters outside the alphabet are dropped, as in tokenizers
    prefix = continuing_subword_prefix
    words, counts = [], []
    for word, count in word_counts.items():
        symbols = []
        for i, char in enumerate(word):
            if char in word_to_id:
                symbols.append(add(char if i == 0 or not prefix else prefix + char, 1))
        words.append(symbols)
        counts.append(count)

    # 3. pair counts and the pair -> words index
    pair_counts, where = {}, {}
    for i, symbols in enumerate(words):
        count = counts[i]
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] = pair_counts.get(pair, 0) + count
            if pair in where:
                where[pair].add(i)
            else:
                where[pair] = {i}
    # heap entries: (-count, left, right, sequence number, words); the sequence number only
    # orders entries that would otherwise compare equal
    heap = [(-pair_counts[pair], pair[0], pair[1], n, positions)
            for n, (pair, positions) in enumerate(where.items()) if pair_counts[pair] > 0]
    heapq.heapify(heap)
    sequence = len(heap)
    full_index = {pair: set(positions) for pair, positions in where.items()} if _replay is not None else None
    replay = iter(_replay) if _replay is not None else None
    done = set()
    max_len = max_token_length if max_token_length is not None else float("inf")

    # 4. merges
    merges = []
    while len(word_to_id) < vocab_size and heap:
        negative, left, right, _, positions = heapq.heappop(heap)
        count = -negative
        if replay is not None and (left, right) in done:
            continue
        current = pair_counts[(left, right)]
        if count != current:
            heapq.heappush(heap, (-current, left, right, sequence, positions))
            sequence += 1
            continue
        if count < 1 or min_frequency > count:
            break
        if replay is not None:
            try:
                forced = next(replay)
            except StopIteration:
                break
            pair = (word_to_id.get(forced[0]), word_to_id.get(forced[1]))
            if pair_counts.get(pair) != count:
                raise AssertionError(
                    f"replayed merge {len(merges)} {forced[0]!r} {forced[1]!r} has count "
                    f"{pair_counts.get(pair)} here, but the best pair "
                    f"{id_to_word[left]!r} {id_to_word[right]!r} has count {count}")
            if pair != (left, right):
                heapq.heappush(heap, (negative, left, right, sequence, positions))
                sequence += 1
                left, right = pair
            positions = full_index[pair]
            done.add(pair)

        part_a, part_b = id_to_word[left], id_to_word[right]
        if prefix and part_b.startswith(prefix):
            part_b = part_b[len(prefix):]
        new = add(part_a + part_b, token_len[left] + token_len[right])
        merges.append((id_to_word[left], id_to_word[right]))

        # 5. merge inside every word that has the pair, collecting the count changes
        new_where = {}
        new_len = token_len[new]
        for i in positions:
            symbols = words[i]
            w = counts[i]
            j = 0
            while j < len(symbols) - 1:
                if symbols[j] == left and symbols[j + 1] == right:
                    if j > 0:
                        before = symbols[j - 1]
                        pair_counts[(before, left)] -= w
                        if token_len[before] + new_len < max_len:
                            key = (before, new)
                            pair_counts[key] = pair_counts.get(key, 0) + w
                            new_where.setdefault(key, set()).add(i)
                    symbols[j:j + 2] = [new]
                    if j < len(symbols) - 1:
                        after = symbols[j + 1]
                        pair_counts[(right, after)] -= w
                        if token_len[after] + new_len < max_len:
                            key = (new, after)
                            pair_counts[key] = pair_counts.get(key, 0) + w
                            new_where.setdefault(key, set()).add(i)
                j += 1
        for pair, found in new_where.items():
            if full_index is not None:
                full_index.setdefault(pair, set()).update(found)
            count = pair_counts[pair]
            if count > 0:
                heapq.heappush(heap, (-count, pair[0], pair[1], sequence, found))
                sequence += 1
    return word_to_id, merges


# ============================================================================== byte-level BPE
class ByteLevelBPETokenizer(Tokenizer):
    """GPT-2's tokenizer: UTF-8 bytes as 256 printable symbols, GPT-2's pre-tokenization split,
    BPE merges by rank; any Unicode string round-trips through ``encode``/``decode``.

    ``vocab``: token -> id (as in ``vocab.json``); ``merges``: ``(left, right)`` pairs by rank.
    ``special_tokens``: tokens never split (``<|endoftext|>``...). When None, they are found in
    the vocabulary: an entry that is neither a byte symbol nor the result of a merge can only
    have been added, so it is special (for GPT-2, exactly ``<|endoftext|>``, which also becomes
    the bos and eos token). ``add_prefix_space`` puts a space before text that does not start
    with one (False for GPT-2; then decode(encode(s)) == s). ``ignore_merges`` looks a whole
    word up in the vocabulary before merging (newer tokenizer.json files).
    """

    def __init__(self, vocab: Mapping[str, int], merges: Sequence[Sequence],
                 special_tokens: Optional[Iterable[TokenLike]] = None, add_prefix_space: bool = False,
                 ignore_merges: bool = False, cache_capacity: int = 100_000, source: str = "merges",
                 **roles: TokenLike) -> None:
        vocab = dict(vocab)
        self.model = BPE(vocab, merges, ignore_merges=ignore_merges, source=source)
        if special_tokens is None:
            special_tokens = self._unreachable(vocab, self.model.merges)
            if "<|endoftext|>" in special_tokens:
                roles.setdefault("bos_token", "<|endoftext|>")
                roles.setdefault("eos_token", "<|endoftext|>")
        super().__init__(vocab, [AddedToken(t) if isinstance(t, str) else t for t in special_tokens], **roles)
        self.add_prefix_space = add_prefix_space
        self.cache_capacity = cache_capacity
        self._cache = {}
        self._symbol_bytes = {}

    @staticmethod
    def _unreachable(vocab, merges):
        reachable = set(BYTE_TO_CHAR.values())
        reachable.update(a + b for a, b in merges)
        return [t for t in sorted(vocab, key=vocab.get) if t not in reachable]

    @property
    def merges(self) -> List[Tuple[str, str]]:
        return list(self.model.merges)

    # ------------------------------------------------------------------ encode
    def _encode_word(self, word):
        symbols = text_to_symbols(word)
        vocab = self.model.vocab
        if self.model.ignore_merges and symbols in vocab:
            return [vocab[symbols]]
        try:
            ids = [vocab[c] for c in symbols]
        except KeyError as error:
            char = error.args[0]
            raise ValueError(f"the byte 0x{CHAR_TO_BYTE[char]:02x} (symbol {char!r}) is not in "
                             f"the vocabulary, and byte-level BPE has no unknown token") from None
        return self.model.merge_word(ids)

    def _encode_normalized(self, text):
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        cache = self._cache
        ids = []
        for word in pretokenize(text):
            word_ids = cache.get(word)
            if word_ids is None:
                word_ids = self._encode_word(word)
                if len(cache) >= self.cache_capacity:
                    cache.clear()
                cache[word] = word_ids
            ids.extend(word_ids)
        return ids

    # ------------------------------------------------------------------ decode
    def _decode_tokens(self, tokens):
        # As tokenizers' ByteLevel decoder: a token made of byte symbols is those bytes; any
        # other token (an added token with a character outside the table) is its own UTF-8.
        # Invalid UTF-8 (a token sequence cut inside a character) becomes U+FFFD.
        cache = self._symbol_bytes
        parts = []
        for token in tokens:
            raw = cache.get(token)
            if raw is None:
                try:
                    raw = bytes(CHAR_TO_BYTE[c] for c in token)
                except KeyError:
                    raw = token.encode("utf-8")
                cache[token] = raw
            parts.append(raw)
        return b"".join(parts).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ files
    @classmethod
    def from_files(cls, vocab_path: str, merges_path: str, **kwargs: Any) -> ByteLevelBPETokenizer:
        """Load ``vocab.json`` and ``merges.txt``."""
        vocab = read_vocab_json(vocab_path)
        merges = read_merges_txt(merges_path)
        return cls(vocab, merges, source=os.fspath(merges_path), **kwargs)

    def save(self, directory: str) -> str:
        """Write ``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` (special tokens,
        ``add_prefix_space``) into ``directory``, in the formats Hugging Face reads."""
        os.makedirs(directory, exist_ok=True)
        write_vocab_json(os.path.join(directory, "vocab.json"), self._vocab)
        write_merges_txt(os.path.join(directory, "merges.txt"), self.model.merges)
        write_json(os.path.join(directory, "tokenizer_config.json"), self._config())
        write_json(os.path.join(directory, "special_tokens_map.json"), self.special_tokens_map)
        return directory

    def _config(self):
        config = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": self.add_prefix_space,
                  "added_tokens_decoder": {str(self._vocab[t]): {
                      "content": t, "lstrip": a.lstrip, "normalized": a.normalized, "rstrip": a.rstrip,
                      "single_word": False, "special": a.special} for t, a in self._added.items()}}
        config.update(self.special_tokens_map)
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        return config

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, texts: Union[str, Iterable[str]], vocab_size: int = 30000, min_frequency: int = 2,
              special_tokens: Iterable[str] = (), add_prefix_space: bool = False,
              max_token_length: Optional[int] = None, **roles: TokenLike) -> ByteLevelBPETokenizer:
        """Train on ``texts`` (a str, or an iterable of str such as the lines of a file).

        As ``tokenizers.ByteLevelBPETokenizer.train_from_iterator``: the alphabet is all 256
        byte symbols, ids are the special tokens, then the symbols sorted by code point, then
        one per merge; ``vocab_size`` counts all of them."""
        counts = cls.count_words(texts, special_tokens, add_prefix_space)
        vocab, merges = train_bpe(counts, vocab_size, min_frequency, special_tokens=special_tokens,
                                  initial_alphabet=list(BYTE_TO_CHAR.values()),
                                  max_token_length=max_token_length)
        return cls(vocab, merges, special_tokens=list(special_tokens), add_prefix_space=add_prefix_space, **roles)

    @staticmethod
    def count_words(texts: Union[str, Iterable[str]], special_tokens: Iterable[TokenLike] = (),
                    add_prefix_space: bool = False) -> Dict[str, int]:
        """Byte-level words of ``texts`` and their counts, as the trainer sees them."""
        def words_of(piece):
            return pretokenize(" " + piece if add_prefix_space and not piece.startswith(" ") else piece)
        counts = Tokenizer.count_training_words(texts, special_tokens, words_of)
        return {text_to_symbols(word): count for word, count in counts.items()}

