#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one call (device time is scarce): the op suite, fusion, index checks, jit (its
# replay as a CUDA graph), STAGE, TC (generated tensor-core matmuls) and the contributed CUDA kernels on `cuda`
# (test/backends.ts adds it when libcuda loads), then polygrad vs PyTorch on the same GPU and the TC bench (f16
# matmuls: heuristic, STAGE, TC with 1/4/8 tiles a workgroup), then TC through WebGPU subgroup matrices where Dawn's
# Vulkan path lists them. On the device machine, after `npm run build` and ../shared/tools/device-prep --gl here:
#   bash .device/boot bash scripts/device-check.sh
# Logs land in $OUT (the device tool's folder) or /tmp; copy the numbers into bench/RESULTS.md with date, GPU, driver.
set -uo pipefail
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
TEST_DEVICES=cuda npx vitest run test/cuda test/ops test/fusion test/checks.test.ts test/jit test/kernels \
  test/codegen/stage.test.ts test/codegen/tensorcore.test.ts test/backends 2>&1 | tee "$out/cuda-tests.log" | tail -n 40
node dist/bench/peer.js --device cuda 2>&1 | tee "$out/peer.md"
node dist/bench/run.js tc cuda 2>&1 | tee "$out/tc.md"
# WebGPU subgroup matrices on the NVIDIA Vulkan driver (device-prep --gl), where Dawn lists them with unsafe APIs:
# the TC cases then run on real matrix units as well as on the stand-ins
POLYGRAD_WEBGPU_EXPERIMENTAL=1 node -e "import('./dist/index.js').then(async (p) => { await p.initDevices();
  console.log(JSON.stringify(p.getDevice('webgpu').caps.tensorCores)); })" 2>&1 | tee "$out/webgpu-cores.txt"
POLYGRAD_WEBGPU_EXPERIMENTAL=1 TEST_DEVICES=webgpu npx vitest run test/codegen/tensorcore.test.ts \
  test/webgpu/subgroup-matrix.test.ts 2>&1 | tee "$out/webgpu-tc.log" | tail -n 20
