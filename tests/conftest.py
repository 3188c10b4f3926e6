"""Shared test setup: CPU only, deterministic, strict promotion so silent broadcasts fail."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests compile many tiny programs: cheap compiles cut CPU time ~2x. Both sides of every
# comparison run under the same flags, so equivalence checks are unaffected.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_force_host_platform_device_count=1 --xla_backend_optimization_level=0 "
    "--xla_llvm_disable_expensive_passes=true",
)
