"""Compat LSTM, GRU and VanillaRNN compute their Haiku cores exactly.

Outputs, gradients and state after one call (verify), then 3 SGD steps on both sides; weights
move by `hk2nnx.port_to_nnx` with a traced program in faithful mode, which also proves the
faithful entries of the layer table. Cases and the two tests: `compat_cases.py`.
"""

from compat_cases import case_tests

test_verify_passes_in_training_mode, test_three_sgd_steps_agree = case_tests("recurrent")
