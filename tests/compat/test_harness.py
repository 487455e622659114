"""The import rewrite itself: only torch import lines change, through the fixed table."""
import pytest

from tests.compat.harness import MODULES, PROGRAMS, non_import_changes, npformer_source

PROGRAM_NAMES = sorted(path.stem for path in PROGRAMS.glob("*.py"))


@pytest.mark.parametrize("original, rewritten", [
    ("import torch\n", "import npformer as torch\n"),
    ("import torch as th\n", "import npformer as th\n"),
    ("import torch.nn as nn\n", "import npformer.nn as nn\n"),
    ("import torch.nn.functional as F\n", "import npformer.nn.functional as F\n"),
    ("from torch.nn import functional as F\n", "from npformer.nn import functional as F\n"),
    ("from torch import optim\n", "from npformer import optim\n"),
    ("from torch import nn, optim\n", "from npformer import nn, optim\n"),
    ("from torch.optim.lr_scheduler import LambdaLR\n", "from npformer.optim.lr_scheduler import LambdaLR\n"),
    ("from torch.nn.functional import (\n    log_softmax,\n    pad,\n)\n",
     "from npformer.nn.functional import (\n    log_softmax,\n    pad,\n)\n"),
    ("import math, torch\n", "import math, npformer as torch\n"),
    ("def f():\n    import torch.nn as nn\n    return nn\n", "def f():\n    import npformer.nn as nn\n    return nn\n"),
    ("import math\nx = 'import torch'\n", "import math\nx = 'import torch'\n"),
    ("import torchvision\n", "import torchvision\n"),
])
def test_rewrite_table(original, rewritten):
    assert npformer_source(original) == rewritten
    assert non_import_changes(original, rewritten) == []


@pytest.mark.parametrize("source, message", [
    ("import torch.utils.data as data\n", "torch.utils.data"),
    ("from torch.utils.data import DataLoader\n", "torch.utils.data"),
    ("import torch.nn\n", "import torch.nn as"),
])
def test_rewrite_refuses_what_the_table_lacks(source, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        npformer_source(source)


def test_every_table_entry_is_a_torch_module():
    assert all(name == "torch" or name.startswith("torch.") for name in MODULES)
    assert all(target == "npformer" or target.startswith("npformer.") for target in MODULES.values())


def test_changed_code_lines_are_counted():
    original = "import torch\nx = torch.ones(2)\ny = x * 2\n"
    assert non_import_changes(original, "import npformer as torch\nx = torch.ones(2)\ny = x * 2\n") == []
    assert non_import_changes(original, "import npformer as torch\nx = torch.ones(3)\ny = x * 2\n") == [2]
    assert non_import_changes(original, "import npformer as torch\nx = torch.ones(2)\n") == [3]
    assert non_import_changes(original, "import npformer as torch\nimport numpy\nx = torch.ones(2)\ny = x * 2\n")


@pytest.mark.parametrize("program", PROGRAM_NAMES)
def test_programs_differ_only_in_imports(program):
    source = (PROGRAMS / f"{program}.py").read_text(encoding="utf-8")
    rewritten = npformer_source(source, program)
    assert non_import_changes(source, rewritten) == []
    assert rewritten != source, "the program imports nothing from torch"
    assert "import torch" not in rewritten.replace("npformer as torch", "")
    assert len(rewritten.splitlines()) == len(source.splitlines())


def test_there_are_five_programs():
    assert PROGRAM_NAMES == ["annotated_like", "gpt_like", "pytorch_docs_examples", "seed_snippet", "training_loop"]
