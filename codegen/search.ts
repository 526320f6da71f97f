// Beam search over optimizer action lists (tinygrad's BEAM): from the unoptimized kernel and the heuristic's choice,
// each round extends the `width` fastest lists by every valid single action, times the new ones and keeps the
// fastest; it ends when a round finds nothing faster, nothing is left to try, or the time budget is spent.
import { type OptCaps, formatOpts, nextActions } from './actions.js';
import type { Kernel, Opt } from './kernel.js';

/** A list's time in ms, or undefined when it failed (did not compile, or computed something else). */
export type Measure = (opts: readonly Opt[]) => Promise<number | undefined>;

export interface SearchResult {
  /** The fastest list found, and its time. */
  readonly opts: readonly Opt[];
  readonly ms: number;
  /** Lists timed, lists that failed, and whether the budget ended the search. */
  readonly tried: number;
  readonly failed: number;
  readonly outOfTime: boolean;
}

/** Actions in a canonical order: lists that differ only in order are one candidate. */
export const canonical = (opts: readonly Opt[]): Opt[] =>
  [...opts].sort((a, b) => a.op.localeCompare(b.op) || a.axis - b.axis || a.amount - b.amount);

/** A round improves only by more than this fraction (timing noise does not keep a search going). */
const minGain = 0.02;

export async function beamSearch(
  k: Kernel,
  caps: OptCaps,
  starts: readonly (readonly Opt[])[],
  width: number,
  budgetMs: number,
  measure: Measure,
  now: () => number = () => performance.now(),
): Promise<SearchResult | undefined> {
  const end = now() + budgetMs,
    seen = new Set<string>(),
    timed: { opts: Opt[]; ms: number }[] = [];
  let failed = 0,
    outOfTime = false;
  const run = async (lists: readonly (readonly Opt[])[]): Promise<{ opts: Opt[]; ms: number }[]> => {
    const out: { opts: Opt[]; ms: number }[] = [];
    for (const l of lists) {
      const opts = canonical(l),
        key = formatOpts(opts);
      if (seen.has(key)) continue;
      if (now() > end) {
        outOfTime = true;
        break;
      }
      seen.add(key);
      const ms = await measure(opts);
      if (ms === undefined) failed++;
      else out.push({ opts, ms });
    }
    timed.push(...out);
    return out.sort((a, b) => a.ms - b.ms);
  };
  let beam = (await run(starts)).slice(0, width);
  if (!beam.length) return undefined;
  let best = beam[0]!;
  while (!outOfTime) {
    const next = await run(beam.flatMap((b) => nextActions(k, b.opts, caps)));
    if (!next.length || next[0]!.ms >= best.ms * (1 - minGain)) break;
    best = next[0]!;
    beam = next.slice(0, width);
  }
  return { opts: best.opts, ms: best.ms, tried: timed.length, failed, outOfTime };
}
