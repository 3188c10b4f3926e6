"""`hk2nnx port CKPT --model ORIGINAL.py:NAME --input SPEC… -o OUT`: convert a checkpoint's layout."""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

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
    from hk2nnx.port import formats
    from hk2nnx.port.api import from_nnx_arrays, to_nnx_arrays

    _, program = trace_target(args.model, args)
    if args.reverse:
        flat, residual = formats.read_nnx_checkpoint(args.checkpoint)
        params, state = from_nnx_arrays(flat, program, residual)
        formats.write_haiku_checkpoint(args.output, params, state, overwrite=args.force)
        print(f"wrote {args.output}: {_count(params, state)} Haiku leaves "
              f"({'exact, residual restored' if residual else 'from NNX values'})")
        return 0
    params, state = formats.read_haiku_checkpoint(args.checkpoint)
    flat, residual, ledger = to_nnx_arrays(params, state, program)
    if args.into:
        check_against_model(flat, args.into)
    formats.write_nnx_checkpoint(args.output, flat, residual, overwrite=args.force)
    size = sum(np.asarray(v).nbytes for v in flat.values())
    print(f"wrote {args.output}: {len(flat)} NNX leaves, {size / 1e6:.1f} MB"
          + (f", {len(residual)} residual Haiku leaves kept for --reverse" if residual else ""))
    for note, count in Counter(ledger.notes).items():
        print(f"note ({count}x): {note}" if count > 1 else f"note: {note}")
    return 0


def _count(params: dict, state: dict) -> int:
    return sum(len(v) for v in params.values()) + sum(len(v) for v in state.values())


def check_against_model(flat: dict, target: str) -> None:
    """Every leaf of the NNX model present in `flat` with the same shape and dtype, and no extra."""
    from flax import nnx

    from hk2nnx.port.api import nnx_variables
    from hk2nnx.port.formats.load import fit_faults

    factory = load_object(target)
    model = nnx.eval_shape(lambda: instantiate_nnx(factory, target))
    faults = fit_faults(nnx_variables(model), {p: np.asarray(v) for p, v in flat.items()})
    if faults:
        raise UsageError(f"--into {target}: {len(faults)} mismatches: " + "; ".join(faults))
