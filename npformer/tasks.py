"""What ``npformer train`` trains: a task owns its model, its data and its loss.

    gpt      a causal LM on a corpus (character or byte-level BPE tokens), random blocks
    bert     BERT's masked-LM pretraining on the same corpus, [CLS] block [SEP], 80/10/10 masks
    seq2seq  an encoder-decoder on a generated task (reverse or sort a sequence of symbols),
             scored by exact-match accuracy of its greedy decoding

Every task is a :class:`Task`: the abstract base class names what the trainer and the CLI may
ask of any task, and gives the optional capabilities (``split_loss``) a default that says "not
available", so no caller has to probe a task with ``hasattr``.
"""
from __future__ import annotations

import abc
import os
import tempfile
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import functional as F
from .autograd.grad_mode import no_grad
from .autograd.random import Generator
from .autograd.tensor import Tensor
from .data import (
    CorpusError,
    check_fingerprint,
    mask_tokens,
    pad_batch,
    random_blocks,
    read_corpus,
    synthetic_pairs,
    train_val_split,
)
from .generation import generate, generate_in_window
from .io.checkpoint import CheckpointError
from .models import GPT, BertConfig, BertForMaskedLM, EncoderDecoder, EncoderDecoderConfig, GPTConfig
from .nn import Module
from .tokenizers import ByteLevelBPETokenizer, CharTokenizer, Tokenizer
from .tokenizers import load as load_tokenizer

if TYPE_CHECKING:                 # train.py imports this module (lazily): the annotations only name the class
    from .train import TrainConfig

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class Task(abc.ABC):
    """What the trainer trains, and what the CLI asks of it.

    Attributes every task sets in its constructor: ``config`` (the run's TrainConfig),
    ``vocab_size``, ``tokens_per_batch`` (tokens one batch trains on, for the tokens/s figure),
    ``description`` (one line for the progress output) and ``data_record`` (the corpus's
    fingerprint, None for generated data). ``model`` is None until the trainer sets it to
    ``build_model()``'s result.

    Subclasses implement the abstract methods. ``metrics``, ``files`` and ``state`` have defaults
    a task overrides when it has more to say; ``split_loss`` is an optional capability whose
    default (None) means the task has none.
    """

    config: TrainConfig
    vocab_size: int
    tokens_per_batch: int
    description: str
    data_record: Optional[dict]
    model: Optional[Module] = None

    @abc.abstractmethod
    def build_model(self, config: Optional[TrainConfig] = None) -> Module:
        """A new model for this task, sized by ``config`` (default: the task's own config)."""

    @abc.abstractmethod
    def batch(self, split: str, generator: Generator) -> Tuple[np.ndarray, ...]:
        """One batch of ``split`` ("train" or "val"), drawn from ``generator``: the arrays ``loss`` takes."""

    @abc.abstractmethod
    def loss(self, batch: Tuple[np.ndarray, ...]) -> Tensor:
        """The scalar training loss of ``batch`` under ``self.model``."""

    @abc.abstractmethod
    def samples(self, count: int, length: int, temperature: float = 0.8, top_k: Optional[int] = 40, seed: int = 0,
                prompt: Optional[str] = None) -> List[str]:
        """``count`` texts that show what the model learned, ``length`` tokens long where the task
        generates text. ``temperature``, ``top_k`` and ``prompt`` steer sampling; a task that does
        not sample (it fills masks, or decodes greedily) ignores them."""

    def metrics(self) -> Dict[str, float]:
        """Measures of the model beyond the losses, on validation data (default: none)."""
        return {}

    def files(self) -> Dict[str, bytes]:
        """File name -> contents that a checkpoint must hold besides the weights, e.g. the
        tokenizer's files (default: none)."""
        return {}

    def state(self) -> dict:
        """What trainer.json records about the task (JSON-ready)."""
        return {"vocab_size": self.vocab_size}

    def split_loss(self, split: str = "val", batch_size: Optional[int] = None) -> Optional[float]:
        """The exact mean loss over the whole of ``split``, for a task that can score every
        token of it once; None (the default) for a task that cannot."""
        return None


def make_task(config: TrainConfig, checkpoint: Optional[str] = None, data_record: Optional[dict] = None) -> Task:
    """The task for ``config``, its tokenizer read from the step directory ``checkpoint`` when
    given, its corpus checked against ``data_record`` (a fingerprint) when given. The model is
    not built yet: ``task.build_model()`` builds it (so that its sizes can be checked first)."""
    kind = {"gpt": LanguageModelTask, "bert": MaskedLanguageModelTask, "seq2seq": SequenceTask}[config.model]
    return kind(config, checkpoint=checkpoint, data_record=data_record)


def _checkpoint_tokenizer(step_dir: str) -> Tokenizer:
    try:
        return load_tokenizer(step_dir)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{step_dir}: its tokenizer cannot be read ({error}); the checkpoint is incomplete: "
                              f"resume from an earlier one") from None


def _tokenizer_files(tokenizer: Tokenizer) -> Dict[str, bytes]:
    with tempfile.TemporaryDirectory() as directory:
        tokenizer.save(directory)
        files = {}
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), "rb") as f:
                files[name] = f.read()
        return files


class _CorpusTask(Task):
    """Shared by the corpus tasks: the text, its tokenizer and the token stream's split."""

    def __init__(self, config: TrainConfig, checkpoint: Optional[str], data_record: Optional[dict],
                 specials: Sequence[str]):
        self.config = config
        try:
            text, self.data_record = read_corpus(config.data)
        except CorpusError as error:
            if data_record is None:
                raise
            raise CorpusError(f"{error}; this run was trained on {data_record.get('source')}: pass --data with "
                              f"that text") from None
        if data_record is not None:
            check_fingerprint(self.data_record, data_record)
        if checkpoint is not None:
            self.tokenizer = _checkpoint_tokenizer(checkpoint)
        elif config.tokenizer == "char":
            roles = dict(unk_token="[UNK]") if specials else {}
            self.tokenizer = CharTokenizer.train(text, special_tokens=[s for s in specials if s != "[UNK]"], **roles)
        else:
            self.tokenizer = ByteLevelBPETokenizer.train(text, vocab_size=config.bpe_vocab_size, min_frequency=2,
                                                         special_tokens=list(specials))
        for special in specials:
            if self.tokenizer.token_to_id(special) is None:
                raise CorpusError(f"the tokenizer has no {special} token, which the {config.model} task needs")
        ids = np.asarray(self.tokenizer.encode(text, add_special_tokens=False), dtype=np.int64)
        self.train_ids, self.val_ids = train_val_split(ids)
        needed = config.block_size + 1
        for split, part in (("training", self.train_ids), ("validation", self.val_ids)):
            if len(part) < needed + 1:
                raise CorpusError(f"the {split} split has {len(part)} tokens, too few for block_size "
                                  f"{config.block_size}: use a smaller --block-size or a larger corpus")
        self.vocab_size = len(self.tokenizer)

    def split(self, name: str) -> np.ndarray:
        """The token ids of the split ``name`` ("train" or "val")."""
        return self.train_ids if name == "train" else self.val_ids

    def files(self) -> Dict[str, bytes]:
        return _tokenizer_files(self.tokenizer)


class LanguageModelTask(_CorpusTask):
    """A causal LM (GPT) on a corpus: random blocks, each position predicting its successor."""

    def __init__(self, config: TrainConfig, checkpoint: Optional[str] = None, data_record: Optional[dict] = None):
        super().__init__(config, checkpoint, data_record, specials=())
        c = config
        self.model = None
        self.tokens_per_batch = c.batch_size * c.block_size
        self.description = (f"a {c.tokenizer}-level GPT ({c.n_layers}L/{c.n_heads}H/{c.d_model}d, "
                            f"{self.vocab_size} tokens)")

    def build_model(self, config: Optional[TrainConfig] = None) -> GPT:
        c = config or self.config
        return GPT(GPTConfig.gpt2(vocab_size=self.vocab_size, max_positions=c.block_size, d_model=c.d_model,
                                  n_layers=c.n_layers, n_heads=c.n_heads, bias=c.bias, dropout=c.dropout,
                                  embedding_dropout=c.dropout, attention_dropout=c.dropout, activation=c.activation))

    def batch(self, split: str, generator: Generator) -> Tuple[np.ndarray, np.ndarray]:
        return random_blocks(self.split(split), self.config.batch_size, self.config.block_size, generator)

    def loss(self, batch: Tuple[np.ndarray, np.ndarray]) -> Tensor:
        x, y = batch
        logits = self.model(x).logits                                            # (B, T, vocab)
        # every position predicts its successor: y is x shifted by one (nanoGPT's targets)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), Tensor._make(y.reshape(-1), False, None, 0))

    def split_loss(self, split: str = "val", batch_size: Optional[int] = None) -> float:
        """The exact mean loss over a whole split: the stream cut into consecutive block_size
        windows (the last partial one dropped), every token scored once with its window as
        context. Random windows, as evaluation draws them, see each position of a window
        equally often, so this is the value their mean estimates, without sampling noise."""
        ids, block = self.split(split), self.config.block_size
        windows = (len(ids) - 1) // block
        starts = np.arange(windows) * block
        batch_size = batch_size or 4 * self.config.batch_size
        total, was_training = 0.0, self.model.training
        self.model.eval()
        try:
            with no_grad():
                for first in range(0, windows, batch_size):
                    offsets = starts[first:first + batch_size, None] + np.arange(block)[None, :]
                    x, y = ids[offsets], ids[offsets + 1]
                    total += self.loss((x, y)).item() * len(offsets)   # the loss is a mean over tokens
        finally:
            self.model.train(was_training)
        return total / windows

    def samples(self, count: int, length: int, temperature: float = 0.8, top_k: Optional[int] = 40, seed: int = 0,
                prompt: Optional[str] = None) -> List[str]:
        prompt_ids = (self.tokenizer.encode(prompt, add_special_tokens=False) if prompt
                      else self.train_ids[:1].tolist())
        # past block_size tokens each new one sees the last block_size (nanoGPT's sample.py)
        out = generate_in_window(self.model, np.tile(np.asarray(prompt_ids, np.int64), (count, 1)),
                                 max_new_tokens=length, window=self.config.block_size, do_sample=True,
                                 temperature=temperature, top_k=top_k, generator=Generator(seed))
        return [self.tokenizer.decode(row.tolist()) for row in out]


class MaskedLanguageModelTask(_CorpusTask):
    """BERT's masked-LM pretraining on a corpus: [CLS] block [SEP], 15% of the tokens masked 80/10/10."""

    def __init__(self, config: TrainConfig, checkpoint: Optional[str] = None, data_record: Optional[dict] = None):
        super().__init__(config, checkpoint, data_record, specials=BERT_SPECIALS)
        c = config
        self.ids = {name: self.tokenizer.token_to_id(name) for name in BERT_SPECIALS}
        self.model = None
        self.tokens_per_batch = c.batch_size * c.block_size
        self.description = (f"BERT masked-LM pretraining ({c.n_layers}L/{c.n_heads}H/{c.d_model}d, "
                            f"{self.vocab_size} tokens)")

    def build_model(self, config: Optional[TrainConfig] = None) -> BertForMaskedLM:
        c = config or self.config
        return BertForMaskedLM(BertConfig(
            vocab_size=self.vocab_size, max_positions=c.block_size, d_model=c.d_model, n_layers=c.n_layers,
            n_heads=c.n_heads, d_ff=4 * c.d_model, dropout=c.dropout, attention_dropout=c.dropout,
            pad_token_id=self.ids["[PAD]"], type_vocab_size=2, activation=c.activation))

    def batch(self, split: str, generator: Generator) -> Tuple[np.ndarray, np.ndarray]:
        body, _ = random_blocks(self.split(split), self.config.batch_size, self.config.block_size - 2, generator)
        ids = np.concatenate([np.full((len(body), 1), self.ids["[CLS]"]), body,
                              np.full((len(body), 1), self.ids["[SEP]"])], axis=1)
        special_ids = [self.ids[s] for s in BERT_SPECIALS]
        corrupted, labels = mask_tokens(ids, self.ids["[MASK]"], self.vocab_size, special_ids=special_ids,
                                        generator=generator)
        if not (labels != -100).any():
            # 15% of a small batch can be nothing, and a loss over no tokens is 0/0: choose one
            # maskable position (a drawn one, so the stream stays deterministic) and mask it
            maskable = np.flatnonzero(~np.isin(ids, special_ids))
            if len(maskable):
                position = np.unravel_index(maskable[generator.numpy.integers(0, len(maskable))], ids.shape)
                labels[position] = ids[position]
                corrupted[position] = self.ids["[MASK]"]
        return corrupted, labels

    def loss(self, batch: Tuple[np.ndarray, np.ndarray]) -> Tensor:
        ids, labels = batch
        return self.model(ids, labels=labels).loss

    def metrics(self) -> Dict[str, float]:
        """Accuracy of the masked-token predictions on validation batches."""
        generator, right, total = Generator(self.config.seed + 11), 0, 0
        for _ in range(self.config.eval_steps):
            ids, labels = self.batch("val", generator)
            predicted = self.model(ids).logits._data.argmax(-1)
            chosen = labels != -100
            right += int((predicted[chosen] == labels[chosen]).sum())
            total += int(chosen.sum())
        return {"masked_accuracy": right / max(total, 1)}

    def samples(self, count: int, length: int, temperature: float = 0.8, top_k: Optional[int] = 40, seed: int = 0,
                prompt: Optional[str] = None) -> List[str]:
        """A few validation blocks with some words masked, and what the model fills in (argmax:
        nothing is sampled, so ``temperature``, ``top_k`` and ``prompt`` play no part)."""
        ids, labels = self.batch("val", Generator(seed))
        predicted = self.model(ids[:count]).logits._data.argmax(-1)
        lines = []
        for row, label_row, guess in zip(ids[:count], labels[:count], predicted):
            shown = [self.tokenizer.decode([t]) if lab == -100 else f"[{self.tokenizer.decode([g])}]"
                     for t, lab, g in zip(row[1:-1].tolist(), label_row[1:-1].tolist(), guess[1:-1].tolist())]
            lines.append("".join(shown))
        return lines


class SequenceTask(Task):
    """A generated task with a fixed vocabulary: 0 pad, 1 bos, 2 eos, 3.. symbols."""

    PAD, BOS, EOS = 0, 1, 2

    def __init__(self, config: TrainConfig, checkpoint: Optional[str] = None, data_record: Optional[dict] = None):
        c = self.config = config
        self.vocab_size = 13                                      # 10 symbols
        self.max_length = max(4, min(c.block_size - 2, 12))
        self.data_record = None                                   # generated: nothing to record
        self.model = None
        self.tokens_per_batch = c.batch_size * (self.max_length + 1)
        self.description = f"an encoder-decoder on '{c.task}' ({c.n_layers}+{c.n_layers}L/{c.n_heads}H/{c.d_model}d)"
        self.validation = synthetic_pairs(c.task, 200, self.vocab_size, 3, self.max_length,
                                          generator=Generator(c.seed + 99))

    def build_model(self, config: Optional[TrainConfig] = None) -> EncoderDecoder:
        c = config or self.config
        return EncoderDecoder(EncoderDecoderConfig.transformer(
            vocab_size=self.vocab_size, d_model=c.d_model, n_heads=c.n_heads, encoder_layers=c.n_layers,
            decoder_layers=c.n_layers, d_ff=4 * c.d_model, max_positions=self.max_length + 2, dropout=c.dropout,
            label_smoothing=0.0, pad_token_id=self.PAD, bos_token_id=self.BOS, eos_token_id=self.EOS,
            decoder_start_token_id=self.BOS, bias=c.bias))

    def _pairs(self, split: str, generator: Generator, count: int) -> List[Tuple[np.ndarray, np.ndarray]]:
        if split == "val":
            picks = generator.numpy.integers(0, len(self.validation), size=count)
            return [self.validation[i] for i in picks]
        return synthetic_pairs(self.config.task, count, self.vocab_size, 3, self.max_length, generator=generator)

    def batch(self, split: str, generator: Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        pairs = self._pairs(split, generator, self.config.batch_size)
        source, source_mask = pad_batch([s for s, _ in pairs], self.PAD)
        target, _ = pad_batch([t for _, t in pairs], self.PAD, suffix=[self.EOS])
        labels = np.where(target == self.PAD, -100, target)
        return source, source_mask, labels

    def loss(self, batch: Tuple[np.ndarray, np.ndarray, np.ndarray]) -> Tensor:
        source, mask, labels = batch
        return self.model(source, mask, labels=labels).loss

    def predict(self, sources: Sequence[np.ndarray]) -> List[List[int]]:
        """Greedy decodings of the symbol sequences ``sources``, without bos and eos."""
        if not len(sources):
            return []
        source, mask = pad_batch(sources, self.PAD)
        out = generate(self.model, source, mask, max_new_tokens=self.max_length + 1, eos_token_id=self.EOS,
                       pad_token_id=self.PAD)
        results = []
        for row in out[:, 1:].tolist():
            results.append(row[:row.index(self.EOS)] if self.EOS in row else row)
        return results

    def metrics(self) -> Dict[str, float]:
        """Exact-match accuracy of greedy decoding on the validation pairs."""
        predictions = self.predict([s for s, _ in self.validation])
        exact = [p == t.tolist() for p, (_, t) in zip(predictions, self.validation)]
        return {"exact_match": float(np.mean(exact))}

    def samples(self, count: int, length: int, temperature: float = 0.8, top_k: Optional[int] = 40, seed: int = 0,
                prompt: Optional[str] = None) -> List[str]:
        """The first ``count`` validation sources and their greedy decodings (the decoding is as long
        as the answer, so ``length``, ``temperature``, ``top_k`` and ``prompt`` play no part)."""
        pairs = self.validation[:count]
        return [f"{' '.join(map(str, s.tolist()))} -> {' '.join(map(str, p))}"
                for (s, _), p in zip(pairs, self.predict([s for s, _ in pairs]))]

