// The CUDA device through the driver API (koffi FFI to libcuda): NVRTC compiles to PTX when the library is
// found (CUDA_PATH, toolkit folders, Python's nvidia wheels), else `nvcc -ptx`; PTX is cached on disk by
// source hash, arch and compiler under $POLYGRAD_CACHE/cuda. One thread per output element, launched in order on the
// default stream; a captured step (jit) replays as one CUDA graph.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dtypes } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import { cudaFor, cudaTensorCores } from '../codegen/cuda.js';
import { cachePath } from '../runtime/cachefile.js';
import { envFlag } from '../runtime/debug.js';
import type { Language, Rendered } from '../codegen/render.js';
import type { Backend, Caps, DeviceBuffer, DeviceGraph, GraphLaunch, Program } from './backend.js';
import {
  BufferPool,
  StatusWord,
  compileError,
  launchDependencies,
  launchGrid,
  sameItems,
  statusBytes,
} from './common.js';

type Fn = (...args: unknown[]) => number;
interface Koffi {
  load(path: string): { func(sig: string): Fn };
  struct(name: string, fields: Record<string, string>): unknown;
}

/** `checks`: the kernel takes the index-check status word after its params. */
interface CudaProgram extends Program {
  readonly fn: unknown;
  readonly checks: boolean;
}
/** `size`: the bytes allocated (the pool's size class), at least `bytes`. */
class CudaBuffer implements DeviceBuffer {
  constructor(
    readonly ptr: bigint,
    readonly bytes: number,
    readonly size: number,
  ) {}
}

/** NVRTC's functions and the library they came from, where it was found (else nvcc compiles). */
interface Nvrtc {
  readonly name: string;
  readonly fns: Record<string, Fn>;
}

/** Threads per block the renderer and launches use where the device allows that many. */
const block = 256;

/** The first of `names` that loads, and which name that was. */
function tryLoad(koffi: Koffi, names: readonly string[]): { lib: ReturnType<Koffi['load']>; name: string } | undefined {
  for (const name of names) {
    try {
      return { lib: koffi.load(name), name };
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Folders that may hold CUDA libraries and headers: CUDA_PATH, the usual toolkit places, Python's nvidia wheels. */
function cudaDirs(): string[] {
  const dirs = [envFlag('CUDA_PATH'), envFlag('CUDA_HOME'), '/usr/local/cuda', '/opt/cuda'].filter(
    (d): d is string => !!d,
  );
  try {
    const site = execFileSync(
      'python3',
      ['-c', 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    for (const sub of ['cuda_nvrtc', 'cuda_runtime', 'cu13']) dirs.push(join(site, 'nvidia', sub));
  } catch {
    /* no python wheels */
  }
  return dirs;
}

export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly caps: Caps;
  readonly language: Language;
  readonly description: string;
  readonly #cu: Record<string, Fn>;
  readonly #nvrtc: Nvrtc | undefined;
  readonly #arch: string;
  readonly #include: string | undefined;
  /** Event pairs around the timed launches since the last takeTimes(), and spare events to reuse. */
  readonly #timed: [unknown, unknown][] = [];
  readonly #events: unknown[] = [];
  /** Index-check status (code, value), read back with the next read after a checked kernel ran. */
  readonly #status: CudaBuffer;
  readonly #checks = new StatusWord();
  /** Replays a captured step as one CUDA graph, where the driver has graphs (jit replays launch by launch else). */
  readonly graph?: (launches: readonly GraphLaunch[]) => DeviceGraph;
  readonly #pool = new BufferPool<CudaBuffer>((b) => this.#check(this.#cu.cuMemFree_v2!(b.ptr), 'cuMemFree'));

  private constructor(cu: Record<string, Fn>, nvrtc: Nvrtc | undefined, dev: number, name: string) {
    this.#cu = cu;
    this.#nvrtc = nvrtc;
    if (cu.cuGraphLaunch) this.graph = (launches) => this.#graph(launches);
    const attr = (a: number): number => {
      const out = [0];
      this.#check(cu.cuDeviceGetAttribute!(out, a, dev), 'cuDeviceGetAttribute');
      return out[0]!;
    };
    const [major, minor] = [attr(75), attr(76)];
    this.#arch = `sm_${major}${minor}`;
    this.#include = cudaDirs()
      .map((d) => join(d, 'include'))
      .find((d) => existsSync(join(d, 'cuda_fp16.h')));
    this.caps = {
      dtypes: new Set(dtypes),
      maxBuffers: 64,
      statusBinding: true,
      maxBufferBytes: 2 ** 31 - 1,
      globalsAsLoops: false,
      timer: 'device',
      storage: {},
      workgroupSize: Math.min(block, attr(1)),
      maxGrid: Math.min(attr(5), attr(6)),
      threads: attr(16) * attr(39), // SMs × resident threads per SM
      sharedBytes: attr(8), // static shared memory per block
      tensorCores: cudaTensorCores(major, minor),
    };
    this.language = cudaFor(this.caps.workgroupSize, this.caps.tensorCores);
    const shared = `${attr(97) >> 10} KiB shared/block opt-in`;
    this.description = `${name} (${this.#arch}, ${attr(16)} SMs, ${shared}, warp ${attr(10)})`;
    this.#status = this.alloc(statusBytes) as CudaBuffer;
    this.write(this.#status, new Uint8Array(statusBytes));
  }

  /**
   * The first CUDA device, through the driver library `driver` (default: libcuda.so.1 where the loader finds it)
   * and NVRTC from `nvrtc` (default: searched for; else nvcc compiles); throws a clear reason when there is none.
   */
  static async create({ driver, nvrtc: nvrtcPath }: { driver?: string; nvrtc?: string } = {}): Promise<CudaBackend> {
    const koffi = ((await import('koffi')) as { default: Koffi }).default;
    const lib = tryLoad(koffi, driver ? [driver] : ['libcuda.so.1', 'libcuda.so'])?.lib;
    if (!lib) throw new Error(`CUDA not available: ${driver ?? 'libcuda.so.1'} not found`);
    // the driver's CUDA_KERNEL_NODE_PARAMS (v1: every driver since CUDA 10 has it); koffi's type names are per
    // process, and a second copy of this module (dist/ beside the sources) finds it declared already
    try {
      koffi.struct('CUDA_KERNEL_NODE_PARAMS_v1', {
        func: 'void *',
        gridDimX: 'unsigned int',
        gridDimY: 'unsigned int',
        gridDimZ: 'unsigned int',
        blockDimX: 'unsigned int',
        blockDimY: 'unsigned int',
        blockDimZ: 'unsigned int',
        sharedMemBytes: 'unsigned int',
        kernelParams: 'void **',
        extra: 'void **',
      });
    } catch (e) {
      if (!/duplicate/i.test(String(e))) throw e;
    }
    const sigs = [
      'int cuInit(unsigned int flags)',
      'int cuDeviceGet(_Out_ int *dev, int ordinal)',
      'int cuDeviceGetCount(_Out_ int *count)',
      'int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)',
      'int cuDeviceGetAttribute(_Out_ int *v, int attr, int dev)',
      'int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)',
      'int cuCtxSetCurrent(void *ctx)',
      'int cuCtxSynchronize()',
      'int cuMemAlloc_v2(_Out_ uint64_t *ptr, size_t bytes)',
      'int cuMemFree_v2(uint64_t ptr)',
      'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
      'int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)',
      'int cuModuleLoadData(_Out_ void **mod, const char *image)',
      'int cuModuleGetFunction(_Out_ void **fn, void *mod, const char *name)',
      'int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, ' +
        'unsigned int by, unsigned int bz, unsigned int shmem, void *stream, void **params, void **extra)',
      'int cuEventCreate(_Out_ void **ev, unsigned int flags)',
      'int cuEventRecord(void *ev, void *stream)',
      'int cuEventSynchronize(void *ev)',
      'int cuEventElapsedTime(_Out_ float *ms, void *start, void *end)',
      'int cuGetErrorString(int err, _Out_ const char **str)',
    ];
    // CUDA graphs (cuGraphInstantiateWithFlags: drivers since 11.4); without them jit replays launch by launch
    const graphSigs = [
      'int cuGraphCreate(_Out_ void **graph, unsigned int flags)',
      'int cuGraphAddKernelNode(_Out_ void **node, void *graph, void **deps, size_t n, ' +
        'const CUDA_KERNEL_NODE_PARAMS_v1 *params)',
      'int cuGraphInstantiateWithFlags(_Out_ void **exec, void *graph, unsigned long long flags)',
      'int cuGraphExecKernelNodeSetParams(void *exec, void *node, const CUDA_KERNEL_NODE_PARAMS_v1 *params)',
      'int cuGraphLaunch(void *exec, void *stream)',
      'int cuGraphExecDestroy(void *exec)',
      'int cuGraphDestroy(void *graph)',
    ];
    const named = (list: readonly string[]) => list.map((s) => [/ (\w+)\(/.exec(s)![1]!, lib.func(s)] as const);
    let graphs: (readonly [string, Fn])[] = [];
    try {
      graphs = named(graphSigs);
    } catch {
      /* an older driver */
    }
    const cu = Object.fromEntries([...named(sigs), ...graphs]);
    // Python's nvidia wheels ship only the versioned name (nvidia/cuda_nvrtc/lib/libnvrtc.so.12)
    const names = ['libnvrtc.so', 'libnvrtc.so.13', 'libnvrtc.so.12'];
    const nvLib = tryLoad(
      koffi,
      nvrtcPath
        ? [nvrtcPath]
        : [...names, ...cudaDirs().flatMap((d) => ['lib64', 'lib'].flatMap((l) => names.map((n) => join(d, l, n))))],
    );
    if (nvrtcPath && !nvLib) throw new Error(`CUDA not available: NVRTC ${nvrtcPath} not found`);
    const nvrtc = nvLib && {
      name: nvLib.name,
      fns: Object.fromEntries(
        [
          'int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int n, const char ' +
            '**headers, const char **names)',
          'int nvrtcCompileProgram(void *prog, int n, const char **options)',
          'int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)',
          'int nvrtcGetProgramLog(void *prog, _Out_ uint8_t *log)',
          'int nvrtcGetPTXSize(void *prog, _Out_ size_t *size)',
          'int nvrtcGetPTX(void *prog, _Out_ uint8_t *ptx)',
          'int nvrtcDestroyProgram(_Inout_ void **prog)',
        ].map((s) => [/ (\w+)\(/.exec(s)![1]!, nvLib.lib.func(s)]),
      ),
    };
    const check = (r: number, what: string) => {
      if (r !== 0) throw new Error(`CUDA not available: ${what} returned ${r}`);
    };
    check(cu.cuInit!(0), 'cuInit');
    const count = [0];
    check(cu.cuDeviceGetCount!(count), 'cuDeviceGetCount');
    if (!count[0]) throw new Error('CUDA not available: no CUDA devices');
    const dev = [0],
      ctx = [null];
    check(cu.cuDeviceGet!(dev, 0), 'cuDeviceGet');
    check(cu.cuDevicePrimaryCtxRetain!(ctx, dev[0]), 'cuDevicePrimaryCtxRetain');
    check(cu.cuCtxSetCurrent!(ctx[0]), 'cuCtxSetCurrent');
    const name = new Uint8Array(256);
    check(cu.cuDeviceGetName!(name, 256, dev[0]), 'cuDeviceGetName');
    return new CudaBackend(cu, nvrtc, dev[0]!, new TextDecoder().decode(name.subarray(0, name.indexOf(0))));
  }

  #check(r: number, what: string): void {
    if (r === 0) return;
    const msg: (string | null)[] = [null];
    this.#cu.cuGetErrorString?.(r, msg);
    throw new Error(`cuda: ${what} failed: ${msg[0] ?? `error ${r}`}`);
  }

  alloc(bytes: number): DeviceBuffer {
    const size = BufferPool.sizeOf(bytes),
      pooled = this.#pool.take(size);
    if (pooled) return new CudaBuffer(pooled.ptr, bytes, size);
    const p: (number | bigint)[] = [0];
    let r = this.#cu.cuMemAlloc_v2!(p, size);
    if (r !== 0 && this.#pool.drain()) r = this.#cu.cuMemAlloc_v2!(p, size); // the pool's spares may be in the way
    this.#check(r, `cuMemAlloc(${size})`);
    return new CudaBuffer(BigInt(p[0]!), bytes, size); // koffi hands 64-bit values back as numbers when they fit
  }
  free(b: DeviceBuffer): void {
    const c = b as CudaBuffer;
    this.#pool.give(c.size, c);
  }
  write(b: DeviceBuffer, data: Uint8Array, offset = 0): void {
    this.#check(
      this.#cu.cuMemcpyHtoD_v2!((b as CudaBuffer).ptr + BigInt(offset), data, data.byteLength),
      'cuMemcpyHtoD',
    );
  }
  async read(b: DeviceBuffer): Promise<Uint8Array> {
    const out = new Uint8Array(b.bytes);
    this.#check(this.#cu.cuMemcpyDtoH_v2!(out, (b as CudaBuffer).ptr, b.bytes), 'cuMemcpyDtoH');
    if (this.#checks.take()) {
      const status = new Uint32Array(2);
      this.#check(this.#cu.cuMemcpyDtoH_v2!(status, this.#status.ptr, statusBytes), 'cuMemcpyDtoH');
      const failed = StatusWord.error(status);
      if (failed) {
        this.write(this.#status, new Uint8Array(statusBytes));
        throw failed;
      }
    }
    return out;
  }

  async compile(kernel: Kernel, { source, checks }: Rendered): Promise<Program> {
    const file = await this.#cacheFile(source),
      entry = kernel.custom?.name ?? kernel.name;
    const load = (ptx: string): { r: number; fn: unknown } => {
      const mod = [null],
        fn = [null];
      const r = this.#cu.cuModuleLoadData!(mod, ptx);
      return { r: r || this.#cu.cuModuleGetFunction!(fn, mod[0], entry), fn: fn[0] };
    };
    let got = existsSync(file) ? load(readFileSync(file, 'utf8')) : undefined;
    if (got?.r)
      console.warn(`polygrad: recompiling ${kernel.name}: the driver refused the cached PTX ${file} (${got.r})`);
    if (!got || got.r) {
      const ptx = this.#nvrtc ? this.#viaNvrtc(kernel, source) : this.#viaNvcc(kernel, source);
      got = load(ptx);
      this.#check(got.r, `${kernel.name}: loading its PTX`);
      // cached once the driver took it, through a rename so a concurrent reader never sees half a file
      mkdirSync(dirname(file), { recursive: true });
      const part = `${file}.${process.pid}`;
      writeFileSync(part, ptx);
      renameSync(part, file);
    }
    const prog: CudaProgram = { name: kernel.name, source, fn: got.fn, checks };
    return prog;
  }

  /**
   * Where the PTX of `source` is cached, keyed by the arch and the compiler too: PTX of another toolkit (or of the
   * test emulator's stand-in) is not this one's. A cached file the driver refuses (a newer PTX version than the
   * driver reads, a truncated file) is compiled again.
   */
  async #cacheFile(source: string): Promise<string> {
    const key = `${this.#arch}\n${this.#nvrtc ? `nvrtc ${this.#nvrtc.name}` : 'nvcc'}\n${source}`;
    return join((await cachePath('cuda'))!, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.ptx`);
  }

  #viaNvrtc(kernel: Kernel, source: string): string {
    const nv = this.#nvrtc!.fns,
      prog = [null];
    nv.nvrtcCreateProgram!(prog, source, `${kernel.name}.cu`, 0, null, null);
    const opts = [
      `--gpu-architecture=compute_${this.#arch.slice(3)}`,
      ...(this.#include ? [`-I${this.#include}`] : []),
    ];
    const r = nv.nvrtcCompileProgram!(prog[0], opts.length, opts);
    const size = [0];
    if (r !== 0) {
      nv.nvrtcGetProgramLogSize!(prog[0], size);
      const log = new Uint8Array(size[0]!);
      nv.nvrtcGetProgramLog!(prog[0], log);
      nv.nvrtcDestroyProgram!(prog);
      throw compileError('cuda', kernel, ' (NVRTC)', new TextDecoder().decode(log), source);
    }
    nv.nvrtcGetPTXSize!(prog[0], size);
    const ptx = new Uint8Array(size[0]!);
    nv.nvrtcGetPTX!(prog[0], ptx);
    nv.nvrtcDestroyProgram!(prog);
    return new TextDecoder().decode(ptx.subarray(0, ptx.indexOf(0) < 0 ? ptx.length : ptx.indexOf(0)));
  }

  #viaNvcc(kernel: Kernel, source: string): string {
    const base = join(tmpdir(), `polygrad-${process.pid}-${kernel.name}`);
    writeFileSync(`${base}.cu`, source);
    try {
      execFileSync('nvcc', ['-ptx', `-arch=${this.#arch}`, '-o', `${base}.ptx`, `${base}.cu`], { stdio: 'pipe' });
    } catch (e) {
      throw compileError('cuda', kernel, ' (nvcc)', (e as { stderr?: Buffer }).stderr?.toString() ?? String(e), source);
    }
    return readFileSync(`${base}.ptx`, 'utf8');
  }

  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], vals: readonly number[], timed = false): void {
    const { fn, checks } = p as CudaProgram;
    const [x, y, z, threads] = this.#geometry(kernel);
    this.#checks.launched(checks);
    const pair = timed ? ([this.#event(), this.#event()] as [unknown, unknown]) : undefined;
    if (pair) this.#check(this.#cu.cuEventRecord!(pair[0], null), 'cuEventRecord');
    this.#check(
      this.#cu.cuLaunchKernel!(fn, x, y, z, threads, 1, 1, 0, null, this.#params(p, kernel, bufs, vals), null),
      `${kernel.name}: cuLaunchKernel`,
    );
    if (pair) {
      this.#check(this.#cu.cuEventRecord!(pair[1], null), 'cuEventRecord');
      this.#timed.push(pair);
    }
  }

  /** Blocks per grid dimension and threads per block (a source kernel brings its own block). */
  #geometry(kernel: Kernel): [number, number, number, number] {
    const [x, y, z] = launchGrid('cuda', kernel, this.caps.workgroupSize, this.caps.maxGrid);
    return [x, y, z, kernel.custom?.block ?? this.caps.workgroupSize];
  }

  /** The kernel's parameters in its signature's order: buffers, variables by value, the status word. */
  #params(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], vals: readonly number[]): ArrayBufferView[] {
    const params: ArrayBufferView[] = bufs.map((b) => new BigUint64Array([(b as CudaBuffer).ptr]));
    (kernel.vars ?? []).forEach((d, i) =>
      params.push(
        d === 'f32'
          ? new Float32Array([vals[i]!])
          : d === 'i32'
            ? new Int32Array([vals[i]!])
            : new Uint32Array([vals[i]!]),
      ),
    );
    if ((p as CudaProgram).checks) params.push(new BigUint64Array([this.#status.ptr]));
    return params;
  }

  /**
   * A captured step as one CUDA graph: a kernel node per launch that waits only for the earlier launches it must
   * follow (launchDependencies), so independent kernels may overlap. The graph is built and instantiated on the
   * first run, from that run's buffers and values; a later run updates the parameters of the nodes whose buffers or
   * values changed (cuGraphExecKernelNodeSetParams) and launches the graph: one driver call for the whole step.
   */
  #graph(launches: readonly GraphLaunch[]): DeviceGraph {
    const cu = this.#cu,
      deps = launchDependencies(launches),
      checks = launches.some((l) => (l.program as CudaProgram).checks);
    const nodes: unknown[] = [],
      bound: bigint[][] = [],
      values: number[][] = [];
    let graph: unknown, exec: unknown;
    const nodeParams = (l: GraphLaunch, bufs: readonly DeviceBuffer[], vals: readonly number[]) => {
      const [gridDimX, gridDimY, gridDimZ, blockDimX] = this.#geometry(l.kernel);
      return {
        func: (l.program as CudaProgram).fn,
        gridDimX,
        gridDimY,
        gridDimZ,
        blockDimX,
        blockDimY: 1,
        blockDimZ: 1,
        sharedMemBytes: 0,
        kernelParams: this.#params(l.program, l.kernel, bufs, vals),
        extra: null,
      };
    };
    const build = (table: readonly DeviceBuffer[], varTable: readonly number[]): void => {
      const g = [null];
      this.#check(cu.cuGraphCreate!(g, 0), 'cuGraphCreate');
      graph = g[0];
      launches.forEach((l, i) => {
        const node = [null],
          after = deps[i]!.map((d) => nodes[d]);
        const bufs = l.bufs.map((t) => table[t]!),
          vals = l.vals.map((v) => varTable[v]!);
        this.#check(
          cu.cuGraphAddKernelNode!(node, graph, after, after.length, nodeParams(l, bufs, vals)),
          `${l.kernel.name}: cuGraphAddKernelNode`,
        );
        nodes.push(node[0]);
        bound[i] = bufs.map((b) => (b as CudaBuffer).ptr);
        values[i] = vals;
      });
      const e = [null];
      this.#check(cu.cuGraphInstantiateWithFlags!(e, graph, 0), 'cuGraphInstantiate');
      exec = e[0];
    };
    const update = (table: readonly DeviceBuffer[], varTable: readonly number[]): void =>
      launches.forEach((l, i) => {
        const bufs = l.bufs.map((t) => table[t]!),
          vals = l.vals.map((v) => varTable[v]!),
          ptrs = bufs.map((b) => (b as CudaBuffer).ptr);
        if (sameItems(ptrs, bound[i]!) && sameItems(vals, values[i]!)) return;
        this.#check(
          cu.cuGraphExecKernelNodeSetParams!(exec, nodes[i], nodeParams(l, bufs, vals)),
          `${l.kernel.name}: cuGraphExecKernelNodeSetParams`,
        );
        bound[i] = ptrs;
        values[i] = vals;
      });
    const dispose = (): void => {
      const [e, g] = [exec, graph];
      exec = graph = undefined;
      nodes.length = 0;
      try {
        if (e) this.#check(cu.cuGraphExecDestroy!(e), 'cuGraphExecDestroy');
      } finally {
        if (g) this.#check(cu.cuGraphDestroy!(g), 'cuGraphDestroy');
      }
    };
    return {
      run: (table, varTable) => {
        if (exec) update(table, varTable);
        else
          try {
            build(table, varTable);
          } catch (e) {
            try {
              dispose(); // a half-built graph is dropped: the next run builds it again
            } catch {
              /* the build's error is the one to report */
            }
            throw e;
          }
        this.#check(cu.cuGraphLaunch!(exec, null), 'cuGraphLaunch');
        this.#checks.launched(checks);
      },
      dispose,
    };
  }

  #event(): unknown {
    if (this.#events.length) return this.#events.pop();
    const ev = [null];
    this.#check(this.#cu.cuEventCreate!(ev, 0), 'cuEventCreate');
    return ev[0];
  }

  async sync(): Promise<void> {
    this.#check(this.#cu.cuCtxSynchronize!(), 'cuCtxSynchronize');
  }

  async takeTimes(): Promise<number[]> {
    const pairs = this.#timed.splice(0);
    if (!pairs.length) return [];
    this.#check(this.#cu.cuEventSynchronize!(pairs[pairs.length - 1]![1]), 'cuEventSynchronize');
    return pairs.map(([a, b]) => {
      const ms = [0];
      this.#check(this.#cu.cuEventElapsedTime!(ms, a, b), 'cuEventElapsedTime');
      this.#events.push(a, b);
      return ms[0]!;
    });
  }
}
