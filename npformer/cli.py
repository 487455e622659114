"""The ``npformer`` command line.

    npformer gradcheck [--op NAME ...] [--fast]   audit every registered op against finite differences
"""
import argparse
import sys
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npformer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    audit = commands.add_parser("gradcheck", help="check the backward of every registered op")
    audit.add_argument("--op", action="append", default=None, metavar="NAME",
                       help="check only this op (repeatable); default: all")
    audit.add_argument("--fast", action="store_true", help="random projections instead of full Jacobians")
    audit.add_argument("--seed", type=int, default=0)
    audit.set_defaults(run=run_gradcheck_audit)

    args = parser.parse_args(argv)
    return args.run(args)


def run_gradcheck_audit(args):
    from .autograd.function import Function
    from .autograd.gradcheck import GradcheckError, gradcheck_report
    from .ops.gradcases import cases_for

    names = sorted(Function.registry) if args.op is None else args.op
    unknown = [n for n in names if n not in Function.registry]
    if unknown:
        print(f"unknown op(s): {', '.join(unknown)}; registered: {', '.join(sorted(Function.registry))}",
              file=sys.stderr)
        return 2

    mode = "fast (random projections)" if args.fast else "full Jacobians"
    print(f"gradcheck of {len(names)} ops in float64, {mode}; "
          f"pass when |analytic - numeric| <= 1e-5 + 1e-3 |numeric|")
    width = max(len(n) for n in names) + 1
    header = f"{'op':<{width}} {'cases':>5} {'max rel error':>14}  result"
    print(header)
    print("-" * len(header))
    failures = 0
    started = time.perf_counter()
    for name in names:
        cases = cases_for(name)
        worst, problem = 0.0, None
        for case in cases:
            fn, inputs = case.build(np.random.default_rng(args.seed))
            try:
                reports = gradcheck_report(fn, inputs, fast_mode=args.fast, seed=args.seed)
            except GradcheckError as error:
                problem = f"FAIL in case '{case.name}': {str(error).splitlines()[0]}"
                break
            except Exception as error:  # a crashing op is a failed audit row, not a crashed audit
                problem = f"FAIL in case '{case.name}': {type(error).__name__}: {error}"
                break
            worst = max([worst] + [r.relative_error for r in reports])
        if not cases:
            problem = "FAIL: no gradient case (add one to npformer/ops/gradcases.py)"
        failures += problem is not None
        print(f"{name:<{width}} {len(cases):>5} {worst:>14.2e}  {problem or 'pass'}")
    print("-" * len(header))
    elapsed = time.perf_counter() - started
    print(f"{len(names) - failures} of {len(names)} ops pass ({elapsed:.1f} s); relative error is "
          f"max |analytic - numeric| / max |numeric| over each Jacobian")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
