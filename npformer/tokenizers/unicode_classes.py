"""Unicode character classes for Python's ``re``, built from ``unicodedata``.

Python's ``re`` has no ``\\p{L}``. Each class here is the list of code-point ranges whose
general category starts with the given prefix, read from the ``unicodedata`` database of the
running Python, written as a ``[...]`` body and cached on first use (a scan of the 1.1 million
code points takes a fraction of a second, paid once per process, not at ``import npformer``).

Two facts a reader comparing with Rust tokenizers should know:

- ``\\s`` is not Python's ``\\s``. Python's ``\\s`` follows ``str.isspace``, which also matches
  U+001C..U+001F (information separators). Rust's ``char::is_whitespace`` and Oniguruma's
  ``\\s`` follow the Unicode ``White_Space`` property, which does not. ``WHITE_SPACE`` below is
  that property spelled out; it has not changed since Unicode 6.3 and ``unicodedata`` does not
  expose it.
- Categories follow the running Python's Unicode version (``unicodedata.unidata_version``):
  14.0 on Python 3.11, 13.0 on 3.9. A code point unassigned there (category ``Cn``) but
  assigned in a newer Unicode is neither a letter nor a number here, while a library built on
  a newer database may call it one. Assigned characters keep their categories across versions,
  with a handful of documented recategorizations.
"""
import functools
import itertools
import unicodedata

__all__ = ["WHITE_SPACE", "category_ranges", "category_class", "ranges_to_class", "UNICODE_VERSION"]

UNICODE_VERSION = unicodedata.unidata_version

# The White_Space property (PropList.txt): TAB, LF, VT, FF, CR, SPACE, NEL, NBSP, OGHAM SPACE MARK,
# EN QUAD..HAIR SPACE, LINE SEPARATOR, PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL
# SPACE, IDEOGRAPHIC SPACE.
WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                        + "\u2028\u2029\u202f\u205f\u3000")


def _escape(code_point):
    return "\\U%08x" % code_point


def ranges_to_class(ranges):
    """The body of a ``[...]`` class (no brackets) matching the inclusive ``(lo, hi)`` ranges."""
    parts = []
    for lo, hi in ranges:
        parts.append(_escape(lo) if lo == hi else _escape(lo) + "-" + _escape(hi))
    return "".join(parts)


def chars_to_ranges(chars):
    """Sorted inclusive ``(lo, hi)`` ranges covering the given characters."""
    ranges = []
    for cp in sorted(map(ord, chars)):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return [tuple(r) for r in ranges]


@functools.lru_cache(maxsize=None)
def _category_runs():
    """``(first, last, category)`` for each maximal run of code points sharing a category:
    one pass over every code point (surrogates included, as Cs), grouped in C by groupby."""
    category = unicodedata.category
    runs = []
    first = 0
    for cat, group in itertools.groupby(map(category, map(chr, range(0x110000)))):
        last = first + sum(1 for _ in group) - 1
        runs.append((first, last, cat))
        first = last + 1
    return tuple(runs)


@functools.lru_cache(maxsize=None)
def category_ranges(prefixes):
    """Inclusive code-point ranges whose category starts with any of ``prefixes`` (a tuple of
    strings such as ``("L",)`` or ``("Cc", "Cf", "Co")``)."""
    ranges = []
    for first, last, cat in _category_runs():
        if cat.startswith(prefixes):
            if ranges and ranges[-1][1] == first - 1:
                ranges[-1][1] = last
            else:
                ranges.append([first, last])
    return tuple(map(tuple, ranges))


@functools.lru_cache(maxsize=None)
def category_class(prefixes):
    """``ranges_to_class(category_ranges(prefixes))``, cached."""
    return ranges_to_class(category_ranges(prefixes))


def white_space_class():
    return ranges_to_class(chars_to_ranges(WHITE_SPACE))
