// The WebGPU device: Dawn (the `webgpu` package) in Node, navigator.gpu in browsers. Buffers come from a
// pool by size class; pipelines are cached by WGSL source (in-flight compiles shared); launches are
// recorded into one command encoder and submitted on sync or read; timestamps give device time.
import type { DType } from '../codegen/dtype.js';
import { type Kernel, workgroups } from '../codegen/kernel.js';
import { checkError, statusName } from '../codegen/checks.js';
import { wgslFor } from '../codegen/wgsl.js';
import type { Backend, Caps, DeviceBuffer, Program } from './backend.js';

class GpuBuffer implements DeviceBuffer {
  constructor(readonly gpu: GPUBuffer, readonly bytes: number) {}
}
/** `checks`: the kernel binds the status word of its index checks after its params. */
interface GpuProgram extends Program { readonly pipeline: GPUComputePipeline; readonly checks: boolean }

/** Dawn crashes the process if the object create() returned is collected while its device lives. */
const keepAlive: unknown[] = [];

async function navigatorGpu(): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) return undefined;
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env;
  env.NODEVICE_SELECT ??= '1';   // Mesa's device-select layer only adds noise here
  const spec = 'webgpu';
  const m = (await import(/* @vite-ignore */ spec)) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, m.globals);
  const gpu = m.create([]);
  keepAlive.push(gpu);
  return gpu;
}

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
  readonly #pipelines = new Map<string, Promise<GpuProgram>>();
  readonly #pool = new Map<number, GPUBuffer[]>();
  #encoder: GPUCommandEncoder | undefined;
  #pending = 0;
  #lost: string | undefined;
  #error: GPUError | undefined;
  readonly #query: GPUQuerySet | undefined;
  readonly #queryBuf: GPUBuffer | undefined;
  #timed = false;
  /** Index-check status (code, value), read back with the next read after a checked kernel ran. */
  readonly #status: GPUBuffer;
  #checksPending = false;

  private constructor(device: GPUDevice, info: GPUAdapterInfo, opts: WebGpuOptions) {
    this.#device = device;
    this.name = opts.name ?? 'webgpu';
    const l = device.limits, f16 = device.features.has('shader-f16');
    const timer = device.features.has('timestamp-query');
    const wg = Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
    this.caps = {
      dtypes: new Set<DType>(['f32', 'i32', 'u32', 'bool', ...(f16 ? ['f16' as const] : [])]),
      maxBuffers: opts.limits?.maxBuffers ?? l.maxStorageBuffersPerShaderStage,
      maxBufferBytes: opts.limits?.maxBufferBytes ?? Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize),
      globalsAsLoops: false,
      timer: timer ? 'device' : 'host',
      storage: { bool: 'u32' },
      workgroupSize: wg,
      maxGrid: opts.limits?.maxGrid ?? l.maxComputeWorkgroupsPerDimension,
      // WebGPU does not say how wide a GPU is; a software (CPU) adapter runs a few workgroups at a time
      threads: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ? 2048 : 65536,
    };
    this.language = wgslFor(wg);
    this.description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
    if (timer) {
      this.#query = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.#queryBuf = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    }
    this.#status = device.createBuffer({ size: 8, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    void device.lost.then((i) => { this.#lost = `${i.reason}: ${i.message}`; });
    device.onuncapturederror = (e) => { this.#error ??= e.error; };
  }

  /** The adapter's device with its own limits and features, or undefined where there is no adapter. */
  static async create(opts: WebGpuOptions = {}): Promise<WebGpuBackend | undefined> {
    const gpu = await navigatorGpu();
    const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return undefined;
    const want = ['shader-f16', 'timestamp-query'].filter((f) => adapter.features.has(f)) as GPUFeatureName[];
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: want,
      requiredLimits: {
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize, maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      },
    });
    keepAlive.push(adapter);
    return new WebGpuBackend(device, adapter.info, opts);
  }

  #check(): void {
    if (this.#lost) throw new Error(`webgpu: device lost (${this.#lost})`);
    if (this.#error) { const e = this.#error; this.#error = undefined; throw new Error(`webgpu: ${e.message}`); }
  }

  alloc(bytes: number): DeviceBuffer {
    this.#check();
    const size = 2 ** Math.ceil(Math.log2(Math.max(bytes, 16)));   // size classes keep the pool reusable
    const gpu = this.#pool.get(size)?.pop() ??
      this.#device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    return new GpuBuffer(gpu, bytes);
  }
  free(b: DeviceBuffer): void {
    const g = (b as GpuBuffer).gpu;
    const list = this.#pool.get(g.size) ?? [];
    if (list.length < 16) { list.push(g); this.#pool.set(g.size, list); } else g.destroy();
  }
  write(b: DeviceBuffer, data: Uint8Array): void {
    this.#flush();
    const padded = data.byteLength % 4 ? new Uint8Array(Math.ceil(data.byteLength / 4) * 4) : data;
    if (padded !== data) padded.set(data);
    this.#device.queue.writeBuffer((b as GpuBuffer).gpu, 0, padded.buffer as ArrayBuffer, padded.byteOffset, padded.byteLength);
  }
  async read(b: DeviceBuffer): Promise<Uint8Array> {
    const src = b as GpuBuffer, size = Math.ceil(src.bytes / 4) * 4, checks = this.#checksPending;
    // the status word rides along in the same staging buffer, after the data
    const staging = this.#device.createBuffer({ size: Math.max(size, 4) + (checks ? 8 : 0), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.#encoder ?? this.#device.createCommandEncoder();
    this.#encoder = undefined;
    enc.copyBufferToBuffer(src.gpu, 0, staging, 0, size);
    if (checks) enc.copyBufferToBuffer(this.#status, 0, staging, Math.max(size, 4), 8);
    this.#device.queue.submit([enc.finish()]);
    this.#pending = 0;
    this.#checksPending = false;
    await staging.mapAsync(GPUMapMode.READ);
    this.#check();
    const mapped = staging.getMappedRange();
    const out = new Uint8Array(mapped.slice(0, src.bytes));
    const [code, value] = checks ? new Uint32Array(mapped.slice(Math.max(size, 4), Math.max(size, 4) + 8)) : [0, 0];
    staging.destroy();
    if (code) {
      this.#device.queue.writeBuffer(this.#status, 0, new Uint32Array(2));
      throw checkError(code, value! | 0);
    }
    return out;
  }

  compile(kernel: Kernel, source: string): Promise<Program> {
    let p = this.#pipelines.get(source);
    if (!p) {
      p = this.#build(kernel, source);
      this.#pipelines.set(source, p);
      p.catch(() => this.#pipelines.delete(source));
    }
    return p;
  }

  async #build(kernel: Kernel, source: string): Promise<GpuProgram> {
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
      const numbered = source.split('\n').map((l, i) => `${String(i + 1).padStart(4)}| ${l}`).join('\n');
      throw new Error(`webgpu: ${kernel.name} failed to compile:\n${errors.map((e) => `  line ${e.lineNum}:${e.linePos}: ${e.message}`).join('\n')}\n${numbered}`);
    }
    const checks = source.includes(statusName);
    const layout = this.#device.createBindGroupLayout({
      entries: [...kernel.params.map((p) => p.write), ...(checks ? [true] : [])]
        .map((write, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: write ? 'storage' as const : 'read-only-storage' as const } })),
    });
    // the async pipeline call rejects on its own errors (GPUPipelineError)
    const pipeline = await this.#device.createComputePipelineAsync({
      layout: this.#device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    }).catch((e: Error) => { throw new Error(`webgpu: ${kernel.name}: ${e.message}`); });
    return { name: kernel.name, source, pipeline, checks };
  }

  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], timed = false): void {
    this.#check();
    const { pipeline, checks } = p as GpuProgram;
    const entries = bufs.map((b, i) => ({ binding: i, resource: { buffer: (b as GpuBuffer).gpu, size: Math.max(4, Math.ceil(b.bytes / 4) * 4) } }));
    if (checks) entries.push({ binding: bufs.length, resource: { buffer: this.#status, size: 8 } });
    this.#checksPending ||= checks;
    const bindGroup = this.#device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const groups = workgroups(kernel, this.caps.workgroupSize);
    const x = Math.min(groups, this.caps.maxGrid), y = Math.ceil(groups / x);
    if (y > this.caps.maxGrid) throw new Error(`webgpu: ${kernel.name} needs ${groups} workgroups, more than ${this.caps.maxGrid}² the device allows`);
    this.#encoder ??= this.#device.createCommandEncoder();
    const useTimer = timed && this.#query !== undefined;
    const pass = this.#encoder.beginComputePass(useTimer ? { timestampWrites: { querySet: this.#query!, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
    pass.end();
    if (useTimer) this.#encoder.resolveQuerySet(this.#query!, 0, 2, this.#queryBuf!, 0);
    this.#timed = useTimer;
    if (++this.#pending >= 64) this.#flush();
  }

  #flush(): void {
    if (!this.#encoder) return;
    this.#device.queue.submit([this.#encoder.finish()]);
    this.#encoder = undefined;
    this.#pending = 0;
  }

  async sync(): Promise<void> {
    this.#flush();
    await this.#device.queue.onSubmittedWorkDone();
    this.#check();
  }

  async lastTime(): Promise<number | undefined> {
    if (!this.#timed || !this.#queryBuf) return undefined;
    const staging = this.#device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.#device.createCommandEncoder();
    enc.copyBufferToBuffer(this.#queryBuf, 0, staging, 0, 16);
    this.#device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const [t0, t1] = new BigUint64Array(staging.getMappedRange());
    staging.destroy();
    return Number(t1! - t0!) / 1e6;
  }

  destroy(): void { this.#device.destroy(); }
}
