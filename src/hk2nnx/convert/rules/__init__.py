"""The rules, one file per Haiku concept; importing this package registers them all."""

from hk2nnx.convert.rules import apply as apply
from hk2nnx.convert.rules import batch_norm as batch_norm
from hk2nnx.convert.rules import class_uses as class_uses
from hk2nnx.convert.rules import compat_functions as compat_functions
from hk2nnx.convert.rules import cond as cond
from hk2nnx.convert.rules import dropout as dropout
from hk2nnx.convert.rules import flatten as flatten
from hk2nnx.convert.rules import fori_loop as fori_loop
from hk2nnx.convert.rules import get_parameter as get_parameter
from hk2nnx.convert.rules import layer_stack as layer_stack
from hk2nnx.convert.rules import layers as layers
from hk2nnx.convert.rules import mlp as mlp
from hk2nnx.convert.rules import module_subclass as module_subclass
from hk2nnx.convert.rules import params_read as params_read
from hk2nnx.convert.rules import remat as remat
from hk2nnx.convert.rules import rng as rng
from hk2nnx.convert.rules import running_init as running_init
from hk2nnx.convert.rules import scan as scan
from hk2nnx.convert.rules import state as state
from hk2nnx.convert.rules import submodule as submodule
from hk2nnx.convert.rules import switch as switch
from hk2nnx.convert.rules import train_step as train_step
from hk2nnx.convert.rules import transform as transform
from hk2nnx.convert.rules import unsupported as unsupported
from hk2nnx.convert.rules import vector_quantizer as vector_quantizer
from hk2nnx.convert.rules import vmap as vmap
