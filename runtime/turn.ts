// Collection points. Hash-consed nodes (codegen/uop.ts) are held through WeakRefs, and an engine frees a WeakRef's
// target, and runs finalizers, only once the event loop turns: a loop that awaits nothing but already-settled
// promises (CPU kernels, device copies that finish synchronously) would keep every node it ever made. realize and
// jit replays therefore give the event loop a turn once enough nodes were made since the last one: memory stays
// bounded by that many nodes whatever the caller's loop does, at the price of one setImmediate per that many nodes.
import { nodesMade } from '../codegen/uop.js';

/** Nodes made between collection points: a few MB of graph at most. */
let collectEvery = 20_000;
let madeAtLastTurn = 0;
/** Tests set how many nodes pass between collection points (Infinity: never collect). @internal */
export const setCollectEvery = (n: number): void => { collectEvery = n; };

/** Resolves after the event loop has handled what is pending (I/O, timers, finalizers). */
export const yieldToEventLoop = (): Promise<void> =>
  new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));

/**
 * A collection point: yields to the event loop once enough nodes were made. (Sweeping the hash-cons table here
 * would defeat it: a WeakRef read keeps its target alive until the next turn; the table's finalizers clean it.)
 */
export async function collectIfDue(): Promise<void> {
  if (nodesMade() - madeAtLastTurn < collectEvery) return;
  madeAtLastTurn = nodesMade();
  await yieldToEventLoop();
}
