"""The README's set-up commands are the ones CI runs and the ones that exist."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    ci_command = re.search(r"^TEST_COMMAND='(.*)'$", ci, flags=re.M).group(1)
    assert ci_command in _readme_commands()
    assert 'bash -euo pipefail -c "$TEST_COMMAND"' in ci


def test_readme_main_job_is_npformer_train():
    assert _readme_commands()[0] == "pip install . && npformer train"


def test_readme_examples_run(tmp_path):
    from npformer.models import GPT, GPTConfig
    # a tiny GPT-2-shaped checkpoint (GPT-2's vocabulary, so the example's ids fit) stands in
    # for the downloaded folder the README names
    checkpoint = tmp_path / "gpt2"
    GPT(GPTConfig.gpt2(max_positions=16, d_model=8, n_layers=1, n_heads=2)).save_pretrained(checkpoint)
    blocks = re.findall(r"```python\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 3
    for index, block in enumerate(blocks):
        block = block.replace('"path/to/gpt2-folder"', repr(str(checkpoint)))
        block = block.replace('"out"', repr(str(tmp_path / "out")))
        exec(compile(block, f"README example {index}", "exec"), {})
