"""HK000 unsupported: a Haiku construct no rule converts stays as written, marked for manual work.

What it converts: nothing; it names what was left: Haiku functions and layers without a rule
(`hk.nets.ResNet50`, `hk.map`, ...), modules built inside branches or in loops whose length
the data decides (Haiku's numbering then depends on the data; fixed-length loops and lists are
HK060/HK061, `hk.Sequential` HK015, `hk.nets.MLP` HK014), modules used in ways the converter does
not follow.
Haiku: any such construct.
NNX: unchanged source, a `# TODO(hk2nnx): ...` line above it, and a WARNING finding.
Fix safety: manual.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK000", "unsupported", Safety.MANUAL, "Basic Module definition", __name__)
