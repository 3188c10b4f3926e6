"""Shared test setup: CPU only, deterministic, strict promotion so silent broadcasts fail."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
