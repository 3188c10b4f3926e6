"""Faithful-mode building blocks: NNX modules reproducing Haiku exactly, and their emission.

The classes live as standalone templates (`hk2nnx.compat.templates`, importing only jax, flax,
numpy and typing) so that `compat_source` can copy them into a converted program's
`_haiku_compat.py`; converted code never imports hk2nnx.
"""

from hk2nnx.compat.emit import MODULE_NAME as MODULE_NAME
from hk2nnx.compat.emit import available as available
from hk2nnx.compat.emit import compat_source as compat_source
from hk2nnx.compat.templates.attention import MultiHeadAttention as MultiHeadAttention
from hk2nnx.compat.templates.batch_norm import BatchNorm as BatchNorm
from hk2nnx.compat.templates.bias import Bias as Bias
from hk2nnx.compat.templates.conv_lstm import Conv1DLSTM as Conv1DLSTM
from hk2nnx.compat.templates.conv_lstm import Conv2DLSTM as Conv2DLSTM
from hk2nnx.compat.templates.conv_lstm import Conv3DLSTM as Conv3DLSTM
from hk2nnx.compat.templates.deep_rnn import DeepRNN as DeepRNN
from hk2nnx.compat.templates.deep_rnn import ResetCore as ResetCore
from hk2nnx.compat.templates.embed import Embed as Embed
from hk2nnx.compat.templates.gru import GRU as GRU
from hk2nnx.compat.templates.identity_core import IdentityCore as IdentityCore
from hk2nnx.compat.templates.lstm import LSTM as LSTM
from hk2nnx.compat.templates.lstm import LSTMState as LSTMState
from hk2nnx.compat.templates.mobilenet import MobileNetV1 as MobileNetV1
from hk2nnx.compat.templates.moving_average import (
    ExponentialMovingAverage as ExponentialMovingAverage,
)
from hk2nnx.compat.templates.pooling import AvgPool as AvgPool
from hk2nnx.compat.templates.pooling import MaxPool as MaxPool
from hk2nnx.compat.templates.pooling import avg_pool as avg_pool
from hk2nnx.compat.templates.pooling import max_pool as max_pool
from hk2nnx.compat.templates.resnet import ResNet as ResNet
from hk2nnx.compat.templates.resnet import ResNet18 as ResNet18
from hk2nnx.compat.templates.resnet import ResNet34 as ResNet34
from hk2nnx.compat.templates.resnet import ResNet50 as ResNet50
from hk2nnx.compat.templates.resnet import ResNet101 as ResNet101
from hk2nnx.compat.templates.resnet import ResNet152 as ResNet152
from hk2nnx.compat.templates.resnet import ResNet200 as ResNet200
from hk2nnx.compat.templates.separable import (
    SeparableDepthwiseConv2D as SeparableDepthwiseConv2D,
)
from hk2nnx.compat.templates.spectral_norm import SpectralNorm as SpectralNorm
from hk2nnx.compat.templates.vanilla_rnn import VanillaRNN as VanillaRNN
from hk2nnx.compat.templates.vector_quantizer import VectorQuantizer as VectorQuantizer
from hk2nnx.compat.templates.vector_quantizer import VectorQuantizerEMA as VectorQuantizerEMA

__all__ = [
    "GRU", "LSTM", "MODULE_NAME", "AvgPool", "BatchNorm", "Bias", "Conv1DLSTM", "Conv2DLSTM", "Conv3DLSTM", "DeepRNN",
    "Embed", "ExponentialMovingAverage", "IdentityCore", "LSTMState", "MaxPool", "MobileNetV1",
    "MultiHeadAttention", "ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet200",
    "ResetCore", "SeparableDepthwiseConv2D", "SpectralNorm", "VanillaRNN", "VectorQuantizer",
    "VectorQuantizerEMA", "available", "avg_pool", "compat_source", "max_pool",
]
