// Turns of the event loop the runtime gives itself where callers' loops would not. Collection points: hash-consed
// nodes (codegen/uop.ts) are held through WeakRefs, and an engine frees a WeakRef's target, and runs finalizers, only
// once the event loop turns: a loop that awaits nothing but already-settled promises (CPU kernels, device copies
// that finish synchronously) would keep every node it ever made. realize and jit replays therefore give the event
// loop a turn once enough nodes were made since the last one: memory stays bounded by that many nodes whatever the
// caller's loop does, at the price of one setImmediate per that many nodes. And long compiles: kernels compiled back
// to back (a warm-up on the CPU) give a turn every 50 busy ms.
import { nodesMade } from '../codegen/uop.js';

/** Nodes made between collection points: a few MB of graph at most. */
let collectEvery = 20_000;
let madeAtLastTurn = 0;
/** Tests set how many nodes pass between collection points (Infinity: never collect). @internal */
export const setCollectEvery = (n: number): void => {
  collectEvery = n;
};

/** Resolves after the event loop has handled what is pending (I/O, timers, finalizers). */
export const yieldToEventLoop = (): Promise<void> =>
  new Promise<void>((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0))).then(() => {
    lastTurn = performance.now();
  });

/** Busy milliseconds after which a compile gives the event loop a turn: a warm-up's progress ticker and sockets run. */
const turnAfterMs = 50;
let lastTurn = performance.now();

/** A turn of the event loop if none came for a while (compiles on the CPU run back to back without one). */
export async function turnIfLong(): Promise<void> {
  if (performance.now() - lastTurn >= turnAfterMs) await yieldToEventLoop();
}

/**
 * A collection point: yields to the event loop once enough nodes were made. (Sweeping the hash-cons table here
 * would defeat it: a WeakRef read keeps its target alive until the next turn; the table's finalizers clean it.)
 */
export async function collectIfDue(): Promise<void> {
  if (nodesMade() - madeAtLastTurn < collectEvery) return;
  madeAtLastTurn = nodesMade();
  await yieldToEventLoop();
}
