"""Corpora the tokenizer tests build themselves (CI has no shared data folder)."""
import functools


@functools.lru_cache(maxsize=None)
def python_docs_text():
    """Python's documentation topics (``pydoc_data`` ships with CPython): ~450 kB of English
    prose and code."""
    from pydoc_data.topics import topics
    return "\n".join(topics[key] for key in sorted(topics))


def python_docs_lines():
    return python_docs_text().splitlines(keepends=True)


def megabyte_text():
    """About 1 MB with a realistic number of distinct words: the docs text, then the same text
    with its words reversed letter by letter (new words, same statistics)."""
    text = python_docs_text()
    mirrored = " ".join(word[::-1] for word in text.split(" "))
    out = text + "\n" + mirrored
    while len(out.encode("utf-8")) < 1_000_000:
        out += "\n" + text.upper()
    return out
