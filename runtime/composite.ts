// Composite ops and contributed kernels. A composite op (matmul, softmax, attention, conv2d, layerNorm, groupNorm)
// builds its generated graph, then asks the registry (kernels/index.ts) for a kernel that applies:
// POLYGRAD_KERNELS=custom takes the first that applies, auto (the default) only one that `polygrad kernels bench`
// measured faster on this device, generated none. A source or IR kernel becomes one CUSTOM node over the op's inputs
// (a fusion barrier); an opts kernel pins optimizer actions on the generated kernel that computes the op.
import type { Backend } from '../backends/backend.js';
import { UOp } from '../codegen/uop.js';
import {
  type CompositeArgs,
  type CompositeOp,
  type KernelDef,
  type KernelInput,
  inputOrder,
  targetOf,
} from '../kernels/define.js';
import { kernels } from '../kernels/index.js';
import { pinned, setRegistered, strided } from './custom.js';
import { readCache } from './cachefile.js';
import { envFlag } from './debug.js';
import { getDevice } from './device.js';
import type { Tensor } from './tensor.js';

export type KernelMode = 'auto' | 'generated' | 'custom';
const modes: readonly KernelMode[] = ['auto', 'generated', 'custom'];
/** `m` as a mode, or an error naming `setting` and the modes. */
function asMode(setting: string, m: string): KernelMode {
  if (!(modes as readonly string[]).includes(m))
    throw new Error(`${setting}=${m}: expected one of ${modes.join(', ')}`);
  return m as KernelMode;
}
let mode = asMode('POLYGRAD_KERNELS', envFlag('POLYGRAD_KERNELS') || 'auto');
/**
 * Which kernels composite ops built from now on use: `generated` (never contributed ones), `custom` (whenever one
 * applies), `auto` (where `polygrad kernels bench` measured one faster on this device; never in a browser, which has
 * no measurements).
 */
export const setKernelMode = (m: KernelMode): void => {
  mode = asMode('setKernelMode', m);
};
let only: string | undefined;
/** @internal Under `custom`, consider only the kernel of this name (checks and benchmarks of one kernel). */
export const onlyKernel = (name: string | undefined): void => {
  only = name;
};
export const kernelMode = (): KernelMode => mode;

/** Per device description, per kernel: time of the generated path over the kernel's (> 1: the kernel is faster). */
export type Measurements = Readonly<Record<string, Readonly<Record<string, number>>>>;
let measured: Measurements = await loadMeasured();
/** The measurements `auto` goes by (`polygrad kernels bench` writes them to the cache; tests set their own). */
export const setMeasured = (m: Measurements): void => {
  measured = m;
};
export const measurements = (): Measurements => measured;

/** The measurements in $POLYGRAD_CACHE/kernels.json, which `polygrad kernels bench` writes. */
async function loadMeasured(): Promise<Measurements> {
  const check = (d: unknown): string | undefined => {
    const data = d as { version?: number; devices?: unknown };
    return data?.version !== 1 || typeof data.devices !== 'object' ? 'not a version 1 kernel cache' : undefined;
  };
  return (await readCache<{ devices: Measurements }>('kernels.json', 'kernel cache', check))?.devices ?? {};
}

const view = (t: Tensor): KernelInput => {
  const s = strided(t.node('kernels'));
  return { shape: t.shape, dtype: t.dtype, strides: s.strides, offset: s.offset };
};

/** Whether every tensor fits one device buffer (contributed kernels do not read chunked tensors). */
const fits = (backend: Backend, ts: readonly Tensor[]): boolean =>
  ts.every((t) => 4 * t.numel <= backend.caps.maxBufferBytes);

/** Kernels added at run time (a kernel file under test before it is in kernels/index.ts). */
const added: KernelDef[] = [];
/** @internal Adds a kernel to the registry for this process. */
export function registerKernel(def: KernelDef): void {
  if (registry().some((k) => k.name === def.name))
    throw new Error(`kernels: a kernel named ${def.name} is registered already`);
  added.push(def);
}
export const registry = (): readonly KernelDef[] => [...(kernels as readonly KernelDef[]), ...added];
setRegistered(registry);

/**
 * The op as a contributed kernel where one applies (and the mode allows), else `generated` itself: the generated
 * graph is built first, so the kernel knows the result's shape and dtype and the fallback costs nothing.
 */
/** What a call of the op passes: its arguments, with tensors where a kernel gets a KernelInput. */
export type CompositeInputs<Op extends CompositeOp> = {
  readonly [K in keyof CompositeArgs[Op]]: Exclude<CompositeArgs[Op][K], undefined> extends KernelInput
    ? Tensor | Extract<CompositeArgs[Op][K], undefined>
    : CompositeArgs[Op][K];
};

export function composite<Op extends CompositeOp>(op: Op, inputs: CompositeInputs<Op>, generated: Tensor): Tensor {
  if (mode === 'generated') return generated;
  const backend = getDevice(generated.device);
  // the Tensor class through an instance: this module sits below tensor.ts, which calls it
  const isTensor = (v: unknown): v is Tensor => v instanceof generated.constructor;
  const tensors = inputOrder[op].map((k) => (inputs as Record<PropertyKey, unknown>)[k]).filter(isTensor);
  if (!fits(backend, [...tensors, generated])) return generated;
  const args = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, isTensor(v) ? view(v) : v]),
  ) as unknown as CompositeArgs[Op];
  for (const def of registry()) {
    if (only !== undefined && def.name !== only) continue;
    if (
      def.op !== op ||
      !def.devices.some((d) => targetOf[d] === backend.language.name) ||
      !def.applies(args as never, backend.caps)
    )
      continue;
    if (mode === 'auto' && !((measured[backend.description]?.[def.name] ?? 0) > 1)) continue;
    if (def.impl.kind === 'opts') {
      pinned.set(generated.node(op), { name: def.name, opts: def.impl.opts });
      return generated;
    }
    // the node names the kernel and holds the op's arguments (the inputs' strides included) as plain data
    const bases = tensors.map((t) => strided(t.node(op)).base);
    return generated.make(
      UOp.make(
        'CUSTOM',
        generated.dtype,
        bases,
        { kernel: def.name, args: args as unknown as Record<string, unknown> },
        generated.shape,
      ),
      op,
    );
  }
  return generated;
}
