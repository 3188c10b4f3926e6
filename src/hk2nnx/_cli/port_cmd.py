"""`hk2nnx port CKPT --model ORIGINAL.py:NAME --input SPEC… -o OUT`: convert a checkpoint's layout."""

from __future__ import annotations

import argparse
from collections import Counter

from hk2nnx._cli.common import add_model_inputs, instantiate_nnx, trace_target
from hk2nnx._targets import UsageError, load_object


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT",
                        help=".npz, .safetensors, .pkl/.pickle, flax .msgpack or an orbax dir")
    parser.add_argument("--model", required=True, metavar="ORIGINAL.py:NAME",
                        help="the Haiku model the checkpoint belongs to")
    add_model_inputs(parser)
    parser.add_argument("--into", metavar="CONVERTED.py:NAME",
                        help="check the result against this NNX model before writing")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help=".safetensors, .npz or a directory (orbax); never overwritten "
                             "unless --force")
    parser.add_argument("--reverse", action="store_true",
                        help="CKPT is an NNX checkpoint; write a Haiku one")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def run(args: argparse.Namespace) -> int:
    from hk2nnx.port.stream import port_checkpoint

    _, program = trace_target(args.model, args)
    check = (lambda slots: check_against_model(slots, args.into)) if args.into else None
    plan = port_checkpoint(args.checkpoint, args.output, program, reverse=args.reverse,
                           overwrite=args.force, check=None if args.reverse else check)
    slots = plan.slots
    if args.reverse:
        exact = any(step.kept for step in plan.steps)
        print(f"wrote {args.output}: {len(slots)} Haiku leaves "
              f"({'exact, residual restored' if exact else 'from NNX values'})")
        return 0
    nnx = [slot for slot in slots if slot.kind == "nnx"]
    residual = len(slots) - len(nnx)
    print(f"wrote {args.output}: {len(nnx)} NNX leaves, "
          f"{sum(slot.nbytes for slot in nnx) / 1e6:.1f} MB"
          + (f", {residual} residual Haiku leaves kept for --reverse" if residual else ""))
    for note, count in Counter(plan.ledger.notes).items():
        print(f"note ({count}x): {note}" if count > 1 else f"note: {note}")
    return 0


def check_against_model(slots: list, target: str) -> None:
    """Every leaf of the NNX model planned with the same shape and dtype, and no extra; checked
    on shapes alone, before any array is read or written."""
    from flax import nnx

    from hk2nnx.port.api import nnx_variables
    from hk2nnx.port.containers import keyed_as_model
    from hk2nnx.port.formats.load import fit_faults

    factory = load_object(target)
    model = nnx.eval_shape(lambda: instantiate_nnx(factory, target))
    faults = fit_faults(nnx_variables(model), keyed_as_model(
        {s.name: s for s in slots if s.kind == "nnx"}, model))
    if faults:
        raise UsageError(f"--into {target}: {len(faults)} mismatches: " + "; ".join(faults))
