// The WebGPU device: Dawn (the `webgpu` package) in Node, navigator.gpu in browsers. Buffers come from a
// pool by size class; launches are recorded into one command encoder and submitted on sync or read; a kernel's
// variables ride in a slot of one uniform arena (bind group 1, dynamic offset); timestamps give device time,
// read back in one batch; a captured step (jit) replays as one compute pass with bind groups made once.
import type { DType } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import type { Rendered } from '../codegen/render.js';
import { maxVars, subgroupMatrixProbe, wgslFor } from '../codegen/wgsl.js';
import { envFlag, inNode } from '../runtime/debug.js';
import type { Backend, Caps, DeviceBuffer, DeviceGraph, GraphLaunch, Program, TensorCore } from './backend.js';
import { BufferPool, StatusWord, compileError, launchGrid, statusBytes } from './common.js';

class GpuBuffer implements DeviceBuffer {
  constructor(
    readonly gpu: GPUBuffer,
    readonly bytes: number,
  ) {}
}
/** `checks`: the kernel binds the status word of its index checks after its params; `vars`: it reads variables. */
interface GpuProgram extends Program {
  readonly pipeline: GPUComputePipeline;
  readonly checks: boolean;
  readonly vars: boolean;
}

/** Bytes of one launch's variables: WebGPU's largest minimum uniform offset alignment. */
const slotBytes = maxVars * 4;
/** What the readback pool keeps, in all. */
const stagingBytes = 64 * 2 ** 20;
/** Launches recorded before a submit (and so the arena's slots and the timestamp pairs one submit holds). */
const batch = 64;

/** Writes a kernel's variables into 32-bit words at `at` (floats as their bits, bools as 0/1). */
function packVars(words: Uint32Array, at: number, dtypes: readonly DType[], vals: readonly number[]): void {
  const f32 = new Float32Array(words.buffer),
    i32 = new Int32Array(words.buffer);
  dtypes.forEach((d, i) => {
    if (d === 'f32' || d === 'f16') f32[at + i] = vals[i]!;
    else if (d === 'i32') i32[at + i] = vals[i]!;
    else words[at + i] = d === 'bool' ? (vals[i] ? 1 : 0) : vals[i]!;
  });
}

/** Dawn's experimental matrix feature: the adapter info lists the fragment shapes and types it multiplies. */
const subgroupMatrix = 'chromium-experimental-subgroup-matrix';
interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/**
 * The subgroup matrix configurations of an adapter as tensor cores (those of dtypes polygrad has), each driven by up
 * to the adapter's widest subgroup.
 */
export function subgroupMatrices(info: {
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  readonly subgroupMaxSize?: number;
}): TensorCore[] {
  const configs = info.subgroupMatrixConfigs ?? [];
  const dtype = (t: string): DType | undefined =>
    t === 'f16' || t === 'f32' || t === 'i32' || t === 'u32' ? t : undefined;
  const widest = info.subgroupMaxSize ? { maxSubgroup: info.subgroupMaxSize } : {};
  return configs.flatMap((c) => {
    const [input, acc] = [dtype(c.componentType), dtype(c.resultComponentType)];
    return input && acc ? [{ api: 'subgroup-matrix', m: c.M, n: c.N, k: c.K, input, acc, ...widest } as const] : [];
  });
}

/** @internal The adapter's subgroup matrices whose probe shader (TC's spelling of them) makes a pipeline here. */
export async function usableSubgroupMatrices(
  device: GPUDevice,
  info: object,
  workgroupSize: number,
): Promise<TensorCore[]> {
  if (!device.features.has(subgroupMatrix)) return [];
  const usable: TensorCore[] = [];
  for (const core of subgroupMatrices(info)) {
    if (core.input === 'f16' && !device.features.has('shader-f16')) continue;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: subgroupMatrixProbe(workgroupSize, core) });
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const [error, compiled] = await Promise.all([device.popErrorScope(), module.getCompilationInfo()]);
    if (!error && !compiled.messages.some((m) => m.type === 'error')) usable.push(core);
  }
  return usable;
}

/** Dawn crashes the process if the object create() returned is collected while its device lives. */
const keepAlive: unknown[] = [];

async function navigatorGpu(): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!inNode) return undefined;
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env;
  env.NODEVICE_SELECT ??= '1'; // Mesa's device-select layer only adds noise here
  const vulkan = '../backends/vulkan.js';
  if ((globalThis as { process?: { platform?: string } }).process?.platform === 'linux') {
    const check = (await import(/* @vite-ignore */ vulkan)) as typeof import('./vulkan.js');
    const why = check.missingVulkan(env) ?? (await check.rejectedVulkan(env));
    if (why) throw new Error(why);
  }
  const spec = 'webgpu';
  const m = (await import(/* @vite-ignore */ spec)) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, m.globals);
  // Dawn lists experimental features (subgroup matrices: TC) only to a caller that allows unsafe APIs
  const gpu = m.create(
    envFlag('POLYGRAD_WEBGPU_EXPERIMENTAL') === '1' ? ['enable-dawn-features=allow_unsafe_apis'] : [],
  );
  keepAlive.push(gpu);
  return gpu;
}

/** Threads per workgroup: 256 where the device allows. */
const workgroupSize = (l: GPUSupportedLimits): number =>
  Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);

export interface WebGpuOptions {
  /** Override adapter limits downwards, to exercise the paths real devices take (tests). */
  readonly limits?: Partial<{ maxBuffers: number; maxBufferBytes: number; maxGrid: number }>;
  readonly name?: string;
}

export class WebGpuBackend implements Backend {
  readonly name: string;
  readonly caps: Caps;
  readonly language;
  readonly description: string;
  readonly #device: GPUDevice;
  readonly #pool = new BufferPool<GPUBuffer>((g) => g.destroy());
  // readback buffers, reused: a new MAP_READ buffer per read cost as much as the copy (4 MB on lavapipe: 6 → 2 ms)
  readonly #staging = new BufferPool<GPUBuffer>((g) => g.destroy(), 2, stagingBytes);
  #encoder: GPUCommandEncoder | undefined;
  #pending = 0;
  #lost: string | undefined;
  #error: GPUError | undefined;
  /** Timestamp pairs of the timed launches in the current encoder, resolved into staging buffers at submit. */
  readonly #query: GPUQuerySet | undefined;
  readonly #queryBuf: GPUBuffer | undefined;
  #timedPairs = 0;
  readonly #timings: { staging: GPUBuffer; pairs: number }[] = [];
  /** Index-check status (code, value), read back with the next read after a checked kernel ran. */
  readonly #status: GPUBuffer;
  readonly #checks = new StatusWord();
  /** Variables of the launches in the current encoder: one 256-byte slot each, written just before the submit. */
  readonly #varsLayout: GPUBindGroupLayout;
  readonly #args: GPUBuffer;
  readonly #argsGroup: GPUBindGroup;
  readonly #argWords = new Uint32Array((batch * slotBytes) / 4);
  #argSlots = 0;

  private constructor(device: GPUDevice, info: GPUAdapterInfo, opts: WebGpuOptions, tensorCores: TensorCore[]) {
    this.#device = device;
    this.name = opts.name ?? 'webgpu';
    const l = device.limits,
      f16 = device.features.has('shader-f16');
    const timer = device.features.has('timestamp-query');
    const wg = workgroupSize(l);
    this.caps = {
      dtypes: new Set<DType>(['f32', 'bf16', 'i32', 'u32', 'bool', ...(f16 ? ['f16' as const] : [])]),
      maxBuffers: opts.limits?.maxBuffers ?? l.maxStorageBuffersPerShaderStage,
      // whole 16-byte words: a binding rounded up for 4-vector loads stays within the limits
      maxBufferBytes:
        opts.limits?.maxBufferBytes ?? Math.floor(Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize) / 16) * 16,
      statusBinding: true,
      globalsAsLoops: false,
      timer: timer ? 'device' : 'host',
      storage: { bool: 'u32', bf16: 'f32' }, // WGSL has no bf16: its values live in f32, rounded as they are made
      workgroupSize: wg,
      maxGrid: opts.limits?.maxGrid ?? l.maxComputeWorkgroupsPerDimension,
      // WebGPU does not say how wide a GPU is; a software (CPU) adapter runs a few workgroups at a time
      threads: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ? 2048 : 65536,
      sharedBytes: l.maxComputeWorkgroupStorageSize,
      tensorCores,
    };
    this.language = wgslFor(wg, tensorCores);
    this.description =
      [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
    if (timer) {
      this.#query = device.createQuerySet({ type: 'timestamp', count: 2 * batch });
      this.#queryBuf = device.createBuffer({
        size: 16 * batch,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
    this.#status = device.createBuffer({
      size: statusBytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#varsLayout = device.createBindGroupLayout({
      entries: [
        {
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: slotBytes },
        },
      ],
    });
    [this.#args, this.#argsGroup] = this.#varsArena(batch);
    void device.lost.then((i) => {
      this.#lost = `${i.reason}: ${i.message}`;
    });
    device.onuncapturederror = (e) => {
      this.#error ??= e.error;
    };
  }

  /** The adapter's device with its own limits and features, or undefined where there is no adapter. */
  static async create(opts: WebGpuOptions = {}): Promise<WebGpuBackend | undefined> {
    const gpu = await navigatorGpu();
    const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return undefined;
    // subgroup matrices need the subgroups feature beside their own
    const matrices = adapter.features.has(subgroupMatrix) && adapter.features.has('subgroups');
    const want = ['shader-f16', 'timestamp-query', ...(matrices ? ['subgroups', subgroupMatrix] : [])].filter((f) =>
      adapter.features.has(f),
    ) as GPUFeatureName[];
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: want,
      requiredLimits: {
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      },
    });
    keepAlive.push(adapter);
    const cores = await usableSubgroupMatrices(device, adapter.info, workgroupSize(device.limits));
    return new WebGpuBackend(device, adapter.info, opts, cores);
  }

  #check(): void {
    if (this.#lost) throw new Error(`webgpu: device lost (${this.#lost})`);
    if (this.#error) {
      const e = this.#error;
      this.#error = undefined;
      throw new Error(`webgpu: ${e.message}`);
    }
  }

  /** A uniform buffer of `slots` variable slots and the bind group that reads one slot at a dynamic offset. */
  #varsArena(slots: number): [GPUBuffer, GPUBindGroup] {
    const buffer = this.#device.createBuffer({
      size: Math.max(1, slots) * slotBytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const group = this.#device.createBindGroup({
      layout: this.#varsLayout,
      entries: [{ binding: 0, resource: { buffer, size: slotBytes } }],
    });
    return [buffer, group];
  }

  alloc(bytes: number): DeviceBuffer {
    this.#check();
    const size = BufferPool.sizeOf(bytes, this.#device.limits.maxBufferSize);
    const gpu =
      this.#pool.take(size) ??
      this.#device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    return new GpuBuffer(gpu, bytes);
  }
  free(b: DeviceBuffer): void {
    const g = (b as GpuBuffer).gpu;
    this.#pool.give(g.size, g);
  }
  write(b: DeviceBuffer, data: Uint8Array, offset = 0): void {
    if (offset % 4) throw new Error(`webgpu: a write at byte ${offset} is not 4-byte aligned`);
    this.#flush();
    const padded = data.byteLength % 4 ? new Uint8Array(Math.ceil(data.byteLength / 4) * 4) : data;
    if (padded !== data) padded.set(data);
    this.#device.queue.writeBuffer(
      (b as GpuBuffer).gpu,
      offset,
      padded.buffer as ArrayBuffer,
      padded.byteOffset,
      padded.byteLength,
    );
  }
  async read(b: DeviceBuffer): Promise<Uint8Array> {
    const src = b as GpuBuffer,
      size = Math.ceil(src.bytes / 4) * 4,
      checks = this.#checks.take();
    // the status word rides along in the same staging buffer, after the data
    const at = Math.max(size, 4),
      need = at + statusBytes,
      // a buffer past what the pool keeps is made to size (rounding it up would only waste, or pass the limit)
      bytes = need > stagingBytes ? need : BufferPool.sizeOf(need, this.#device.limits.maxBufferSize);
    const staging =
      this.#staging.take(bytes) ??
      this.#device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let out: Uint8Array, failed: Error | undefined;
    try {
      this.#submit((enc) => {
        enc.copyBufferToBuffer(src.gpu, 0, staging, 0, size);
        if (checks) enc.copyBufferToBuffer(this.#status, 0, staging, at, statusBytes);
      });
      await staging.mapAsync(GPUMapMode.READ);
      this.#check();
      const mapped = staging.getMappedRange();
      out = new Uint8Array(mapped.slice(0, src.bytes));
      failed = checks ? StatusWord.error(new Uint32Array(mapped.slice(at, at + statusBytes))) : undefined;
    } catch (e) {
      staging.destroy(); // a failed map or a device error: the buffer's state is unknown, never pooled
      throw e;
    }
    staging.unmap();
    this.#staging.give(bytes, staging);
    if (failed) {
      this.#device.queue.writeBuffer(this.#status, 0, new Uint32Array(2));
      throw failed;
    }
    return out;
  }

  async compile(kernel: Kernel, { source, checks }: Rendered): Promise<Program> {
    this.#check();
    // push and pop with no await between, so concurrent builds never share a scope and a bad module's
    // validation error stays with it (reported below from the compilation info, not on a later call)
    this.#device.pushErrorScope('validation');
    const module = this.#device.createShaderModule({ code: source });
    const moduleError = this.#device.popErrorScope();
    const info = await module.getCompilationInfo();
    await moduleError;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw compileError(
        'webgpu',
        kernel,
        '',
        errors.map((e) => `  line ${e.lineNum}:${e.linePos}: ${e.message}`).join('\n'),
        source,
      );
    }
    const vars = (kernel.vars?.length ?? 0) > 0;
    if ((kernel.vars?.length ?? 0) > maxVars)
      throw new Error(
        `webgpu: ${kernel.name} reads ${kernel.vars!.length} variables, more than the ${maxVars} a launch passes`,
      );
    const layout = this.#device.createBindGroupLayout({
      entries: [...kernel.params.map((p) => p.write), ...(checks ? [true] : [])].map((write, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: write ? ('storage' as const) : ('read-only-storage' as const) },
      })),
    });
    // the async pipeline call rejects on its own errors (GPUPipelineError)
    const pipeline = await this.#device
      .createComputePipelineAsync({
        layout: this.#device.createPipelineLayout({ bindGroupLayouts: vars ? [layout, this.#varsLayout] : [layout] }),
        compute: { module, entryPoint: 'main' },
      })
      .catch((e: Error) => {
        throw new Error(`webgpu: ${kernel.name}: ${e.message}`);
      });
    const prog: GpuProgram = { name: kernel.name, source, pipeline, checks, vars };
    return prog;
  }

  /** The bind group of a launch's buffers (and the status word when the kernel checks indices). */
  #bindGroup(p: GpuProgram, bufs: readonly DeviceBuffer[]): GPUBindGroup {
    const entries = bufs.map((b, i) => ({
      binding: i,
      // whole 16-byte words: an input read as 4-vectors (codegen/vectorize.ts) reaches its last element
      resource: {
        buffer: (b as GpuBuffer).gpu,
        size: Math.min((b as GpuBuffer).gpu.size, Math.ceil(b.bytes / 16) * 16 || 16),
      },
    }));
    if (p.checks) entries.push({ binding: bufs.length, resource: { buffer: this.#status, size: statusBytes } });
    return this.#device.createBindGroup({ layout: p.pipeline.getBindGroupLayout(0), entries });
  }

  #grid(kernel: Kernel): [number, number, number] {
    return launchGrid('webgpu', kernel, this.caps.workgroupSize, this.caps.maxGrid);
  }

  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], vals: readonly number[], timed = false): void {
    this.#check();
    const prog = p as GpuProgram;
    const [x, y, z] = this.#grid(kernel);
    const bindGroup = this.#bindGroup(prog, bufs);
    this.#checks.launched(prog.checks);
    this.#encoder ??= this.#device.createCommandEncoder();
    const pair = timed && this.#query ? this.#timedPairs++ : -1;
    const pass = this.#encoder.beginComputePass(
      pair >= 0
        ? {
            timestampWrites: {
              querySet: this.#query!,
              beginningOfPassWriteIndex: 2 * pair,
              endOfPassWriteIndex: 2 * pair + 1,
            },
          }
        : {},
    );
    pass.setPipeline(prog.pipeline);
    pass.setBindGroup(0, bindGroup);
    if (prog.vars) {
      const slot = this.#argSlots++;
      packVars(this.#argWords, (slot * slotBytes) / 4, kernel.vars!, vals);
      pass.setBindGroup(1, this.#argsGroup, [slot * slotBytes]);
    }
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    if (++this.#pending >= batch) this.#flush();
  }

  /**
   * Submits the current encoder (or a new one) with `extra` commands appended: first the variables of its launches
   * go to the arena (a queue write, so it lands after earlier submits and before this one), and its timestamps are
   * resolved into a staging buffer for takeTimes().
   */
  #submit(extra?: (enc: GPUCommandEncoder) => void): void {
    const enc = this.#encoder ?? this.#device.createCommandEncoder();
    this.#encoder = undefined;
    if (this.#argSlots)
      this.#device.queue.writeBuffer(this.#args, 0, this.#argWords.buffer, 0, this.#argSlots * slotBytes);
    if (this.#timedPairs) {
      const staging = this.#device.createBuffer({
        size: 16 * this.#timedPairs,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      enc.resolveQuerySet(this.#query!, 0, 2 * this.#timedPairs, this.#queryBuf!, 0);
      enc.copyBufferToBuffer(this.#queryBuf!, 0, staging, 0, 16 * this.#timedPairs);
      this.#timings.push({ staging, pairs: this.#timedPairs });
    }
    extra?.(enc);
    this.#device.queue.submit([enc.finish()]);
    this.#pending = this.#argSlots = this.#timedPairs = 0;
  }

  #flush(): void {
    if (this.#encoder) this.#submit();
  }

  async sync(): Promise<void> {
    this.#flush();
    await this.#device.queue.onSubmittedWorkDone();
    this.#check();
  }

  async takeTimes(): Promise<number[]> {
    this.#flush();
    const out: number[] = [];
    for (const { staging, pairs } of this.#timings.splice(0)) {
      await staging.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(staging.getMappedRange());
      for (let i = 0; i < pairs; i++) out.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
      staging.destroy();
    }
    return out;
  }

  /**
   * A captured step as one compute pass in one submit: bind groups made once and remade only for launches whose
   * buffers changed since the last run, the variables of every launch in one uniform buffer written per run.
   */
  graph(launches: readonly GraphLaunch[]): DeviceGraph {
    const progs = launches.map((l) => l.program as GpuProgram),
      grids = launches.map((l) => this.#grid(l.kernel));
    const slots = progs.map((p, i) => (p.vars ? progs.slice(0, i).filter((q) => q.vars).length : -1));
    const nslots = slots.filter((s) => s >= 0).length;
    const [args, argsGroup] = this.#varsArena(nslots);
    const words = new Uint32Array((Math.max(1, nslots) * slotBytes) / 4);
    const groups = new Array<GPUBindGroup | undefined>(launches.length);
    const users = new Map<number, number[]>();
    launches.forEach((l, li) => l.bufs.forEach((t) => users.set(t, [...new Set([...(users.get(t) ?? []), li])])));
    // what each entry was bound to: a new output from the pool is often the GPU buffer of an earlier one
    const bound: { gpu: GPUBuffer; bytes: number }[] = [];
    const checks = progs.some((p) => p.checks);
    return {
      run: (bufs, table) => {
        this.#check();
        for (const [t, list] of users) {
          const b = bufs[t] as GpuBuffer,
            was = bound[t];
          if (was && was.gpu === b.gpu && was.bytes === b.bytes) continue;
          bound[t] = { gpu: b.gpu, bytes: b.bytes };
          for (const li of list) groups[li] = undefined;
        }
        for (let li = 0; li < launches.length; li++) {
          const l = launches[li]!;
          groups[li] ??= this.#bindGroup(
            progs[li]!,
            l.bufs.map((t) => bufs[t]!),
          );
          if (slots[li]! >= 0)
            packVars(
              words,
              (slots[li]! * slotBytes) / 4,
              l.kernel.vars!,
              l.vals.map((v) => table[v]!),
            );
        }
        this.#flush(); // what was launched before runs first
        if (nslots) this.#device.queue.writeBuffer(args, 0, words.buffer, 0, nslots * slotBytes);
        const enc = this.#device.createCommandEncoder(),
          pass = enc.beginComputePass();
        for (let li = 0; li < launches.length; li++) {
          pass.setPipeline(progs[li]!.pipeline);
          pass.setBindGroup(0, groups[li]!);
          if (slots[li]! >= 0) pass.setBindGroup(1, argsGroup, [slots[li]! * slotBytes]);
          pass.dispatchWorkgroups(...grids[li]!);
        }
        pass.end();
        this.#device.queue.submit([enc.finish()]);
        this.#checks.launched(checks);
      },
      dispose: () => {
        args.destroy();
      },
    };
  }

  destroy(): void {
    this.#device.destroy();
  }
}
