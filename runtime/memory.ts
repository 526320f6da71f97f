// Scopes that dispose every tensor made inside them except what they return. The current scope follows
// async calls (runtime/context.ts).
import { asyncContext } from './context.js';
import { realizeTensors } from './realize.js';
import type { Tensor } from './tensor.js';

type Scope = Set<Tensor>;

const store = asyncContext<Scope>();

export function track(t: Tensor): void {
  store.getStore()?.add(t);
}

function collect(v: unknown, into: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 8 || into.has(v)) return;
  into.add(v);
  for (const x of Array.isArray(v) ? v : Object.values(v as object)) collect(x, into, depth + 1);
}

/**
 * Runs fn; disposes every tensor created inside (also across await) except those in its result, which
 * are computed first: a lazy result reads tensors that the scope is about to dispose.
 */
export async function scope<R>(fn: () => Promise<R> | R): Promise<R> {
  const mine: Scope = new Set();
  const parent = store.getStore();
  let keep = new Set<unknown>(); // stays empty unless fn and the computing of its result succeed
  try {
    const result = await store.run(mine, fn);
    const found = new Set<unknown>();
    collect(result, found);
    const kept = [...mine].filter((t) => found.has(t) && !t.disposed);
    for (const b of await realizeTensors(kept, 'scope')) b.release();
    keep = found;
    return result;
  } finally {
    for (const t of mine) {
      if (keep.has(t)) parent?.add(t);
      else t.dispose();
    }
  }
}
