// Movement ops never copy: each maps an index into its output to an index into its source (plus a
// validity for padding). Chains of them compose into one simplified index expression per load.
import { add, and, idiv, int, lt, mod, mul } from '../codegen/alu.js';
import type { UOp } from '../codegen/uop.js';
import { constOf } from '../codegen/uop.js';

export interface WindowArg {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
}

export const contiguousStrides = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
};

/** Index (and validity) into node.src[0] for an index into the movement node. */
export function sourceIndex(node: UOp, idx: readonly UOp[]): { idx: UOp[]; valid: UOp } {
  const src = node.src[0]!;
  let valid = constOf(true, 'bool');
  switch (node.op) {
    case 'RESHAPE': {
      const ostr = contiguousStrides(node.shape);
      let flat = int(0);
      node.shape.forEach((n, i) => {
        if (n !== 1) flat = add(flat, mul(idx[i]!, int(ostr[i]!)));
      });
      const sstr = contiguousStrides(src.shape);
      return { idx: src.shape.map((n, i) => (n === 1 ? int(0) : mod(idiv(flat, sstr[i]!), n))), valid };
    }
    case 'PERMUTE': {
      const order = node.arg as number[],
        out = new Array<UOp>(order.length);
      order.forEach((o, i) => {
        out[o] = idx[i]!;
      });
      return { idx: out, valid };
    }
    case 'EXPAND':
      return { idx: src.shape.map((n, i) => (n === 1 ? int(0) : idx[i]!)), valid };
    case 'SHRINK':
      return { idx: (node.arg as [number, number][]).map(([lo], i) => add(idx[i]!, int(lo))), valid };
    case 'FLIP':
      return {
        idx: (node.arg as boolean[]).map((f, i) => (f ? add(mul(idx[i]!, int(-1)), int(src.shape[i]! - 1)) : idx[i]!)),
        valid,
      };
    case 'PAD': {
      const out = (node.arg as [number, number][]).map(([before], i) => {
        if (before === 0 && node.shape[i] === src.shape[i]) return idx[i]!;
        valid = and(valid, and(lt(int(before - 1), idx[i]!), lt(idx[i]!, int(before + src.shape[i]!))));
        return add(idx[i]!, int(-before));
      });
      return { idx: out, valid };
    }
    case 'WINDOW': {
      // src [..., *spatial] -> node [..., *out, *kernel]: spatial = out*stride + k*dilation
      const { kernel, stride, dilation } = node.arg as unknown as WindowArg;
      const nsp = kernel.length,
        lead = src.shape.length - nsp;
      const out = idx.slice(0, lead);
      for (let j = 0; j < nsp; j++) {
        out.push(add(mul(idx[lead + j]!, int(stride[j]!)), mul(idx[lead + nsp + j]!, int(dilation[j]!))));
      }
      return { idx: out, valid };
    }
    default:
      throw new Error(`sourceIndex: ${node.op} is not a movement op`);
  }
}
