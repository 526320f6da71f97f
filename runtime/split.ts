// splitReduce: a long reduce on a GPU runs as two. A reduce over few outputs is a handful of workgroups whose lanes
// each add thousands of values in f32 one after another: slow (the rest of the device idles) and inexact (a
// mean of 2^20 values near 1e4 came out 0.3 off, a variance 35 % off). The first kernel adds chunks of the longest
// reduced axis in parallel, each short enough to stay exact to f32 rounding; the second adds the chunks' sums.
import type { ReduceOp, UOp } from '../codegen/uop.js';
import * as nodes from './nodes.js';

/** Reduced elements per output from which a reduce is split (tinygrad's threshold). */
export const splitFrom = 2 ** 15;
/** The chunk length a split aims at: a lane adds at most this many values one after another. */
const chunkLength = 2 ** 8;
/** The most chunks a split makes (the second kernel adds that many per output). */
const maxChunks = 2 ** 14;

/**
 * The partial reduce (chunk sums, which the scheduler realizes) and the reduce of those that replace `node`, or
 * undefined where it is short enough. The chunks split the longest reduced axis: as many as make chunks of about
 * chunkLength where that many divide it; where no count from there down to 8 does, a sum pads the axis with zeros to
 * a multiple (zeros: the one identity padding gives). A partial still as long splits again.
 */
export function splitReduce(node: UOp): { partial: UOp; outer: UOp } | undefined {
  const { op, axes } = node.arg as { op: ReduceOp; axes: number[] };
  const src = node.src[0]!;
  const length = axes.reduce((a, i) => a * src.shape[i]!, 1);
  if (length < splitFrom) return undefined;
  const at = axes.reduce((best, a) => (src.shape[a]! > src.shape[best]! ? a : best), axes[0]!);
  const n = src.shape[at]!,
    want = Math.min(maxChunks, Math.round(length / chunkLength), n);
  let chunks = want;
  while (chunks >= 8 && n % chunks) chunks--;
  let x = src;
  if (chunks < 8) {
    if (op !== 'ADD') return undefined;
    chunks = want;
    x = nodes.pad(
      src,
      src.shape.map((_, i) => [0, i === at ? Math.ceil(n / chunks) * chunks - n : 0] as const),
    );
  }
  const shape = [...x.shape.slice(0, at), chunks, x.shape[at]! / chunks, ...x.shape.slice(at + 1)];
  const partial = nodes.reduce(
    nodes.reshape(x, shape),
    op,
    axes.map((a) => (a < at ? a : a + 1)),
  );
  return { partial, outer: nodes.reshape(nodes.reduce(partial, op, [at]), node.shape) };
}
