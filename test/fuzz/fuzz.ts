// One fuzz case and its minimization: a seeded program (program.ts) on a device, jitted or not, against the float64
// reference and, off the CPU, against the CPU backend's outputs; a failing program is shrunk while it still fails.
import { type Program, compare, generate, reference, run, shapeOf, sourcesOf, withSources } from './program.js';

export interface Case {
  readonly seed: number;
  readonly device: string;
  readonly jit: boolean;
  readonly size: number;
}
export interface Failure extends Case {
  readonly why: string;
  readonly program: Program;
}

/** Why the program fails on the case's device (a wrong value or a throw), or undefined. */
export async function failure(p: Program, device: string, jit: boolean): Promise<string | undefined> {
  try {
    const got = await run(p, { device, jit }),
      want = reference(p);
    const vsReference = compare(p, got, want);
    if (vsReference) return `vs float64: ${vsReference}`;
    if (device === 'cpu') return undefined;
    const cpu = await run(p, { device: 'cpu', jit: false });
    const vsCpu = compare(
      p,
      got,
      cpu.map((d, o) => ({ shape: want[o]!.shape, data: Float64Array.from(d) })),
    );
    return vsCpu && `vs cpu: ${vsCpu}`;
  } catch (e) {
    return `throws: ${(e as Error).message.split('\n')[0]}`;
  }
}

export async function fuzzCase(c: Case): Promise<Failure | undefined> {
  const program = generate(c.seed, c.size),
    why = await failure(program, c.device, c.jit);
  return why === undefined ? undefined : { ...c, why, program };
}

/** The program without the nodes its outputs do not reach, renumbered. */
export function prune(p: Program): Program {
  const keep = new Set<number>(),
    visit = (i: number): void => {
      if (keep.has(i)) return;
      keep.add(i);
      sourcesOf(p.nodes[i]!).forEach(visit);
    };
  p.outputs.forEach(visit);
  const order = [...keep].sort((a, b) => a - b),
    at = new Map(order.map((old, i) => [old, i]));
  const nodes = order.map((i) => withSources(p.nodes[i]!, (s) => at.get(s)!));
  return { nodes, outputs: p.outputs.map((o) => at.get(o)!) };
}

/** Smaller programs that might still fail: one output, an output moved to a source, a node bypassed. */
function* shrinks(p: Program): Generator<Program> {
  if (p.outputs.length > 1) for (const o of p.outputs) yield prune({ nodes: p.nodes, outputs: [o] });
  for (const [k, o] of p.outputs.entries()) {
    for (const s of sourcesOf(p.nodes[o]!)) {
      if (p.nodes[s]!.op !== 'input')
        yield prune({ nodes: p.nodes, outputs: p.outputs.map((x, j) => (j === k ? s : x)) });
    }
  }
  // a node whose source has its shape can be skipped: its users read the source instead
  for (let i = 0; i < p.nodes.length; i++) {
    const n = p.nodes[i]!;
    for (const s of sourcesOf(n)) {
      if (shapeOf(p, s).join() !== shapeOf(p, i).join()) continue;
      const nodes = p.nodes.map((m) => withSources(m, (j) => (j === i ? s : j)));
      yield prune({ nodes, outputs: p.outputs.map((o) => (o === i ? s : o)) });
    }
  }
}

/** Shrinks a failing program greedily until no smaller one fails (`fails`: the failure check, for tests). */
export async function minimize(f: Failure, fails = (q: Program) => failure(q, f.device, f.jit)): Promise<Failure> {
  let best = f;
  for (let changed = true; changed; ) {
    changed = false;
    for (const q of shrinks(best.program)) {
      if (q.nodes.length >= best.program.nodes.length && q.outputs.length >= best.program.outputs.length) continue;
      const why = await fails(q);
      if (why !== undefined) {
        best = { ...best, why, program: q };
        changed = true;
        break;
      }
    }
  }
  return best;
}

/** The shell command that runs this one case again. */
export const reproduce = (c: Case): string =>
  `npm run fuzz -- --n 1 --seed ${c.seed} --backend ${c.device} --size ${c.size} --jit ${c.jit ? 'on' : 'off'}`;
