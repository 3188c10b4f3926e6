#!/usr/bin/env bash
# The main job: convert every guide example to Flax NNX, then verify each conversion against its
# Haiku original (outputs, gradients, state) on the same ported weights.
set -uo pipefail
cd "$(dirname "$0")/.."
HK2NNX=${HK2NNX:-.venv/bin/hk2nnx}
OUT=${1:-out/guide}
rm -rf "$OUT"
"$HK2NNX" convert examples/guide -o "$OUT"
[ $? -le 1 ] || exit 2   # 1 = files changed / findings reported: expected here

failed=0
verify() {  # NAME SPEC [--kwarg K=V]
    local name=$1 spec=$2
    shift 2
    printf '%-20s ' "$name"
    if "$HK2NNX" verify "examples/guide/$name.py:model" "$OUT/$name.py:model" \
        --input "$spec" "$@" | grep -E '^(PASSED|FAILED)'; then :; else failed=1; fi
}
verify module_definition 'f32[2,32]' --kwarg training=False
verify variable_creation 'f32[3,20]'
verify training_step 'f32[4,8]' --kwarg training=False
verify batch_norm_state 'f32[5,7]' --kwarg training=True
verify scan_rnn 'f32[2,5,3]'
verify layer_stack 'f32[2,16]'
verify top_level_function 'f32[3,4]'
verify multi_method 'f32[2,30]' --method 0:encode
exit $failed
