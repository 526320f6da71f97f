// The profiler records every launch with its fused ops and stage; tables and traces add up.
import { describe, expect, test } from 'vitest';
import { byOp, byStage, chromeTrace, profile, randn, setStage, stats } from '../index.js';

describe('profile', () => {
  test('events per launch, attributed to composite ops and stages; the trace has one event each', async () => {
    const [x, w, k] = await Promise.all([
      randn([1, 4, 8, 8], { seed: 1 }).realize(),
      randn([8, 4, 3, 3], { seed: 2 }).realize(),
      randn([16, 8], { seed: 3 }).realize(),
    ]);
    const before = stats.kernels;
    const { events } = await profile(async () => {
      setStage('conv');
      const y = await x.conv2d(w, undefined, { padding: 1 }).relu().realize();
      setStage('head');
      await y.reshape([8, 64]).T.matmul(k.T).softmax(-1).realize();
    });
    expect(events).toHaveLength(stats.kernels - before);
    expect(events.map((e) => e.stage)).toEqual(['conv', ...new Array(events.length - 1).fill('head')]);
    expect(events[0]!.ops).toEqual(['conv2d']);
    expect(events[0]!.flops).toBeGreaterThanOrEqual(2 * 8 * 64 * 4 * 9);
    const total = events.reduce((a, e) => a + e.ms, 0);
    const rows = byOp(events);
    expect(rows.map((r) => r.op)).toEqual(expect.arrayContaining(['conv2d', 'matmul', 'softmax']));
    expect(rows.reduce((a, r) => a + r.ms, 0)).toBeCloseTo(total, 6);
    expect(rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1, 6);
    expect([...byStage(events).keys()]).toEqual(['conv', 'head']);
    const trace = chromeTrace(events).traceEvents;
    // metadata names the integer pid (the device) and tids (the stages); then one complete event per kernel
    expect(trace.filter((e) => e.ph === 'M')).toEqual([
      { ph: 'M', name: 'process_name', pid: 1, tid: 0, args: { name: 'cpu' } },
      { ph: 'M', name: 'thread_name', pid: 1, tid: 1, args: { name: 'conv' } },
      { ph: 'M', name: 'thread_name', pid: 1, tid: 2, args: { name: 'head' } },
    ]);
    const kernels = trace.filter((e) => e.ph === 'X');
    expect(kernels).toHaveLength(events.length);
    expect(kernels[0]).toMatchObject({ pid: 1, tid: 1, name: events[0]!.name });
    expect(kernels.at(-1)).toMatchObject({ pid: 1, tid: 2 });
  });
});
