"""npformer.nn.functional is npformer.functional under PyTorch's name, reachable the three ways
PyTorch code spells it."""
import subprocess
import sys

import numpy as np

import npformer


def test_the_three_spellings_give_the_same_functions():
    import npformer.nn.functional as F1
    from npformer.nn import functional as F2
    F3 = npformer.nn.functional
    assert F1 is F2 is F3
    for name in npformer.functional.__all__:
        assert getattr(F1, name) is getattr(npformer.functional, name), name
    from npformer.nn.functional import pad, softmax  # noqa: F401
    assert pad is npformer.functional.pad


def test_names_added_to_npformer_functional_later_are_visible():
    def added(x):
        return x

    npformer.functional.added_for_this_test = added
    try:
        assert npformer.nn.functional.added_for_this_test is added
    finally:
        del npformer.functional.added_for_this_test


def test_an_unknown_name_is_an_attribute_error_naming_the_module():
    try:
        npformer.nn.functional.no_such_function
    except AttributeError as error:
        assert "npformer.nn.functional" in str(error)
    else:
        raise AssertionError("no AttributeError")


def test_import_as_torch_spelling_in_a_fresh_interpreter():
    code = ("import npformer as torch\nimport npformer.nn as nn\nimport npformer.nn.functional as F\n"
            "x = torch.tensor([[1.0, -2.0, 3.0]])\n"
            "y = F.pad(x, (1, 1)).softmax(-1).topk(2).values.sum()\n"
            "print(round(float(y), 6))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    padded = np.array([0.0, 1.0, -2.0, 3.0, 0.0])
    weights = np.exp(padded - padded.max()) / np.exp(padded - padded.max()).sum()
    assert float(out.stdout) == round(float(np.sort(weights)[-2:].sum()), 6)
