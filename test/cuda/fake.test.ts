// The CUDA backend's driver calls, checked without a GPU: the backend runs against a stand-in libcuda
// (fake/libcuda.c, built here with the C compiler) whose memory is host memory and which logs every launch, graph
// node, parameter update and graph launch with the parameter bytes it was handed. No kernel runs there, so these
// tests check what reaches the driver — memory copies, kernel parameters, a jit replay as one CUDA graph whose
// launches are the ones launch-by-launch replay makes — and test/cuda/run.test.ts checks results on a real GPU.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { describe, expect, test, vi } from 'vitest';
import { type Tensor, jit, profile, registerDevice, tensor, variable } from '../../index.js';
import { CudaBackend } from '../../backends/cuda.js';
import { checkCode } from '../../codegen/checks.js';
import { nvccAvailable } from './nvcc.js';
import { standIn } from './stand-in.js';

const hasNvcc = nvccAvailable();
const built = hasNvcc ? standIn() : 'nvcc not found (kernels compile to PTX with it)';
if (typeof built === 'string') console.warn(`stand-in CUDA driver tests skipped: ${built}`);
const libs = typeof built === 'string' ? undefined : { driver: built.driver, nvrtc: built.nvrtc };
// a cache of its own, so every kernel here goes through NVRTC
const cache = mkdtempSync(join(tmpdir(), 'polygrad-fakecuda-cache-'));
process.env.POLYGRAD_CACHE = cache;

const backend = libs && (await CudaBackend.create(libs));
if (backend) registerDevice(backend);
const fake = libs && koffi.load(libs.driver);
const fakeLog = fake?.func('const char *fake_log()'),
  fakeClear = fake?.func('void fake_clear()'),
  fakePoke = fake?.func('void fake_poke(uint64_t addr, uint32_t code, uint32_t value)');

describe.skipIf(!backend)('the CUDA backend on a stand-in driver', () => {
  /** The driver's log since the last call. */
  const take = (): string[] => {
    const lines = (fakeLog!() as string).split('\n').filter(Boolean);
    fakeClear!();
    return lines;
  };
  const launches = (lines: readonly string[]) => lines.filter((l) => l.startsWith('launch '));
  /**
   * Launch lines with each 8-byte parameter (a buffer's address) renamed by order of first appearance: two
   * replays over different buffers compare equal where they launch the same kernels over the same aliasing.
   */
  const canonical = (lines: readonly string[]): string[] => {
    const names = new Map<string, string>();
    return launches(lines).map((l) =>
      l.replace(/params (.*)$/, (_, ps: string) =>
        ps
          .split(',')
          .map((p) => (p.length === 16 ? (names.get(p) ?? names.set(p, `buf${names.size}`).get(p)!) : p))
          .join(','),
      ),
    );
  };
  const hexOf = (view: ArrayBufferView): string =>
    Array.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
  const cuda = { device: 'cuda' } as const;
  const seeded = (n: number, seed: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.31 + i * 1.7) * 2);

  test("NVRTC compiles the kernels; a failed compile reports the compiler's log with the numbered source", async () => {
    take();
    const t = tensor(seeded(64, 9), cuda).exp().sum();
    await t.realize();
    expect(take().filter((l) => l.startsWith('module '))).toEqual(['module 1 entries']);
    const kernel = { name: 'broken', shape: [1], params: [], stores: [] };
    await expect(
      backend!.compile(kernel, { source: 'extern "C" __global__ void broken() { undeclared(); }', checks: false }),
    ).rejects.toThrow(/cuda: broken failed to compile \(NVRTC\):\n.*undeclared.*\n(.|\n)*1\| extern "C"/);
  });

  test('a cached PTX the driver refuses is compiled again, with a warning', async () => {
    const kernel = { name: 'one', shape: [1], params: [], stores: [] },
      rendered = { source: 'extern "C" __global__ void one(float* d0) { d0[0] = 1.0f; }', checks: false };
    await backend!.compile(kernel, rendered);
    const dir = join(cache, 'cuda');
    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), 'not PTX');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    take();
    await backend!.compile(kernel, rendered);
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/^polygrad: recompiling one: the driver refused the cached PTX .*\.ptx \(200\)$/),
    ]);
    warn.mockRestore();
    expect(take().filter((l) => l.startsWith('module '))).toEqual(['module 1 entries']);
  });

  test('host data round-trips through device memory, at an offset too', async () => {
    const b = backend!.alloc(4096),
      bytes = new Uint8Array(Float32Array.from(seeded(1024, 1)).buffer);
    backend!.write(b, bytes);
    backend!.write(b, bytes.subarray(0, 16), 4000);
    const back = await backend!.read(b);
    expect(back.subarray(0, 4000)).toEqual(bytes.subarray(0, 4000));
    expect(back.subarray(4000, 4016)).toEqual(bytes.subarray(0, 16));
    backend!.free(b);
    const t = tensor(seeded(300, 2), { shape: [3, 100], ...cuda });
    expect(await t.data()).toEqual(seeded(300, 2));
  });

  /** The one kernel launch of realizing t: its name, geometry and parameters (hex, 8 bytes for an address). */
  const launchOf = async (t: Tensor) => {
    take();
    await t.realize();
    const lines = launches(take());
    expect(lines).toHaveLength(1);
    const m = /^launch (\w+) grid (\d+) (\d+) 1 block (\d+) 1 1 shmem 0 params (.*)$/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    return { threads: Number(m![2]) * Number(m![3]) * Number(m![4]), params: m![5]!.split(',') };
  };

  test('a launch hands the driver its buffers and its variables by value, on a grid covering the output', async () => {
    const x = tensor(seeded(5000, 3), cuda);
    const { threads, params } = await launchOf(x.mul(variable(2.5, cuda)).add(variable(-3, { ...cuda, dtype: 'i32' })));
    // the output and x, then 2.5 as f32 and -3 as i32 (the kernel casts it): no index check, no status word
    expect(params.map((p) => p.length)).toEqual([16, 16, 8, 8]);
    expect(params[0]).not.toBe(params[1]);
    expect(params.slice(2)).toEqual([hexOf(new Float32Array([2.5])), hexOf(new Int32Array([-3]))]);
    expect(threads).toBeGreaterThanOrEqual(5000);
  });

  test("a failed index check in the status word is raised at the next read, in the CPU backend's words", async () => {
    const idx = [0, 3, 12, 1];
    let cpuError = '';
    try {
      await tensor(seeded(10, 8))
        .gather(0, tensor(idx, { dtype: 'i32' }))
        .data();
    } catch (e) {
      cpuError = (e as Error).message;
    }
    const m = /^(.*): index 12 is out of range \[(-?\d+), (-?\d+)\]$/.exec(cpuError);
    expect(m, cpuError).not.toBeNull();
    const g = tensor(seeded(10, 8), cuda).gather(0, tensor(idx, { ...cuda, dtype: 'i32' }));
    const { params } = await launchOf(g);
    // out, x, index, then the status word's address: write what the kernel's check would have written there
    expect(params.map((p) => p.length)).toEqual([16, 16, 16, 16]);
    const status = new DataView(Uint8Array.from(params[3]!.match(/../g)!, (h) => Number.parseInt(h, 16)).buffer);
    fakePoke!(status.getBigUint64(0, true), checkCode(m![1]!, Number(m![2]), Number(m![3])), 12);
    await expect(g.data()).rejects.toThrow(cpuError);
    expect(
      (
        await tensor(seeded(10, 8), cuda)
          .gather(0, tensor([1, 2], { ...cuda, dtype: 'i32' }))
          .data()
      ).length,
    ).toBe(2); // the word was cleared
  });

  test('jit replays a step as one CUDA graph whose launches are those of launch-by-launch replay', async () => {
    const w = tensor(seeded(16 * 32, 4), { shape: [16, 32], ...cuda }),
      b = tensor(seeded(16, 5), cuda);
    const f = jit((x: Tensor, s: Tensor) => x.linear(w, b).relu().mul(s).softmax(-1));
    const x = tensor(seeded(4 * 32, 6), { shape: [4, 32], ...cuda });
    for (let i = 0; i < 2; i++) (await f(x, variable(i, cuda))).dispose();
    take();
    const outs: Tensor[] = [await f(x, variable(0.5, cuda))];
    const first = take();
    const n = f.stats.launches;
    expect(n).toBe(3);
    // built from this replay's buffers, instantiated, launched: the only launches are the graph's own
    expect(first.filter((l) => l.startsWith('node '))).toHaveLength(n);
    expect(first).toContain(`instantiate ${n} nodes`);
    expect(first.slice(first.indexOf(`graph launch ${n} nodes`) + 1)).toHaveLength(n);
    expect(launches(first.slice(0, first.indexOf(`graph launch ${n} nodes`)))).toEqual([]);
    // each kernel waits for the one whose output it reads: a chain here
    expect(first.filter((l) => l.startsWith('node '))).toEqual(['node 0 after', 'node 1 after 0', 'node 2 after 0 1']);

    // a new variable value and a new input: only the nodes whose parameters changed are updated
    const y = tensor(seeded(4 * 32, 7), { shape: [4, 32], ...cuda });
    let prev = launches(first.slice(first.indexOf(`graph launch ${n} nodes`)));
    for (const [arg, s, what] of [
      [x, 0.5, 'a new output'],
      [x, 1.5, 'a new output and value'],
      [y, 1.5, 'a new output and input'],
    ] as const) {
      outs.push(await f(arg, variable(s, cuda)));
      const lines = take();
      expect(
        lines.filter((l) => l.startsWith('node ') || l.startsWith('instantiate')),
        what,
      ).toEqual([]);
      expect(
        lines.filter((l) => l.startsWith('graph launch')),
        what,
      ).toHaveLength(1);
      const updated = lines.filter((l) => l.startsWith('update node ')).map((l) => Number(l.split(' ')[2]));
      const now = launches(lines),
        changed = now.flatMap((l, i) => (l !== prev[i] ? [i] : []));
      expect(updated, what).toEqual(changed);
      // the matmul reads the input, softmax's reduce and normalize the value, the normalize writes the output
      expect(changed, what).toEqual(
        ({ 'a new output': [2], 'a new output and value': [1, 2] } as Record<string, number[]>)[what] ?? [0, 2],
      );
      prev = now;
    }
    // the same capture replayed launch by launch (profiling times each launch) hands the driver the same launches
    take();
    const { result } = await profile(() => f(y, variable(1.5, cuda)));
    outs.push(result);
    const timed = take();
    expect(timed.filter((l) => l.startsWith('graph launch'))).toEqual([]);
    expect(canonical(timed)).toEqual(canonical(prev));
    for (const o of outs) o.dispose();
    f.dispose();
    expect(take().filter((l) => l.startsWith('destroy'))).toEqual(['destroy exec', 'destroy graph']);
  });
});
