"""The rules, one file per Haiku concept; importing this package registers them all."""

from hk2nnx.convert.rules import layers as layers
from hk2nnx.convert.rules import module_subclass as module_subclass
from hk2nnx.convert.rules import submodule as submodule
