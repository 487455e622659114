"""`npformer gradcheck`: the audit table over every registered op."""
import subprocess
import sys

from npformer.autograd.function import Function
from npformer.cli import main


def test_gradcheck_audit_passes_and_lists_every_op(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for name in Function.registry:
        assert any(line.startswith(name + " ") and line.rstrip().endswith("pass") for line in out.splitlines()), name
    assert f"{len(Function.registry)} of {len(Function.registry)} ops pass" in out


def test_gradcheck_audit_of_one_op_in_fast_mode(capsys):
    assert main(["gradcheck", "--op", "MatMul", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "MatMul" in out and "1 of 1 ops pass" in out


def test_gradcheck_audit_fails_for_an_op_without_a_case(capsys):
    class Uncovered(Function):
        @staticmethod
        def forward(ctx, a):
            return a

        @staticmethod
        def backward(ctx, grad):
            return grad

    try:
        assert main(["gradcheck", "--op", "Uncovered"]) == 1
        assert "no gradient case" in capsys.readouterr().out
    finally:
        del Function.registry["Uncovered"]


def test_unknown_op_is_reported(capsys):
    assert main(["gradcheck", "--op", "Nope"]) == 2
    assert "unknown op" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "npformer", "gradcheck", "--op", "Add"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 of 1 ops pass" in result.stdout
