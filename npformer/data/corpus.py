"""Corpora: the built-in default and any UTF-8 text file.

The default corpus is the English documentation that ships inside CPython itself
(``pydoc_data.topics``, the text of ``help()`` on statements and types: about 465 KB), so
training needs no download. Some distributions strip that module; then the error says so and
asks for ``--data``.
"""
import os


class CorpusError(ValueError):
    """A corpus that cannot be used: missing, unreadable, not UTF-8, empty or too short."""


def default_corpus():
    """The text of ``pydoc_data.topics``, topics in sorted order, separated by blank lines."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise CorpusError("this Python has no pydoc_data.topics (some distributions strip it), so there is no "
                          "built-in corpus: pass a UTF-8 text file with --data") from None
    text = "\n\n".join(topics[name] for name in sorted(topics))
    if not text.strip():
        raise CorpusError("pydoc_data.topics is empty in this Python: pass a UTF-8 text file with --data")
    return text


def read_text(path):
    """A UTF-8 text file's contents, with errors that say what is wrong with it."""
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CorpusError(f"{path}: is a directory, expected a UTF-8 text file")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise CorpusError(f"{path}: cannot be read ({error.strerror})") from None
    if not text.strip():
        raise CorpusError(f"{path}: empty (nothing to train on)")
    return text


def load_corpus(path=None):
    """``path``'s text, or the default corpus when ``path`` is None."""
    return default_corpus() if path is None else read_text(path)
