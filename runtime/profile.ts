// Per-kernel profiling: while profile() runs, every launch is timed (device timestamps where the backend
// has them) and recorded with the ops fused into it and the caller's stage label; the events roll up
// into a per-op table and export as Chrome-trace JSON (Perfetto opens it).
export interface KernelEvent {
  readonly name: string;
  readonly device: string;
  readonly ops: readonly string[];
  readonly stage: string;
  readonly start: number;
  readonly ms: number;
  readonly flops: number;
  readonly bytes: number;
}
export interface OpRow {
  readonly op: string;
  readonly ms: number;
  readonly share: number;
  readonly gflops: number;
  readonly gbs: number;
  readonly launches: number;
}

let events: KernelEvent[] | undefined;
let t0 = 0;
let currentStage = '';

export const profiling = (): boolean => events !== undefined;
/** Labels the kernels launched from now on (e.g. a model's stages). */
export function setStage(name: string): void {
  currentStage = name;
}
/** The label setStage gave the kernels launched now. */
export const stage = (): string => currentStage;
export function record(e: Omit<KernelEvent, 'start'> & { startAbs: number }): void {
  events?.push({
    name: e.name,
    device: e.device,
    ops: e.ops,
    ms: e.ms,
    flops: e.flops,
    bytes: e.bytes,
    stage: e.stage,
    start: e.startAbs - t0,
  });
}

export async function profile<R>(fn: () => Promise<R>): Promise<{ result: R; events: KernelEvent[] }> {
  if (events) throw new Error('profile: already profiling');
  events = [];
  t0 = performance.now();
  try {
    const result = await fn();
    return { result, events };
  } finally {
    events = undefined;
    currentStage = '';
  }
}

/** Time by fused-op provenance: a kernel's time is split evenly over the ops fused into it (an estimate). */
export function byOp(evs: readonly KernelEvent[]): OpRow[] {
  const acc = new Map<string, { ms: number; flops: number; bytes: number; launches: number }>();
  const total = evs.reduce((a, e) => a + e.ms, 0);
  for (const e of evs) {
    const ops = e.ops.length ? e.ops : [e.name];
    for (const op of ops) {
      const r = acc.get(op) ?? { ms: 0, flops: 0, bytes: 0, launches: 0 };
      r.ms += e.ms / ops.length;
      r.flops += e.flops / ops.length;
      r.bytes += e.bytes / ops.length;
      r.launches++;
      acc.set(op, r);
    }
  }
  return [...acc]
    .map(([op, r]) => ({
      op,
      ms: r.ms,
      share: total ? r.ms / total : 0,
      gflops: r.flops / r.ms / 1e6,
      gbs: r.bytes / r.ms / 1e6,
      launches: r.launches,
    }))
    .sort((a, b) => b.ms - a.ms);
}

export function byStage(evs: readonly KernelEvent[]): Map<string, { ms: number; launches: number }> {
  const m = new Map<string, { ms: number; launches: number }>();
  for (const e of evs) {
    const r = m.get(e.stage) ?? { ms: 0, launches: 0 };
    r.ms += e.ms;
    r.launches++;
    m.set(e.stage, r);
  }
  return m;
}

export function formatTable(rows: readonly OpRow[]): string {
  const head =
    `${'op'.padEnd(20)} ${'ms'.padStart(10)} ${'share'.padStart(7)} ${'GFLOP/s'.padStart(9)} ` +
    `${'GB/s'.padStart(8)} ${'launches'.padStart(9)}`;
  return [
    head,
    ...rows.map(
      (r) =>
        `${r.op.padEnd(20)} ${r.ms.toFixed(2).padStart(10)} ${(100 * r.share).toFixed(1).padStart(6)}% ` +
        `${r.gflops.toFixed(2).padStart(9)} ${r.gbs.toFixed(2).padStart(8)} ${String(r.launches).padStart(9)}`,
    ),
  ].join('\n');
}

/** Chrome-trace JSON: one complete event per kernel, a process per device, a thread per stage. */
export function chromeTrace(evs: readonly KernelEvent[]): { traceEvents: Record<string, unknown>[] } {
  // integer pid/tid named by metadata events: Perfetto and speedscope both need numbers there
  const pids = new Map<string, number>(),
    tids = new Map<string, number>(),
    meta: Record<string, unknown>[] = [];
  const pidOf = (device: string): number => {
    let pid = pids.get(device);
    if (pid === undefined) {
      pids.set(device, (pid = pids.size + 1));
      meta.push({ ph: 'M', name: 'process_name', pid, tid: 0, args: { name: device } });
    }
    return pid;
  };
  const tidOf = (pid: number, stage: string): number => {
    const key = `${pid}/${stage}`;
    let tid = tids.get(key);
    if (tid === undefined) {
      tids.set(key, (tid = tids.size + 1));
      meta.push({ ph: 'M', name: 'thread_name', pid, tid, args: { name: stage } });
    }
    return tid;
  };
  const kernels = evs.map((e) => {
    const pid = pidOf(e.device);
    return {
      name: e.name,
      cat: 'kernel',
      ph: 'X',
      ts: Math.round(e.start * 1000),
      dur: Math.max(1, Math.round(e.ms * 1000)),
      pid,
      tid: tidOf(pid, e.stage || 'main'),
      args: { ops: e.ops.join(' '), gflop: e.flops / 1e9, mbytes: e.bytes / 1e6 },
    };
  });
  return { traceEvents: [...meta, ...kernels] };
}
