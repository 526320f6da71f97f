// What the GPU backends share: the status word their index checks report through, the launch grid, compile
// errors with the source numbered, a pool of buffers by size class, and the order a captured step must keep.
import { checkError } from '../codegen/checks.js';
import { type Kernel, workgroups } from '../codegen/kernel.js';
import type { GraphLaunch } from './backend.js';

/** Bytes of the status word: the code of the first failed check and its offending value (two u32). */
export const statusBytes = 8;

/**
 * Whether a checked kernel ran since the status word was last fetched: the next read fetches the word with its
 * data and raises what it holds, as CUDA reports a device-side assert at the next synchronizing call.
 */
export class StatusWord {
  #pending = false;
  launched(checks: boolean): void {
    this.#pending ||= checks;
  }
  /** Whether this read must fetch the word (and clears the mark). */
  take(): boolean {
    const p = this.#pending;
    this.#pending = false;
    return p;
  }
  /** The error a fetched word holds, or undefined where no check failed (then the word is left as it is). */
  static error(words: Uint32Array): RangeError | undefined {
    return words[0] ? checkError(words[0], words[1]! | 0) : undefined;
  }
}

/**
 * The launch grid of a kernel at `threads` per workgroup/block: workgroups folded into y past the largest grid
 * dimension; a source kernel (kernels/) brings its own.
 */
export function launchGrid(
  backend: string,
  kernel: Kernel,
  threads: number,
  maxGrid: number,
): [number, number, number] {
  if (kernel.custom) {
    const g = kernel.custom.grid;
    if (g.some((n) => n > maxGrid)) {
      throw new Error(
        `${backend}: ${kernel.name} needs ${g.join(' × ')} workgroups, more than ${maxGrid} per dimension`,
      );
    }
    return [g[0], g[1], g[2]];
  }
  const groups = workgroups(kernel, threads),
    x = Math.min(groups, maxGrid),
    y = Math.ceil(groups / x);
  if (y > maxGrid)
    throw new Error(`${backend}: ${kernel.name} needs ${groups} workgroups, more than ${maxGrid}² the device allows`);
  return [x, y, 1];
}

/** A failed compile: the compiler's own words, then the source with line numbers to read them against. */
export function compileError(backend: string, kernel: Kernel, compiler: string, log: string, source: string): Error {
  const numbered = source
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(4)}| ${l}`)
    .join('\n');
  return new Error(`${backend}: ${kernel.name} failed to compile${compiler}:\n${log}\n${numbered}`);
}

/**
 * Freed device buffers kept by size class for the next alloc of that class (a model's frame frees and allocates
 * the same sizes over and over), at most `keep` per class; the rest are destroyed. Classes are powers of two up
 * to 1 MiB, then sixteenths of the next power, so a large weight wastes at most an eighth of itself. `maxBytes`
 * bounds what all classes keep together.
 */
export class BufferPool<B> {
  readonly #free = new Map<number, B[]>();
  #bytes = 0;
  constructor(
    readonly destroy: (b: B) => void,
    readonly keep = 16,
    readonly maxBytes = Infinity,
  ) {}
  /** The size class `bytes` allocates, kept at most `max` (the device's largest buffer) where bytes fit there. */
  static sizeOf(bytes: number, max = Infinity): number {
    const pow = 2 ** Math.ceil(Math.log2(Math.max(bytes, 16))),
      step = pow <= 2 ** 20 ? pow : pow / 16;
    return Math.max(Math.ceil(bytes / 4) * 4, Math.min(Math.ceil(bytes / step) * step, Math.floor(max / 4) * 4));
  }
  take(size: number): B | undefined {
    const b = this.#free.get(size)?.pop();
    if (b !== undefined) this.#bytes -= size;
    return b;
  }
  /** Destroys every kept buffer (an allocation that failed may fit once they are gone); how many there were. */
  drain(): number {
    const kept = [...this.#free.values()].flatMap((list) => list.splice(0));
    kept.forEach(this.destroy);
    this.#bytes = 0;
    return kept.length;
  }
  give(size: number, b: B): void {
    const list = this.#free.get(size) ?? [];
    if (list.length >= this.keep || this.#bytes + size > this.maxBytes) {
      this.destroy(b);
      return;
    }
    list.push(b);
    this.#bytes += size;
    this.#free.set(size, list);
  }
}

/**
 * Per launch of a captured step, the earlier launches it must run after, by buffer table entry: the last one that
 * wrote what it reads or writes (read after write, write after write), and the ones since that read what it writes
 * (write after read). Launches that share no such entry may run at once. The status word is left out: every
 * checked kernel may write it, and which failure a concurrent pair reports first does not matter.
 */
export function launchDependencies(launches: readonly GraphLaunch[]): number[][] {
  const writer = new Map<number, number>(),
    readers = new Map<number, number[]>();
  return launches.map((l, i) => {
    const deps = new Set<number>();
    const writes = (j: number): boolean => l.kernel.params[j]?.write === true;
    l.bufs.forEach((t, j) => {
      const w = writer.get(t);
      if (w !== undefined) deps.add(w);
      if (writes(j)) for (const r of readers.get(t) ?? []) deps.add(r);
    });
    l.bufs.forEach((t, j) => {
      if (writes(j)) {
        writer.set(t, i);
        readers.set(t, []);
      } else if (readers.has(t)) readers.get(t)!.push(i);
      else readers.set(t, [i]);
    });
    deps.delete(i);
    return [...deps].sort((a, b) => a - b);
  });
}

/** Item by item by Object.is: -0 differs from 0 (a variable's value), NaN equals NaN. */
export const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
