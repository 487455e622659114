"""Checks that ship with the package, for the test suite and the ``npformer gradcheck`` command.

    gradcases.py    the gradient-check case of every registered Function (a plain table)
"""
