// polygrad's public API.
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  arange,
  linspace,
  eye,
  cat,
  stack,
  where,
  realize,
  variable,
} from './runtime/tensor.js';
export { broadcastShapes } from './runtime/shape.js';
export type { TensorLike, TensorOptions, Nested, TypedData, Axis, VariableOptions } from './runtime/tensor.js';
export { jit, setJit } from './runtime/jit.js';
export { setBeam, setBeamBudget, beamWidth } from './runtime/beam.js';
export { setKernelMode, kernelMode } from './runtime/composite.js';
export type { KernelMode } from './runtime/composite.js';
export type { Jitted, JitOptions, JitStats } from './runtime/jit.js';
export type { Conv2dOptions, PoolOptions, InterpolateOptions, AttentionOptions } from './runtime/nn.js';
export { rand, randn, randint, manualSeed } from './runtime/random.js';
export { scope } from './runtime/memory.js';
export { memory, resetPeak } from './runtime/buffer.js';
export { stats, setDebug, debugLevel } from './runtime/debug.js';
export {
  devices,
  getDevice,
  registerDevice,
  setDefaultDevice,
  defaultDevice,
  initDevices,
  unavailable,
} from './runtime/device.js';
export type { DType } from './codegen/dtype.js';
export type { Backend, Caps } from './backends/backend.js';
export { CpuBackend } from './backends/cpu.js';
export { WebGpuBackend } from './backends/webgpu.js';
export { profile, setStage, byOp, byStage, chromeTrace, formatTable } from './runtime/profile.js';
export type { KernelEvent, OpRow } from './runtime/profile.js';
