"""Writers that take a checkpoint one leaf at a time, given every leaf's slot up front.

Flat formats (safetensors, npz) write each payload as it arrives and hold nothing; the others
(pickle, msgpack, orbax) cannot be written piecewise, so `CollectSink` gathers the arrays and
hands them to the format's whole-file writer at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from hk2nnx.port.formats.errors import CheckpointError
from hk2nnx.port.formats.layout import Leaf, Side
from hk2nnx.port.formats.lazy import LazyLeaf, Payload, Slot, payload_array


class Sink:
    """`with Sink(tmp, slots, side, source) as s: s.put(slot, payload)` for each slot, in order;
    the file is completed only when the block ends without an error."""

    def __init__(self, tmp: Path, slots: list[Slot], side: Side, source: str) -> None:
        self.tmp, self.slots, self.side, self.source = tmp, slots, side, source
        self.done = 0

    def put(self, slot: Slot, payload: Payload) -> None:
        if self.done >= len(self.slots) or slot is not self.slots[self.done]:
            raise CheckpointError(f"{self.source}: {slot.label} written out of order")
        self.write(slot, payload)
        self.done += 1

    def write(self, slot: Slot, payload: Payload) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Completes the file; called once every slot was written."""

    def abandon(self) -> None:
        """Releases what the writer holds; the atomic writer removes the file."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            self.abandon()
            return
        if self.done != len(self.slots):
            self.abandon()
            raise CheckpointError(f"{self.source}: only {self.done} of {len(self.slots)} leaves "
                                  "were written")
        self.finish()


Writer = Callable[[Path, Iterable[Leaf], Side, str], None]


class CollectSink(Sink):
    """For formats written in one piece: gathers the leaves, then calls the format's writer."""

    def __init__(self, tmp: Path, slots: list[Slot], side: Side, source: str,
                 writer: Writer) -> None:
        super().__init__(tmp, slots, side, source)
        self.writer, self.leaves = writer, []

    def write(self, slot: Slot, payload: Payload) -> None:
        self.leaves.append(Leaf(slot.kind, slot.module, slot.name, payload_array(payload, slot)))

    def finish(self) -> None:
        self.writer(self.tmp, self.leaves, self.side, self.source)


def write_all(sink: type[Sink], tmp: Path, leaves: Iterable[Leaf], side: Side,
              source: str) -> None:
    """Writes in-memory leaves through a streaming writer."""
    leaves = list(leaves)
    slots = [Slot.of(leaf) for leaf in leaves]
    with sink(tmp, slots, side, source) as out:
        for slot, leaf in zip(slots, leaves):
            out.put(slot, leaf.array)


def loaded(lazies: Iterable[LazyLeaf]) -> Iterator[Leaf]:
    """Each lazy leaf read, one at a time."""
    for lazy in lazies:
        yield Leaf(lazy.kind, lazy.module, lazy.name, lazy.load())
