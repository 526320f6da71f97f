// TC's subgroup-matrix WGSL against Dawn's own shader compiler: Dawn's null backend, with unsafe APIs allowed, lists
// chromium-experimental-subgroup-matrix (no adapter here has it), so every TC kernel of the usual matmul shapes,
// rendered for the configs Apple (8×8×8), Vulkan on NVIDIA and AMD (16×16×16) and Intel (8×16×16) list, must
// compile into a pipeline with no error or warning (a deprecated spelling warns). The probe that lists an adapter's
// configs takes these; a device without the feature lists none. What the kernels compute is checked on the
// stand-in (test/codegen/tensorcore.test.ts).
import { describe, expect, test } from 'vitest';
import type { TensorCore } from '../../backends/backend.js';
import { usableSubgroupMatrices } from '../../backends/webgpu.js';
import { type OptCaps, invalidOpts } from '../../codegen/actions.js';
import type { Kernel, Opt } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { render } from '../../codegen/render.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { type Tensor, tensor } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { hasWebGpu } from '../backends.js';

const configs: TensorCore[] = [
  { api: 'subgroup-matrix', m: 8, n: 8, k: 8, input: 'f16', acc: 'f32', maxSubgroup: 128 },
  { api: 'subgroup-matrix', m: 16, n: 16, k: 16, input: 'f16', acc: 'f32', maxSubgroup: 128 },
  { api: 'subgroup-matrix', m: 8, n: 16, k: 16, input: 'f16', acc: 'f32', maxSubgroup: 128 },
];

/** A device of Dawn's null backend, with subgroup matrices where `matrices`. */
async function nullDevice(matrices: boolean): Promise<GPUDevice> {
  const { create, globals } = (await import('webgpu')) as unknown as {
    create(flags: string[]): GPU;
    globals: object;
  };
  Object.assign(globalThis, globals);
  const gpu = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
  keep.push(gpu); // Dawn must outlive its devices
  const adapter = (await gpu.requestAdapter())!;
  keep.push(adapter);
  const features = ['shader-f16', ...(matrices ? ['subgroups', 'chromium-experimental-subgroup-matrix'] : [])];
  return adapter.requestDevice({ requiredFeatures: features as GPUFeatureName[] });
}
const keep: unknown[] = [];

const half = (shape: number[]): Tensor =>
  tensor(new Float32Array(shape.reduce((a, b) => a * b)), { shape }).cast('f16');
const reduceId = (k: Kernel): number =>
  k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
const kernels: [string, Kernel, number][] = [
  ['64x48 @ 48x64, four tiles a workgroup', plan(half([64, 48]).matmul(half([48, 64])))[0]!, 0],
  ['batched 3x32x32 @ 3x32x16', plan(half([3, 32, 32]).matmul(half([3, 32, 16])))[0]!, 1],
  [
    'relu(40x48 @ 48x36), padded',
    plan(
      half([40, 48])
        .matmul(half([48, 36]))
        .relu(),
    )[0]!,
    0,
  ],
];
const optsFor = (k: Kernel, rowAxis: number, core: TensorCore, name: string): Opt[] =>
  [
    ...(name.includes('padded')
      ? [
          { op: 'PADTO', axis: 0, amount: 32 },
          { op: 'PADTO', axis: 1, amount: 16 },
        ]
      : name.includes('four tiles')
        ? [
            { op: 'UPCAST', axis: 0, amount: 2 },
            { op: 'UPCAST', axis: 1, amount: 2 },
          ]
        : []),
    { op: 'LOCAL', axis: rowAxis, amount: 16 },
    { op: 'LOCAL', axis: rowAxis + 1, amount: 16 },
    { op: 'TC', axis: reduceId(k), amount: core.k },
  ] as Opt[];

describe.skipIf(!hasWebGpu)("subgroup-matrix TC in Dawn's shader compiler (null backend)", () => {
  const device = nullDevice(true);
  test.each(configs.flatMap((core) => kernels.map(([name, k, axis]) => ({ name, k, axis, core }))))(
    '$name in $core.m×$core.n×$core.k pieces compiles with no error or warning',
    async ({ name, k, axis, core }) => {
      const gpu = await device;
      const caps: OptCaps = {
        globalsAsLoops: false,
        workgroupSize: 256,
        threads: 65536,
        sharedBytes: gpu.limits.maxComputeWorkgroupStorageSize,
        tensorCores: [core],
      };
      const opts = optsFor(k, axis, core, name);
      expect(invalidOpts(k, opts, caps)).toBeUndefined();
      const { source } = render({ ...k, opts }, linearize({ ...k, opts }, false), wgslFor(256, [core]));
      expect(source).toContain('subgroupMatrixMultiplyAccumulate');
      gpu.pushErrorScope('validation');
      const module = gpu.createShaderModule({ code: source });
      gpu.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const [error, info] = await Promise.all([gpu.popErrorScope(), module.getCompilationInfo()]);
      expect(info.messages.map((m) => `${m.type}: ${m.message}`)).toEqual([]);
      expect(error?.message).toBeUndefined();
    },
  );

  const info = {
    subgroupMaxSize: 128,
    subgroupMatrixConfigs: configs.map((c) => ({
      componentType: c.input,
      resultComponentType: c.acc,
      M: c.m,
      N: c.n,
      K: c.k,
    })),
  };
  test("an adapter's configs are listed where the probe compiles, with its widest subgroup", async () => {
    expect(await usableSubgroupMatrices(await device, info, 256)).toEqual(configs);
  });

  test('a device without the feature lists none', async () => {
    expect(await usableSubgroupMatrices(await nullDevice(false), info, 256)).toEqual([]);
  });
});
