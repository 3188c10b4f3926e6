"""convert: rewrite Haiku source into eager Flax NNX source, rule by rule, with findings."""

from hk2nnx.convert.api import ConvertResult as ConvertResult
from hk2nnx.convert.api import ConvertSyntaxError as ConvertSyntaxError
from hk2nnx.convert.api import convert_file as convert_file
from hk2nnx.convert.api import convert_source as convert_source
from hk2nnx.convert.findings import Finding as Finding
from hk2nnx.convert.findings import Safety as Safety
from hk2nnx.convert.findings import Severity as Severity

__all__ = ["ConvertResult", "ConvertSyntaxError", "Finding", "Safety", "Severity",
           "convert_file", "convert_source"]
