"""load_into: fill an NNX model from an NNX-side checkpoint, refusing any partial or skewed load."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.port.formats.api import read_nnx_checkpoint
from hk2nnx.port.formats.errors import CheckpointError
from hk2nnx.port.formats.layout import faults_text


def fit_faults(targets: dict[str, nnx.Variable], flat: dict[str, np.ndarray]) -> list[str]:
    """Every way `flat` fails to fit the model's variables: missing, extra, shape, dtype."""
    faults = [f"{p}: missing from the checkpoint" for p in sorted(set(targets) - set(flat))]
    faults += [f"{p}: not in the model" for p in sorted(set(flat) - set(targets))]
    for path in sorted(set(targets) & set(flat)):
        want, got = targets[path].get_value(), flat[path]
        if tuple(want.shape) != got.shape or np.dtype(want.dtype) != got.dtype:
            faults.append(f"{path}: checkpoint {got.dtype.name}{list(got.shape)}, model "
                          f"{np.dtype(want.dtype).name}{list(want.shape)}")
    return faults


def load_into(model: nnx.Module, path: str | Path, *, fmt: str | None = None) -> nnx.Module:
    """Sets every Variable of `model` from the checkpoint at `path`, by dotted path.

    Every model leaf must be present with the same shape and dtype, and every checkpoint leaf
    must have a home; otherwise nothing is changed and the error lists every mismatch. Residual
    Haiku leaves are ignored (they only matter for the way back to Haiku).
    """
    from hk2nnx.port.api import nnx_variables  # the port API imports this package
    from hk2nnx.port.containers import keyed_as_model

    flat, _ = read_nnx_checkpoint(path, fmt=fmt)
    flat = keyed_as_model(flat, model)  # numbered siblings the model holds in a container
    targets = nnx_variables(model)
    faults = fit_faults(targets, flat)
    if faults:
        raise CheckpointError(f"{path}: does not fit the model: {len(faults)} mismatches: "
                              + faults_text(faults, limit=len(faults)))
    for name, variable in targets.items():
        variable.set_value(jnp.asarray(flat[name]))
    return model
