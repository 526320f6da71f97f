// node dist/bench/peer.js [--device cuda] [--small]: polygrad against PyTorch on the same device in one script run
// (issue 4's table): matmul 4096³ f32/f16, the NeuralOS UNet's conv2d shapes, groupNorm+silu, attention.
// PyTorch runs in a python3 subprocess (bench/torch_peer.py) on the same shapes; both report medians after
// warm-up. `--small` shrinks every shape for a plumbing check on the CPU; PYTHON names the interpreter with torch.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Tensor, getDevice, initDevices, randn, realize } from '../index.js';

type Kind = 'matmul' | 'conv2d' | 'groupnorm_silu' | 'attention';
interface Workload {
  name: string;
  kind: Kind;
  dtype: 'f32' | 'f16';
  shapes: number[][];
  flops: number;
  bytes: number;
  seed: number;
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const device = arg('--device') ?? 'cuda',
  small = process.argv.includes('--small'),
  runs = Number(arg('--runs') ?? 20);

function workloads(): Workload[] {
  // channels stay divisible by 32 groups
  const z = (n: number): number => (small ? Math.max(32, Math.round(n / 16)) : n);
  const mm = (n: number, dtype: 'f32' | 'f16'): Workload => ({
    name: `matmul ${n}³ ${dtype}`,
    kind: 'matmul',
    dtype,
    shapes: [
      [n, n],
      [n, n],
    ],
    flops: 2 * n ** 3,
    bytes: 3 * n * n * (dtype === 'f16' ? 2 : 4),
    seed: 1,
  });
  const conv = (c: number, h: number, w: number): Workload => ({
    name: `conv2d 3x3 ${c}->${c} @ ${h}x${w}`,
    kind: 'conv2d',
    dtype: 'f32',
    shapes: [[1, c, h, w], [c, c, 3, 3], [c]],
    flops: 2 * c * c * 9 * h * w,
    bytes: 4 * (2 * c * h * w + 9 * c * c),
    seed: 2,
  });
  const [c, h, w] = [z(192), z(64), z(48)];
  const [heads, len, dim] = [8, z(768), 64];
  return [
    mm(z(4096), 'f32'),
    ...(device === 'cpu' ? [] : [mm(z(4096), 'f16')]),
    conv(c, h, w),
    conv(z(960), 6, 8), // torch has no f16 matmul on CPU
    {
      name: `groupNorm(32)+silu [1,${c},${h},${w}]`,
      kind: 'groupnorm_silu',
      dtype: 'f32',
      shapes: [[1, c, h, w], [c], [c]],
      flops: 10 * c * h * w,
      bytes: 8 * c * h * w,
      seed: 3,
    },
    {
      name: `attention ${heads}x${len}x${dim}`,
      kind: 'attention',
      dtype: 'f32',
      shapes: [
        [heads, len, dim],
        [heads, len, dim],
        [heads, len, dim],
      ],
      flops: 4 * heads * len * len * dim,
      bytes: 16 * heads * len * dim,
      seed: 4,
    },
  ];
}

/** The expression over inputs realized once, outside the timing. */
async function polygrad(w: Workload): Promise<() => Tensor> {
  const x = w.shapes.map((s, i) => randn(s, { seed: w.seed * 10 + i, device, dtype: w.dtype }));
  await realize(...x);
  switch (w.kind) {
    case 'matmul':
      return () => x[0]!.matmul(x[1]!);
    case 'conv2d':
      return () => x[0]!.conv2d(x[1]!, x[2]!, { padding: 1 });
    case 'groupnorm_silu':
      return () => x[0]!.groupNorm(32, x[1]!, x[2]!).silu();
    case 'attention':
      return () => x[0]!.scaledDotProductAttention(x[1]!, x[2]!);
  }
}

/** Median ms of `runs` runs after warm-up (compiles happen there); each run realizes and waits for the device. */
async function time(f: () => Tensor): Promise<number> {
  const backend = getDevice(device),
    out: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const t0 = performance.now();
    const y = await f().realize();
    await backend.sync();
    if (i >= 3) out.push(performance.now() - t0);
    y.dispose();
  }
  return out.sort((a, b) => a - b)[out.length >> 1]!;
}

await initDevices();
const ws = workloads();
const peer = JSON.parse(
  execFileSync(
    process.env.PYTHON ?? 'python3',
    [fileURLToPath(new URL('../../bench/torch_peer.py', import.meta.url))],
    {
      input: JSON.stringify({ device, runs, workloads: ws.map((w) => ({ ...w, shapes: w.shapes })) }),
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  ),
) as { torch: string; device: string; ms: Record<string, number> };

console.log(
  `polygrad ${device} (${getDevice(device).description ?? device}) vs PyTorch ${peer.torch} on ${peer.device}, ` +
    `median of ${runs} runs${small ? ' (--small shapes)' : ''}`,
);
console.log('| workload | polygrad ms | TFLOP/s | GB/s | PyTorch ms | PyTorch / polygrad |');
console.log('|---|---|---|---|---|---|');
for (const w of ws) {
  const ms = await time(await polygrad(w)),
    theirs = peer.ms[w.name]!;
  console.log(
    `| ${w.name} | ${ms.toFixed(3)} | ${(w.flops / ms / 1e9).toPrecision(3)} | ${(w.bytes / ms / 1e6).toFixed(1)} | ` +
      `${theirs.toFixed(3)} | ${(theirs / ms).toFixed(2)} |`,
  );
}
