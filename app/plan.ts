// `polygrad plan neuralos`: does NeuralOS fit a device? Schedules one frame for a device with the given limits
// without running it (weights as shapes only) and prints kernels and launches per stage, launches per frame, bytes
// written by intermediates, the largest intermediate against the largest input, peak device memory, and any launch
// that breaks a limit (exit 1 then). --json prints one object.
import { existsSync, readFileSync } from 'node:fs';
import type { Caps } from '../backends/backend.js';
import { limitPresets, planNeuralOS } from '../models/neuralos/plan.js';
import { type Flags, UsageError, parseBytes } from './args.js';
import { configNamed } from './neuralos.js';

const gb = (n: number): string => `${(n / 1e9).toFixed(2)} GB`;

/** --limits FILE: a JSON object of device limits (Caps fields), or a usage error naming the flag. */
function limitsFile(name: string): Partial<Caps> & { target?: 'wgsl' | 'cuda' } {
  const presets = Object.keys(limitPresets).join(', ');
  if (!existsSync(name)) throw new UsageError(`--limits ${name}: neither a preset (${presets}) nor a JSON file`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(name, 'utf8'));
  } catch (e) {
    throw new UsageError(`--limits ${name}: not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UsageError(`--limits ${name}: expected a JSON object of device limits (maxBuffers, maxBufferBytes, …)`);
  return v as Partial<Caps>;
}

export async function planCommand(flags: Flags): Promise<number> {
  const config = typeof flags.config === 'string' ? flags.config : 'full';
  const cfg = configNamed(config);
  const dtype = flags.dtype === undefined ? 'f32' : flags.dtype;
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16')
    throw new UsageError(`--dtype must be f32, f16 or bf16, got ${String(dtype)}`);
  const name = typeof flags.limits === 'string' ? flags.limits : 'webgpu-default';
  const limits = limitPresets[name] ?? limitsFile(name);
  const memory = typeof flags.memory === 'string' ? parseBytes(flags.memory) : undefined;
  const plan = await planNeuralOS(cfg, { limits, like: name, dtype });
  const violations = [
    ...plan.violations,
    ...(memory !== undefined && plan.peakBytes > memory
      ? [`peak device memory ${gb(plan.peakBytes)} exceeds --memory ${gb(memory)}`]
      : []),
  ];
  if (flags.json) {
    console.log(JSON.stringify({ ...plan, violations }));
  } else {
    console.log(`NeuralOS (${config}, ${dtype} weights) planned for ${name}: ${plan.device}`);
    for (const s of plan.stages) {
      console.log(
        `  ${s.stage.padEnd(12)} ${String(s.kernels).padStart(4)} kernels, ${String(s.launches).padStart(4)} ` +
          `launches; intermediates ${gb(s.intermediateBytes)}, largest ${gb(s.maxIntermediateBytes)} (largest input ` +
          `${gb(s.maxInputBytes)})`,
      );
    }
    console.log(
      `  launches per frame: ${plan.launchesPerFrame['8']} at 8 steps, ${plan.launchesPerFrame['32']} at 32 steps`,
    );
    console.log(
      `  device memory: weights ${gb(plan.weightBytes)}, peak ` +
        `${gb(plan.peakBytes)}${memory !== undefined ? ` of ${gb(memory)}` : ''}`,
    );
    console.log(
      violations.length
        ? `  does NOT fit:\n${violations.map((v) => `    ${v}`).join('\n')}`
        : '  fits: every launch within the device limits',
    );
  }
  return violations.length ? 1 : 0;
}
