"""Corpora: the built-in default and any UTF-8 text file.

The default corpus is the English documentation that ships inside CPython itself
(``pydoc_data.topics``, the text of ``help()`` on statements and types: about 465 KB), so
training needs no download. Some distributions strip that module; then the error says so and
asks for ``--data``.

A run records its corpus by content (:func:`read_corpus`'s fingerprint: the size and SHA-256 of
the file's bytes), so resuming or evaluating it on another text is refused instead of silently
done.
"""
import hashlib
import os
import sys


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
    return read_corpus(path)[0]


def read_corpus(path=None):
    """(text, fingerprint) of ``path``, or of the default corpus when ``path`` is None.

    The text is read as Python's text mode reads it (newlines of any convention become "\\n",
    as nanoGPT's prepare.py reads its input); the fingerprint is of the file's bytes, so a copy
    with other line endings is another file."""
    if path is None:
        text = default_corpus()
        return text, _fingerprint(text.encode("utf-8"), None)
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CorpusError(f"{path}: is a directory, expected a UTF-8 text file")
    if not os.path.isfile(path):
        raise CorpusError(f"{path}: not a regular file (a device or a pipe), expected a UTF-8 text file")
    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise CorpusError(f"{path}: cannot be read ({error.strerror})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CorpusError(f"{path}: empty (nothing to train on)")
    return text, _fingerprint(data, path)


def load_corpus(path=None):
    """``path``'s text, or the default corpus when ``path`` is None."""
    return read_corpus(path)[0]


def _fingerprint(data, path):
    """What identifies a corpus: where it was read from, and its size and SHA-256 (JSON-ready)."""
    source = (os.path.abspath(path) if path is not None
              else f"the built-in corpus (pydoc_data.topics of Python {sys.version.split()[0]})")
    return {"path": None if path is None else source, "source": source, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def check_fingerprint(found, recorded):
    """Raise CorpusError unless the corpus fingerprinted ``found`` is the one ``recorded``."""
    if (found["bytes"], found["sha256"]) == (recorded.get("bytes"), recorded.get("sha256")):
        return
    raise CorpusError(f"{found['source']} is not the text this run was trained on ({found['bytes']:,} bytes, "
                      f"sha256 {found['sha256'][:12]}...; the run recorded {recorded.get('source')}, "
                      f"{recorded.get('bytes', 0):,} bytes, sha256 {str(recorded.get('sha256'))[:12]}...): "
                      f"pass --data with the original file")
