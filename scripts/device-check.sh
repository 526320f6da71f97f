#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one call (device time is scarce): the op suite, fusion, index checks, jit (its
# replay as a CUDA graph), STAGE, TC (generated tensor-core matmuls) and the contributed CUDA kernels on `cuda`
# (test/backends.ts adds it when libcuda loads), then polygrad vs PyTorch on the same GPU and the TC bench (f16
# matmuls: heuristic, STAGE, TC with 1/4/8 tiles a workgroup). On the device machine,
# after `npm run build` and ../shared/tools/device-prep here:  bash .device/boot bash scripts/device-check.sh
# Logs land in $OUT (the device tool's folder) or /tmp; copy the numbers into bench/RESULTS.md with date, GPU, driver.
set -uo pipefail
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
TEST_DEVICES=cuda npx vitest run test/cuda test/ops test/fusion test/checks.test.ts test/jit test/kernels \
  test/codegen/stage.test.ts test/codegen/tensorcore.test.ts test/backends 2>&1 | tee "$out/cuda-tests.log" | tail -n 40
node dist/bench/peer.js --device cuda 2>&1 | tee "$out/peer.md"
node dist/bench/run.js tc cuda 2>&1 | tee "$out/tc.md"
