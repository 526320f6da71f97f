// Contributed kernels as the scheduler sees them: a CUSTOM node (runtime/composite.ts makes them) becomes a Kernel
// that keeps its target sources, or one built from its IR here; the strides of an input view decide what it reads.
import type { Caps } from '../backends/backend.js';
import type { Kernel, Opt } from '../codegen/kernel.js';
import { globalRanges, linearIndex } from '../codegen/kernel.js';
import { add, alu, int } from '../codegen/alu.js';
import { UOp, constOf, isMovement } from '../codegen/uop.js';
import type { CompositeArgs, CompositeOp, IrBuilder, KernelDef } from '../kernels/define.js';
import { kernels } from '../kernels/index.js';

/** The registry's kernels and those added at run time (set by runtime/composite.ts). */
export let registered = (): readonly KernelDef[] => kernels as readonly KernelDef[];
export const setRegistered = (f: () => readonly KernelDef[]): void => {
  registered = f;
};
import { sourceIndex } from './view.js';

/** Generated kernels whose actions a kernel of kind 'opts' pins (set by runtime/composite.ts). */
export const pinned = new WeakMap<UOp, { readonly name: string; readonly opts: readonly Opt[] }>();

/**
 * The base node and strides of a view: walks movement ops down to a node that is not one, if the walk keeps the flat
 * index an affine function of the view's indices (permutes, expands, contiguous reshapes, shrinks); else the view is
 * its own base, read contiguously.
 */
export function strided(u: UOp): { base: UOp; strides: number[]; offset: number } {
  // a size-1 dim has stride 0, as in a strided view below: a kernel tells a broadcast dim by it
  const contiguous = {
    base: u,
    strides: u.shape.map((n, i) => (n === 1 ? 0 : u.shape.slice(i + 1).reduce((a, b) => a * b, 1))),
    offset: 0,
  };
  if (!isMovement(u.op)) return contiguous;
  const globals = globalRanges(u.shape);
  let node = u,
    idx: UOp[] = globals;
  while (isMovement(node.op)) {
    const s = sourceIndex(node, idx);
    if (!(s.valid.isConst && s.valid.constValue === true)) return contiguous; // padding: not a strided view
    idx = s.idx;
    node = node.src[0]!;
  }
  const flat = linearIndex(node.shape, idx);
  if (flat.toposort().some((x) => x.op === 'IDIV' || x.op === 'MOD')) return contiguous;
  const at = (point: readonly number[]): number => {
    const m = new Map(globals.flatMap((g, d) => (g.op === 'RANGE' ? [[g, int(point[d]!)] as [UOp, UOp]] : [])));
    const v = substituteAll(flat, m);
    return Number(v.constValue);
  };
  const offset = at(u.shape.map(() => 0));
  return {
    base: node,
    strides: u.shape.map((n, d) => (n === 1 ? 0 : at(u.shape.map((_, e) => +(e === d))) - offset)),
    offset,
  };
}

/** Replaces ranges by constants in an index expression and folds it. */
function substituteAll(u: UOp, m: ReadonlyMap<UOp, UOp>): UOp {
  const hit = m.get(u);
  if (hit) return hit;
  if (!u.src.length) return u;
  return alu(
    u.op as never,
    u.src.map((s) => substituteAll(s, m)),
    u.dtype,
  );
}

/** The definition a CUSTOM node names. */
export const kernelDef = (name: string): KernelDef => {
  const def = registered().find((k) => k.name === name);
  if (!def) throw new Error(`kernels: no kernel named ${name}`);
  return def;
};

/**
 * The Kernel a CUSTOM node runs as: a source kernel keeps its sources, values and launch geometry; an IR kernel is
 * built here into stores over its params (output 0, then the inputs), a kernel like any other.
 */
export function customKernel(node: UOp, caps: Caps): Kernel {
  const { kernel: name, args } = node.arg as unknown as { kernel: string; args: CompositeArgs[CompositeOp] };
  const def = kernelDef(name),
    inputs = node.src;
  const kname = `c_${name}_${node.shape.filter((n) => n > 1).join('x') || '1'}`;
  const params = [
    { dtype: node.dtype, numel: node.numel, write: true },
    ...inputs.map((u) => ({ dtype: u.dtype, numel: u.numel, write: false })),
  ];
  if (def.impl.kind === 'source') {
    const impl = def.impl,
      launch = impl.launch(args as never, caps);
    const sources = Object.fromEntries(
      Object.entries(impl.sources).map(([t, f]) => [t, f!(node.dtype, args as never, caps)]),
    );
    const values = impl.values(args as never);
    return {
      name: kname,
      shape: node.shape,
      params,
      stores: [],
      ops: [def.op],
      vars: values.map(() => 'i32'),
      custom: { name, sources, values, grid: launch.grid, block: launch.block },
    };
  }
  if (def.impl.kind !== 'ir') throw new Error(`kernels: ${name} pins optimizer actions; it is no CUSTOM node`);
  const store = def.impl.build(builder(def.name, inputs, node.shape), args as never, {
    shape: node.shape,
    dtype: node.dtype,
  });
  return { name: kname, shape: node.shape, params, stores: [alu('CAST', [store], node.dtype)], ops: [def.op] };
}

/**
 * The IR builders over a kernel's inputs (param 1, 2, …; the output, param 0, is written at every point of `shape`).
 */
function builder(name: string, inputs: readonly UOp[], shape: readonly number[]): IrBuilder {
  let ranges = 0;
  const f = (v: number) => constOf(v, 'f32'),
    globals = globalRanges(shape);
  return {
    global: (d) => globals[d]!,
    load: (i, index, valid) => {
      if (!inputs[i])
        throw new Error(`kernels: ${name}: load(${i}), but this call has ${inputs.length} inputs (those present)`);
      return alu(
        'CAST',
        [
          UOp.make('LOAD', inputs[i]!.dtype, [
            UOp.make('PARAM', inputs[i]!.dtype, [], i + 1),
            index,
            valid ?? constOf(true, 'bool'),
          ]),
        ],
        'f32',
      );
    },
    reduce: (op, extent, body) => {
      const r = UOp.make('RANGE', 'i32', [], { id: shape.length + ranges++, extent, kind: 'reduce' });
      const value = body(r);
      return UOp.make('REDUCE', value.dtype, [value, r], op);
    },
    int,
    float: f,
    add: (a, b) => alu('ADD', [a, b]),
    sub: (a, b) => alu('ADD', [a, alu('NEG', [b])]),
    mul: (a, b) => alu('MUL', [a, b]),
    div: (a, b) => alu('FDIV', [a, b]),
    exp: (a) => alu('EXP', [a]),
    max: (a, b) => alu('MAX', [a, b]),
    sqrt: (a) => alu('SQRT', [a]),
    idiv: (a, b) => alu('IDIV', [a, b]),
    mod: (a, b) => alu('MOD', [a, b]),
    lt: (a, b) => alu('CMPLT', [a, b]),
    and: (a, b) => alu('AND', [a, b]),
    where: (c, a, b) => alu('WHERE', [c, a, b]),
    at: (input, idx) => idx.reduce((acc, x, d) => add(acc, alu('MUL', [x, int(input.strides[d]!)])), int(input.offset)),
  };
}
