"""Streaming port: plan from the checkpoint's header, then read, convert, write and drop each move.

The plan needs only names, shapes and dtypes, so the ledger (every source leaf consumed, every
target filled) is complete, and the output's header written, before any array is read. Then each
move reads its few source arrays, applies its op and hands the results to the writer; a leaf
whose bytes do not change (a rename or a reshape) is copied through in chunks and never held
whole. npz and safetensors sources stream; pickle, msgpack and orbax are loaded whole first
(their formats cannot be read piecewise), and still never twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from hk2nnx.port import ops
from hk2nnx.port import plan as plan_mod
from hk2nnx.port.formats import api as formats_api
from hk2nnx.port.formats.lazy import LazyLeaf, Payload, Slot
from hk2nnx.port.plan import HaikuKey, Ledger, Move, PortError
from hk2nnx.program.model import Program

Convert = Callable[[list[np.ndarray]], list[np.ndarray]]
_BYTE_PRESERVING = (ops.Identity, ops.PureReshape)


@dataclasses.dataclass(frozen=True)
class Step:
    """One move: its source leaves, its output slots, and how to compute them (None: the
    single source's bytes are the output's). `kept[i]` replaces output i (residual leaves)."""

    sources: list[LazyLeaf]
    slots: list[Slot]
    convert: Convert | None
    kept: dict[int, LazyLeaf] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StreamPlan:
    steps: list[Step]
    ledger: Ledger

    @property
    def slots(self) -> list[Slot]:
        return [slot for step in self.steps for slot in step.slots]

    def items(self) -> Iterator[tuple[Slot, Payload]]:
        """(slot, payload) in slot order, computing one step at a time."""
        for step in self.steps:
            if step.convert is None:
                yield step.slots[0], step.sources[0]
                continue
            outs = _run(step)
            for i, slot in enumerate(step.slots):
                yield slot, outs[i]
                outs[i] = None  # the writer is done with it: let it go before the next read
            del outs


def _run(step: Step) -> list:
    if len(step.kept) == len(step.slots):
        return [step.kept[i] for i in range(len(step.slots))]
    outs = list(step.convert([leaf.load() for leaf in step.sources]))
    for i, slot in enumerate(step.slots):
        if i in step.kept:
            outs[i] = step.kept[i]
        elif tuple(outs[i].shape) != slot.shape or np.dtype(outs[i].dtype) != slot.dtype:
            raise PortError(f"{slot.label}: computed {np.dtype(outs[i].dtype).name}"
                            f"{list(outs[i].shape)}, planned {slot.dtype.name}{list(slot.shape)}")
    return outs


def _dummies(leaves: Iterable[Slot]) -> list[np.ndarray]:
    """Zero-cost stand-ins (broadcast scalars) to learn an op's output shapes and dtypes."""
    return [np.broadcast_to(np.zeros((), leaf.dtype), leaf.shape) for leaf in leaves]


def _byte_preserving(move: Move, sources: list[LazyLeaf], slots: list[Slot]) -> bool:
    return (isinstance(move.op, _BYTE_PRESERVING) and len(sources) == len(slots) == 1
            and slots[0].dtype == sources[0].dtype and slots[0].nbytes == sources[0].nbytes)


def _through(source: LazyLeaf, slot: Slot) -> Step:
    """A step whose output is its source's bytes; the slot remembers where they lie, so a
    writer can give them the same place within a page (the kernel copies aligned pages faster)."""
    origin = source.span.offset if source.span is not None else None
    return Step([source], [dataclasses.replace(slot, origin=origin)], None)


def _haiku_index(leaves: Iterable[LazyLeaf]) -> dict[HaikuKey, LazyLeaf]:
    out: dict[HaikuKey, LazyLeaf] = {}
    for leaf in leaves:
        key = (leaf.module, leaf.name)
        if key in out:
            raise PortError(f"{leaf.module}: {[leaf.name]} is both a parameter and a state leaf")
        out[key] = leaf
    return out


def forward_plan(leaves: list[LazyLeaf], program: Program,
                 moves: list[Move] | None = None) -> StreamPlan:
    """Haiku leaves -> NNX slots (and residual slots for leaves NNX would lose)."""
    by_key = _haiku_index(leaves)
    ledger, steps, wanted = Ledger(), [], set()
    for move in plan_mod.program_moves(program) if moves is None else moves:
        wanted.update(move.haiku)
        absent = [f"{m}/{n}" for m, n in move.haiku if (m, n) not in by_key]
        if absent:
            ledger.unfilled.extend(f"{t} (checkpoint lacks {a})" for t in move.nnx for a in absent)
            continue
        sources = [by_key[key] for key in move.haiku]

        def convert(xs: list, move: Move = move) -> list:
            return plan_mod.forward_of(move, xs)

        try:
            metas = convert(_dummies(sources))
        except ValueError as err:
            ledger.mismatched.append(f"{move.describe()}: {err}")
            continue
        slots = [Slot("nnx", "", target, tuple(y.shape), np.dtype(y.dtype))
                 for target, y in zip(move.nnx, metas)]
        steps.append(_through(sources[0], slots[0]) if _byte_preserving(move, sources, slots)
                     else Step(sources, slots, convert))
        steps.extend(_residual_steps(move, sources, slots, ledger))
        ledger.moves.append(move.describe())
    ledger.unconsumed.extend(f"{m}/{n}" for m, n in sorted(set(by_key) - wanted))
    return StreamPlan(steps, ledger)


def _residual_steps(move: Move, sources: list[LazyLeaf], slots: list[Slot],
                    ledger: Ledger) -> list[Step]:
    """A many-to-fewer move loses leaves: each source its inverse would not rebuild is kept
    (read now, to compare; such moves are norms' statistics and biases, small)."""
    if len(sources) <= len(slots):
        return []
    xs = [leaf.load() for leaf in sources]
    lost = plan_mod.lost_sources(move, xs, plan_mod.forward_of(move, xs))
    if lost:
        ledger.notes.append(plan_mod.residual_note(move))
    return [_through(sources[i], Slot("residual", sources[i].module, sources[i].name,
                                      sources[i].shape, sources[i].dtype)) for i in lost]


def reverse_plan(leaves: list[LazyLeaf], program: Program,
                 moves: list[Move] | None = None) -> StreamPlan:
    """NNX leaves (and residual Haiku leaves) -> Haiku slots shaped as `program` says."""
    values = {leaf.name: leaf for leaf in leaves if leaf.kind == "nnx"}
    residual = {(leaf.module, leaf.name): leaf for leaf in leaves if leaf.kind == "residual"}
    specs = {v.haiku_key: v.spec.shape for v in program.variables}
    collections = {v.haiku_key: v.collection for v in program.variables}
    ledger, steps, used = Ledger(), [], set()
    for move in plan_mod.program_moves(program) if moves is None else moves:
        missing = [t for t in move.nnx if t not in values]
        if missing:
            ledger.unfilled.extend(f"{m}/{n} (NNX lacks {', '.join(missing)})"
                                   for m, n in move.haiku)
            continue
        used.update(move.nnx)
        sources = [values[t] for t in move.nnx]
        shapes = [tuple(specs[key][move.lead:]) for key in move.haiku]

        def convert(ys: list, move: Move = move, shapes: list = shapes) -> list:
            return move.op.inverse(ys, move.lead, shapes)

        kept = {i: residual[key] for i, key in enumerate(move.haiku) if key in residual}
        metas = kept if len(kept) == len(move.haiku) else {
            **dict(enumerate(convert(_dummies(sources)))), **kept}
        slots = [Slot(collections[key], key[0], key[1], tuple(metas[i].shape),
                      np.dtype(metas[i].dtype)) for i, key in enumerate(move.haiku)]
        steps.append(_through(sources[0], slots[0])
                     if not kept and _byte_preserving(move, sources, slots)
                     else Step(sources, slots, convert, kept))
        ledger.moves.append(move.describe())
    ledger.unconsumed.extend(sorted(set(values) - used))
    return StreamPlan(steps, ledger)


def port_checkpoint(
    source: str | Path, output: str | Path, program: Program, *, reverse: bool = False,
    overwrite: bool = False, check: Callable[[list[Slot]], None] | None = None,
    source_format: str | None = None, output_format: str | None = None,
) -> StreamPlan:
    """Ports a Haiku checkpoint file to an NNX-side one (or back, with `reverse`), one move at a
    time; `check(slots)` may refuse the planned output before anything is written."""
    side_in, side_out = ("nnx", "haiku") if reverse else ("haiku", "nnx")
    with formats_api.open_leaves(source, side_in, fmt=source_format) as leaves:
        plan = (reverse_plan if reverse else forward_plan)(leaves, program)
        plan.ledger.check()
        if check is not None:
            check(plan.slots)
        formats_api.write_stream(output, plan.slots, plan.items(), side_out,
                                 overwrite=overwrite, fmt=output_format)
    return plan
