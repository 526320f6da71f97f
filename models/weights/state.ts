// A state dict as a source of named tensors: modules take their weights by key with the shape they
// expect; missing, mis-shaped and unused keys are collected and reported together.
import { type Tensor, randn, zeros } from '../../index.js';
import { streamTensor } from '../../runtime/tensor.js';

export interface TensorSource {
  readonly names: readonly string[];
  shape(name: string): readonly number[];
  read(name: string): Float32Array;
  /** Elements [start, start + count) of a tensor, row-major: what lets a large weight stream in pieces. */
  readRange?(name: string, start: number, count: number): Float32Array;
  close?(): void;
}

export interface WeightsReport {
  readonly problems: string[];
  readonly unexpected: string[];
  readonly expected: ReadonlyMap<string, readonly number[]>;
  /** Keys whose values hold NaN or ±Inf (a corrupt or diverged checkpoint): the caller warns. */
  readonly nonFinite: string[];
}

/** What the modules took: each key with the shape it expected, problems, and random weights still to compute. */
interface Ledger {
  readonly used: Map<string, readonly number[]>;
  readonly problems: string[];
  readonly lazy: Tensor[];
  /** Keys whose stored values hold NaN or ±Inf: loaded as they are, reported as a warning. */
  readonly nonFinite: Set<string>;
  onTake?: (taken: number, total: number) => void;
}

/** How weights may be stored on a device (WebGPU keeps bf16 in f32: WGSL has no bf16). */
export type WeightDtype = 'f32' | 'f16' | 'bf16';

export class StateDict {
  readonly #ledger: Ledger;
  /** dtype: how the weights are stored on the device (f16 and bf16 halve them; ops still compute in f32). */
  constructor(
    readonly source: TensorSource | undefined,
    readonly device: string,
    readonly prefix = '',
    ledger?: Ledger,
    readonly dtype: WeightDtype = 'f32',
  ) {
    this.#ledger = ledger ?? { used: new Map(), problems: [], lazy: [], nonFinite: new Set() };
  }

  /** Called after each tensor is taken (for a loading progress bar). */
  set onTake(f: (taken: number, total: number) => void) {
    this.#ledger.onTake = f;
  }

  /** The same state dict seen under a key prefix (one report for the whole model). */
  sub(prefix: string): StateDict {
    return new StateDict(this.source, this.device, this.prefix + prefix, this.#ledger, this.dtype);
  }

  /**
   * The tensor at prefix + key, checked against shape. With no source: seeded random values scaled by
   * `scale` (a seed per key, so any module order gives the same weights), plus `offset`.
   */
  take(key: string, shape: readonly number[], scale: number, offset = 0): Tensor {
    const name = this.prefix + key;
    this.#ledger.used.set(name, [...shape]);
    this.#ledger.onTake?.(this.#ledger.used.size, this.source?.names.length ?? 0);
    if (!this.source) {
      let seed = 0;
      for (const ch of name) seed = (Math.imul(seed, 31) + ch.charCodeAt(0)) >>> 0;
      const t = randn(shape, { seed, device: this.device }).mul(scale).add(offset).cast(this.dtype);
      this.#ledger.lazy.push(t);
      return t;
    }
    if (!this.source.names.includes(name)) {
      this.#ledger.problems.push(`missing ${name} [${shape}]`);
      return zeros(shape, { device: this.device, dtype: this.dtype });
    }
    const got = this.source.shape(name);
    const n = shape.reduce((a, b) => a * b, 1);
    // torch stores some 1-element parameters as [1] where the model holds a 0-dim value
    if (got.join() !== shape.join() && !(n === 1 && got.reduce((a, b) => a * b, 1) === 1)) {
      this.#ledger.problems.push(`mis-shaped ${name}: checkpoint [${got}], model expects [${shape}]`);
      return zeros(shape, { device: this.device, dtype: this.dtype });
    }
    const src = this.source,
      read = src.readRange
        ? (start: number, count: number) => src.readRange!(name, start, count)
        : (() => {
            const all = src.read(name);
            return (start: number, count: number) => all.subarray(start, start + count);
          })();
    const nonFinite = this.#ledger.nonFinite;
    return streamTensor(
      shape,
      (start, count) => {
        const values = read(start, count);
        if (!nonFinite.has(name) && !values.every(Number.isFinite)) nonFinite.add(name);
        return values;
      },
      { dtype: this.dtype, device: this.device },
    );
  }

  /** Computes the random weights once (they are lazy until then). */
  async materialize(): Promise<void> {
    for (const t of this.#ledger.lazy.splice(0)) await t.realize();
  }

  /**
   * Missing and mis-shaped keys are errors (unless allowMissing); unexpected ones are listed; `expected` holds every
   * key the model took with the shape it wanted.
   */
  report({ allowMissing = false, ignore = [] as RegExp[] } = {}): WeightsReport {
    const unexpected = (this.source?.names ?? []).filter(
      (n) => !this.#ledger.used.has(n) && !ignore.some((r) => r.test(n)),
    );
    const fatal = this.#ledger.problems.filter((p) => !(allowMissing && p.startsWith('missing')));
    if (fatal.length) {
      // mis-shaped keys say more about a wrong config than missing ones: they come first
      const n = fatal.length,
        shown = [...fatal]
          .sort((a, b) => Number(a.startsWith('missing')) - Number(b.startsWith('missing')))
          .slice(0, 2)
          .join('; ');
      throw new Error(
        `checkpoint does not fit the model config: ${n} problem${n > 1 ? 's' : ''} (${shown}${n > 2 ? '; …' : ''}); ` +
          'pass the --config the checkpoint was trained with',
      );
    }
    return {
      problems: this.#ledger.problems,
      unexpected,
      expected: this.#ledger.used,
      nonFinite: [...this.#ledger.nonFinite],
    };
  }
}
