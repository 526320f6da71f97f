// `polygrad kernels list | check [name] | bench [name] | new <name> --op <op>`: the contributed kernels of kernels/.
// check runs every case on every available device the kernel declares, against the generated path and a float64
// reference (and compiles CUDA sources with nvcc, reporting registers and spills); bench times the kernel against the
// generated path per device, records the ratio in the kernel cache that POLYGRAD_KERNELS=auto goes by and appends a
// table to bench/RESULTS.md; new writes a kernel file that passes check and regenerates the index.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { type Tensor, devices, tensor } from '../index.js';
import { checkCase, compileCuda, runOp, runsOn, seeded } from '../kernels/check.js';
import type { CompositeOp, KernelDef } from '../kernels/define.js';
import { kernels } from '../kernels/index.js';
import { measurements, onlyKernel, setKernelMode, setMeasured } from '../runtime/composite.js';
import { writeCache } from '../runtime/cachefile.js';
import { checkKernels } from '../scripts/kernels.js';
import { type Flags, UsageError } from './args.js';

const pick = (name: string | undefined): readonly KernelDef[] => {
  if (!name) return kernels;
  const k = kernels.filter((d) => d.name === name);
  if (!k.length) throw new UsageError(`no kernel named ${name} (have: ${kernels.map((d) => d.name).join(', ')})`);
  return k;
};

const nvcc = (): boolean => spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;

export async function kernelsCommand(positional: readonly string[], flags: Flags): Promise<number> {
  const [sub, name] = [positional[1], positional[2]];
  switch (sub) {
    case 'list': {
      if (name !== undefined) throw new UsageError(`list takes no name, got '${name}'`);
      const m = measurements();
      for (const d of kernels) {
        const ratios = devices()
          .filter((b) => runsOn(d, b.name))
          .map((b) => `${b.name} ${m[b.description]?.[d.name]?.toFixed(2) ?? 'not measured'}`);
        console.log(
          `${d.name.padEnd(22)} ${d.op.padEnd(9)} ${d.impl.kind.padEnd(6)} ${d.devices.join(',').padEnd(12)} ` +
            `${ratios.join('; ')}`,
        );
        console.log(`${''.padEnd(22)} ${d.description}`);
      }
      return 0;
    }
    case 'check':
      return check(pick(name));
    case 'bench':
      return bench(pick(name));
    case 'new': {
      const op = flags.op;
      if (!name || !/^[a-z][a-z0-9_]*$/.test(name))
        throw new UsageError(
          `new: expected a lower-case name (letters, digits, _), got ${name === undefined ? 'none' : `'${name}'`} ` +
            `(usage: polygrad kernels new <name> --op ${templateOps.join('|')})`,
        );
      if (!(templateOps as readonly unknown[]).includes(op))
        throw new UsageError(`new: --op must be one of ${templateOps.join(', ')}, got ${String(op)}`);
      const file = join('kernels', `${name}.ts`);
      if (existsSync(file)) throw new UsageError(`new: ${file} exists`);
      writeFileSync(file, template(name, op as CompositeOp));
      const { errors, index } = checkKernels('kernels');
      if (errors.length) throw new Error(errors.join('\n'));
      writeFileSync(join('kernels', 'index.ts'), index);
      console.log(
        `${file} written (an IR kernel computing ${op}), kernels/index.ts updated: edit it, then npm run build && ` +
          `npx polygrad kernels check ${name}`,
      );
      return 0;
    }
    default:
      // parseCommandLine has checked the subcommand
      throw new UsageError(`unknown subcommand ${String(sub)}`);
  }
}

/**
 * Every case on every device the kernel runs on here; CUDA sources through nvcc. Exit 1 on any failure, or when
 * nothing could be checked (no device the kernels declare is here, no nvcc): a green check means something ran.
 */
async function check(defs: readonly KernelDef[]): Promise<number> {
  let failed = 0,
    checked = 0;
  for (const def of defs) {
    for (const b of devices().filter((d) => runsOn(def, d.name))) {
      for (const c of def.cases) {
        checked++;
        const r = await checkCase(def, c, b.name);
        const ok = r.used && r.kernelError <= r.tol && r.generatedError <= r.tol;
        failed += ok ? 0 : 1;
        console.log(
          `${ok ? 'ok  ' : 'FAIL'} ${def.name} on ${b.name}: ${c.name}: ${r.used ? '' : 'NOT USED, '}error ` +
            `${r.kernelError.toExponential(1)} (generated ${r.generatedError.toExponential(1)}, tolerance ${r.tol})`,
        );
      }
    }
    if (def.impl.kind === 'source' && def.impl.sources.cuda) {
      if (!nvcc()) console.log(`skip ${def.name}: nvcc not found, its CUDA source is not compiled`);
      else
        for (const r of compileCuda(def)) {
          checked++;
          console.log(
            `${r.spills ? 'warn' : 'ok  '} ${def.name} nvcc sm_90: ${r.case}: ${r.registers} registers, ${r.spills} ` +
              `bytes spilled`,
          );
        }
    }
  }
  if (!checked) {
    console.log(`nothing checked: ${defs.map((d) => d.name).join(', ')}: no device declared is here, and no nvcc`);
    return 1;
  }
  return failed ? 1 : 0;
}

/**
 * The elementwise work that usually follows each op (an MLP's activation after a matmul, the UNet's silu after a
 * conv), timed on both sides: the generated path fuses it into the op's kernel, a contributed kernel (a fusion
 * barrier) launches it separately, so the ratio `auto` goes by is the one a model sees.
 */
const usualEpilogue: Readonly<Record<CompositeOp, ((y: Tensor) => Tensor) | undefined>> = {
  matmul: (y) => y.relu(),
  conv2d: (y) => y.silu(),
  softmax: undefined, // a matmul (attention's values) consumes it
  attention: undefined, // an output projection (a matmul) consumes it
  groupNorm: (y) => y.silu(), // a UNet block's norm, then its activation
  layerNorm: undefined, // a transformer's projections (matmuls) consume it
};
/** How the bench table names the epilogues. */
const epilogueNames = 'matmul: relu, conv2d and groupNorm: silu, softmax, attention and layerNorm: none';

/** Median ms of the op, its usual epilogue and reading the result back, with the kernel or the generated path. */
async function time(
  def: KernelDef,
  c: (typeof def.cases)[number],
  device: string,
  mode: 'custom' | 'generated',
): Promise<number> {
  setKernelMode(mode);
  onlyKernel(mode === 'custom' ? def.name : undefined);
  const xs = c.inputs.map((s, i) => {
    if (!s) return undefined;
    const values = Float32Array.from(
      seeded(
        s.reduce((a, b) => a * b, 1),
        i + 1,
      ),
    );
    return tensor(values, { shape: [...s], device, dtype: c.dtype ?? 'f32' });
  });
  const run = async () => {
    const op = runOp(def.op as CompositeOp, xs, c),
      y = usualEpilogue[def.op as CompositeOp]?.(op) ?? op;
    await y.data();
    y.dispose();
    if (op !== y) op.dispose();
  };
  await run(); // compiles
  const bench = new Bench({ time: 500, iterations: 5, warmupIterations: 1, throws: true });
  bench.add(def.name, run, { async: true });
  await bench.run();
  for (const x of xs) x?.dispose();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${def.name}: ${r.state}`);
  return r.latency.p50;
}

/** Kernel vs generated per device on the kernel's bench cases (all cases if none is marked 'bench:'). */
async function bench(defs: readonly KernelDef[]): Promise<number> {
  const rows: string[] = [],
    m: Record<string, Record<string, number>> = JSON.parse(JSON.stringify(measurements()));
  for (const def of defs) {
    for (const b of devices().filter((d) => runsOn(def, d.name))) {
      const cases = def.cases.some((c) => c.name.startsWith('bench'))
        ? def.cases.filter((c) => c.name.startsWith('bench'))
        : def.cases;
      const ratios: number[] = [];
      for (const c of cases) {
        const [custom, generated] = [await time(def, c, b.name, 'custom'), await time(def, c, b.name, 'generated')];
        ratios.push(generated / custom);
        rows.push(
          `| ${def.name} | ${b.name} | ${c.name} | ${custom.toFixed(2)} | ${generated.toFixed(2)} | ` +
            `${(generated / custom).toFixed(2)} |`,
        );
        console.log(rows.at(-1));
      }
      (m[b.description] ??= {})[def.name] = ratios.sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!;
    }
  }
  setKernelMode('auto');
  onlyKernel(undefined);
  setMeasured(m);
  const file = await writeCache('kernels.json', { version: 1, devices: m });
  if (file) {
    console.log(`kernel cache: ${file} (POLYGRAD_KERNELS=auto uses a kernel where its ratio is above 1)`);
  }
  const results = 'bench/RESULTS.md';
  if (existsSync(results) && rows.length) {
    const head =
      `\n## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — polygrad kernels bench (${devices()
        .map((d) => `${d.name}: ${d.description}`)
        .join('; ')})\n\nEach side computes the op and its usual epilogue (${epilogueNames}).\n\n` +
      '| kernel | device | case | kernel ms | generated ms | generated / kernel |\n|---|---|---|---|---|---|\n';
    const text = readFileSync(results, 'utf8'),
      at = text.indexOf('\n## ');
    writeFileSync(
      results,
      at < 0
        ? `${text + head + rows.join('\n')}\n`
        : `${text.slice(0, at)}${head}${rows.join('\n')}\n${text.slice(at)}`,
    );
  } else if (rows.length) appendFileSync('kernels-bench.md', `${rows.join('\n')}\n`);
  return 0;
}

/** Per op: what a template kernel computes, when it applies, its cases and its IR (each passes check as written). */
const templateBodies: Readonly<Record<CompositeOp, string>> = {
  matmul: `  // out[i, j] = sum over k of a[i, k] * b[k, j], each read through its strides
  applies: ({ a, b }) => a.shape.length === 2 && b.shape.length === 2 && a.dtype === 'f32' && b.dtype === 'f32',
  cases: [
    {
      name: 'square 64',
      inputs: [
        [64, 64],
        [64, 64],
      ],
    },
    {
      name: 'a transposed weight',
      inputs: [
        [16, 40],
        [40, 24],
      ],
      transposed: [1],
    },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { a, b }) => {
      const i = ir.global(0),
        j = ir.global(1);
      return ir.reduce('ADD', a.shape[1]!, (k) => ir.mul(ir.load(0, ir.at(a, [i, k])), ir.load(1, ir.at(b, [k, j]))));
    },
  },`,
  softmax: `  // out[.., j] = exp(x[.., j] - max) / sum(exp(x - max)) along the last dim
  applies: ({ x, dim }) => x.dtype === 'f32' && dim === x.shape.length - 1,
  cases: [
    { name: 'rows of 100', inputs: [[8, 100]] },
    { name: 'a strided input', inputs: [[12, 30]], transposed: [0] },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { x }) => {
      const n = x.shape.length,
        idx = x.shape.map((_, d) => ir.global(d));
      const at = (j: Expr) => ir.load(0, ir.at(x, [...idx.slice(0, -1), j]));
      const max = ir.reduce('MAX', x.shape[n - 1]!, at);
      const sum = ir.reduce('ADD', x.shape[n - 1]!, (r) => ir.exp(ir.sub(at(r), max)));
      return ir.div(ir.exp(ir.sub(at(idx[n - 1]!), max)), sum);
    },
  },`,
  attention: `  // out[h, i, e] = sum over keys j of softmax_j(q[h, i] . k[h, j] * scale) * v[h, j, e] (causal: j <= i)
  // (one batch size for all three: broadcasting one of them is left to the generated path)
  applies: ({ q, k, v }) =>
    [q, k, v].every((t) => t.dtype === 'f32' && t.shape.length === 3 && t.shape[0] === q.shape[0]),
  cases: [
    {
      name: 'heads of 16',
      inputs: [
        [4, 20, 16],
        [4, 30, 16],
        [4, 30, 8],
      ],
    },
    {
      name: 'causal',
      inputs: [
        [2, 24, 8],
        [2, 24, 8],
        [2, 24, 8],
      ],
      args: { causal: true },
    },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { q, k, v, scale, causal }) => {
      const h = ir.global(0),
        i = ir.global(1),
        e = ir.global(2);
      const dot = (j: Expr) =>
        ir.reduce('ADD', q.shape[2]!, (d) => ir.mul(ir.load(0, ir.at(q, [h, i, d])), ir.load(1, ir.at(k, [h, j, d]))));
      // a key past the query scores far below any other, so its weight is 0
      const score = (j: Expr) => {
        const s = ir.mul(dot(j), ir.float(scale));
        return causal ? ir.where(ir.lt(i, j), ir.float(-1e30), s) : s;
      };
      const max = ir.reduce('MAX', k.shape[1]!, score);
      const weight = (j: Expr) => ir.exp(ir.sub(score(j), max));
      const sum = ir.reduce('ADD', k.shape[1]!, weight);
      return ir.div(
        ir.reduce('ADD', k.shape[1]!, (j) => ir.mul(weight(j), ir.load(2, ir.at(v, [h, j, e])))),
        sum,
      );
    },
  },`,
  conv2d: `  // out[n, o, y, x] = bias[o] + sum over c, i, j of x[n, c, y*s + i*d - p, x*s + j*d - p] * w[o, c, i, j]
  applies: ({ x, w, bias, groups }) => groups === 1 && [x, w, bias].every((t) => !t || t.dtype === 'f32'),
  cases: [
    { name: '3x3, padding 1', inputs: [[1, 4, 9, 11], [6, 4, 3, 3], [6]], args: { padding: 1 } },
    {
      name: 'stride 2, dilation 2, no bias',
      inputs: [
        [2, 3, 12, 10],
        [5, 3, 3, 3],
      ],
      args: { stride: 2, dilation: 2 },
    },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { x, w, bias, stride, padding, dilation }) => {
      const [n, o, y, xo] = [0, 1, 2, 3].map((d) => ir.global(d)) as [Expr, Expr, Expr, Expr];
      const [, C, H, W] = x.shape as [number, number, number, number],
        [, , kh, kw] = w.shape as [number, number, number, number];
      // where a tap reads: out position * stride + tap * dilation - padding, in dim d (0: rows, 1: columns)
      const pos = (out: Expr, tap: Expr, d: 0 | 1) =>
        ir.sub(ir.add(ir.mul(out, ir.int(stride[d])), ir.mul(tap, ir.int(dilation[d]))), ir.int(padding[d]));
      const inside = (p: Expr, size: number) => ir.and(ir.lt(ir.int(-1), p), ir.lt(p, ir.int(size)));
      const sum = ir.reduce('ADD', C, (c) =>
        ir.reduce('ADD', kh, (i) =>
          ir.reduce('ADD', kw, (j) => {
            const r = pos(y, i, 0),
              col = pos(xo, j, 1);
            // outside the image nothing is read: the padding's zeros
            const value = ir.load(0, ir.at(x, [n, c, r, col]), ir.and(inside(r, H), inside(col, W)));
            return ir.mul(value, ir.load(1, ir.at(w, [o, c, i, j])));
          }),
        ),
      );
      return bias ? ir.add(sum, ir.load(2, ir.at(bias, [o]))) : sum;
    },
  },`,
  layerNorm: `  // out[.., j] = (x[.., j] - mean) / sqrt(variance + eps) * w[j] + b[j] over the last dim
  applies: ({ x, w, b, dims }) => dims === 1 && [x, w, b].every((t) => !t || t.dtype === 'f32'),
  cases: [
    { name: 'rows of 96, weight and bias', inputs: [[10, 96], [96], [96]] },
    { name: 'no weight or bias, a strided input', inputs: [[3, 20, 33]], transposed: [0] },
    { name: 'a bias and no weight', inputs: [[5, 40], null, [40]] },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { x, w, b, eps }) => {
      const n = x.shape.length,
        N = x.shape[n - 1]!,
        idx = x.shape.map((_, d) => ir.global(d)),
        j = idx[n - 1]!;
      const at = (r: Expr) => ir.load(0, ir.at(x, [...idx.slice(0, -1), r]));
      const mean = ir.div(ir.reduce('ADD', N, at), ir.float(N));
      const dev = (r: Expr) => ir.sub(at(r), mean);
      const variance = ir.div(
        ir.reduce('ADD', N, (r) => ir.mul(dev(r), dev(r))),
        ir.float(N),
      );
      const y = ir.div(dev(j), ir.sqrt(ir.add(variance, ir.float(eps))));
      // weight and bias are the inputs after x, those present
      const scaled = w ? ir.mul(y, ir.load(1, ir.at(w, [j]))) : y;
      return b ? ir.add(scaled, ir.load(w ? 2 : 1, ir.at(b, [j]))) : scaled;
    },
  },`,
  groupNorm: `  // out[n, c, y, x] = (x - mean) / sqrt(variance + eps) * w[c] + b[c] over c's group's channels, all y, x
  applies: ({ x, w, b }) => x.shape.length === 4 && [x, w, b].every((t) => !t || t.dtype === 'f32'),
  cases: [
    { name: '4 groups of 3 channels', inputs: [[2, 12, 5, 7], [12], [12]], args: { groups: 4 } },
    { name: 'one group, no weight or bias', inputs: [[1, 6, 8, 8]], args: { groups: 1 } },
    { name: 'a bias and no weight', inputs: [[1, 8, 4, 4], null, [8]], args: { groups: 2 } },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { x, w, b, groups, eps }) => {
      const [n, c, y, xo] = [0, 1, 2, 3].map((d) => ir.global(d)) as [Expr, Expr, Expr, Expr];
      const [, C, H, W] = x.shape as [number, number, number, number],
        per = C / groups,
        first = ir.mul(ir.idiv(c, ir.int(per)), ir.int(per)); // the first channel of c's group
      const overGroup = (f: (v: Expr) => Expr) =>
        ir.reduce('ADD', per, (k) =>
          ir.reduce('ADD', H, (i) => ir.reduce('ADD', W, (j) => f(ir.load(0, ir.at(x, [n, ir.add(first, k), i, j]))))),
        );
      const mean = ir.div(
        overGroup((v) => v),
        ir.float(per * H * W),
      );
      const variance = ir.div(
        overGroup((v) => ir.mul(ir.sub(v, mean), ir.sub(v, mean))),
        ir.float(per * H * W),
      );
      const norm = ir.div(ir.sub(ir.load(0, ir.at(x, [n, c, y, xo])), mean), ir.sqrt(ir.add(variance, ir.float(eps))));
      // weight and bias are the inputs after x, those present
      const scaled = w ? ir.mul(norm, ir.load(1, ir.at(w, [c]))) : norm;
      return b ? ir.add(scaled, ir.load(w ? 2 : 1, ir.at(b, [c]))) : scaled;
    },
  },`,
};
export const templateOps = Object.keys(templateBodies) as CompositeOp[];

/** Whether a template's code (its comments aside) names the Expr type, which its file then imports. */
const usesExpr = (body: string): boolean => /\bExpr\b/.test(body.replace(/\/\/.*$/gm, ''));

/** A kernel file computing the op in polygrad's IR (it runs on every device and passes check as written). */
export function template(name: string, op: CompositeOp): string {
  return `// ${name}: what this kernel does and why it is faster (one or two lines).
import { ${usesExpr(templateBodies[op]) ? 'type Expr, ' : ''}defineKernel } from './define.js';

export default defineKernel({
  name: '${name}',
  op: '${op}',
  description: '${op} written in polygrad IR (edit me)',
  devices: ['cpu', 'webgpu'],
${templateBodies[op]}
});
`;
}
