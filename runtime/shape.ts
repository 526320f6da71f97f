// Checking and combining the shapes and axes callers give: one-line errors that name the op.
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A shape given by the caller: a list of non-negative integers, or a one-line error naming `op`. @internal */
export function checkShape(shape: unknown, op: string): readonly number[] {
  if (!Array.isArray(shape) && !ArrayBuffer.isView(shape))
    throw new Error(`${op}: shape must be a list of sizes, got ${JSON.stringify(shape)}`);
  const dims = Array.from(shape as ArrayLike<unknown>),
    show = (d: unknown) => (typeof d === 'number' ? String(d) : (JSON.stringify(d) ?? String(d)));
  const bad = dims.findIndex((d) => !Number.isSafeInteger(d) || (d as number) < 0);
  if (bad >= 0)
    throw new Error(
      `${op}: shape [${dims.map(show).join(', ')}] must hold non-negative integers (${show(dims[bad])} is not one)`,
    );
  return shape as readonly number[];
}

export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - n + i] ?? 1;
      if (x !== 1 && d !== 1 && x !== d)
        throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot broadcast`);
      if (x !== 1) d = x;
    }
    out.push(d);
  }
  return out;
}

/** An axis given by the caller, made non-negative, or a one-line error naming `op`. @internal */
export function normAxis(op: string, axis: number, ndim: number): number {
  const n = Math.max(ndim, 1); // PyTorch lets a 0-d tensor name dim 0 or -1
  const a = axis < 0 ? axis + n : axis;
  if (!Number.isInteger(a) || a < 0 || a >= n)
    throw new Error(`${op}: axis ${axis} is out of range for a tensor with ${ndim} dims`);
  return a;
}
