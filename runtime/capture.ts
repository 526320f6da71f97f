// What a jit capture sees of a run: every launch with its buffers and variables, every upload and read-back.
// The recorder follows the async calls of the captured function only (runtime/context.ts), so work that other
// callers run meanwhile is not captured.
import type { Program } from '../backends/backend.js';
import type { Kernel } from '../codegen/kernel.js';
import type { UOp } from '../codegen/uop.js';
import type { Buffer } from './buffer.js';
import { asyncContext } from './context.js';

/** A kernel compiled for one backend, with its static cost. */
export interface Compiled {
  readonly program: Program;
  readonly kernel: Kernel;
  readonly flops: number;
  readonly bytes: number;
}

export interface Recorder {
  /**
   * A launch of `c` over chunk `chunks[i]` of `bufs[i]` (its params), reading the BIND nodes `binds` (its variables,
   * values in `vals`).
   */
  launch(
    c: Compiled,
    bufs: readonly Buffer[],
    chunks: readonly number[],
    binds: readonly UOp[],
    vals: readonly number[],
  ): void;
  /** Host data written into a buffer. */
  upload(b: Buffer, bytes: Uint8Array): void;
  /** A buffer read back to the host. */
  download(b: Buffer): void;
  /**
   * Whether node u, realized into b before, must be computed in this capture instead of read from b: b is an
   * argument's buffer (u was the argument, a constant or an expression the function also builds: b stands for the
   * argument alone), or u reads an argument and b was made before the call (realized outside on the same argument).
   * Read from b, a replay would
   * get the next argument, or the old result, there.
   */
  recomputes(u: UOp, b: Buffer): boolean;
}

const context = asyncContext<Recorder>();
export const recorder = (): Recorder | undefined => context.getStore();
export const recording = <R>(r: Recorder, f: () => R): R => context.run(r, f);
