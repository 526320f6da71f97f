// TC through PTX mma.sync (CUDA): the fragment layouts as data, the inline-PTX helpers, and a tile's matrix
// operations. A lane's A and B registers come from the staged chunks by ldmatrix, one instruction for all the 8×8
// matrices of a fragment: where the layout puts each lane's elements decides whether ldmatrix can (and whether
// transposed), and each lane's row address is computed from that data, never written per shape. C is scattered to the
// tile in workgroup memory where the layout puts it.
import type { FragmentLayout, TensorCore } from '../backends/backend.js';
import type { DType } from './dtype.js';
import { type MmaArg, pieces } from './tensorcore.js';

/**
 * m16n8k16's fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16"): a lane's group (lane / 4) picks rows of A
 * and C and the column of B, its place in the group (lane % 4) pairs of columns of A and C and of rows of B.
 */
/** A's and C's lane steps: the lane's place in its group picks a column pair, its group (lane bits 2-4) the row. */
const rowsByGroup: FragmentLayout['lane'] = [
  [0, 2],
  [0, 4],
  [1, 0],
  [2, 0],
  [4, 0],
];
export const m16n8k16: NonNullable<TensorCore['layout']> = {
  a: {
    lane: rowsByGroup,
    elem: [
      [0, 1],
      [8, 0],
      [0, 8],
    ],
  },
  b: {
    lane: [
      [2, 0],
      [4, 0],
      [0, 1],
      [0, 2],
      [0, 4],
    ],
    elem: [
      [1, 0],
      [8, 0],
    ],
  },
  c: {
    lane: rowsByGroup,
    elem: [
      [0, 1],
      [8, 0],
    ],
  },
};

/** Where a step of (rows, cols) of a fragment moves in memory, in elements. */
type Stride = (step: readonly [number, number]) => number;

/**
 * An ldmatrix that loads a 16-bit fragment: `count` 8×8 matrices (one a register), transposed or not. Lane l gives
 * the address of row l % 8 of matrix l / 8: that matrix's origin plus (l % 8) · rowStride.
 */
interface MatrixLoad {
  readonly count: number;
  readonly trans: boolean;
  readonly rowStride: number;
  readonly origins: readonly number[];
}

/**
 * How ldmatrix loads fragment `l` from memory laid out by `ld`, or why it cannot. ldmatrix gives lane l the elements
 * 2(l % 4) and 2(l % 4) + 1 of row l / 4 of each matrix (transposed: of column l / 4, from rows 2(l % 4) and
 * 2(l % 4) + 1), rows of 8 adjacent elements 16-byte aligned: so the register pair must be a unit step, lane bits 0-1
 * two and four of it, bits 2-4 steps of 1, 2, 4 across (or, transposed, the other way round), and every matrix's
 * origin and row a whole number of 8 elements from the (aligned) base.
 */
export function matrixLoad(l: FragmentLayout, ld: Stride): MatrixLoad | string {
  const [pair, ...regs] = l.elem.map(ld),
    lanes = l.lane.map(ld);
  if (pair === undefined || lanes.length !== 5) return 'its fragment is not 16-bit pairs over 32 lanes';
  const trans = pair !== 1,
    rowStride = trans ? pair : lanes[2]!;
  const want = trans ? [2 * pair, 4 * pair, 1, 2, 4] : [2, 4, rowStride, 2 * rowStride, 4 * rowStride];
  if (rowStride < 8 || lanes.some((x, i) => x !== want[i]))
    return 'its lanes do not hold the elements ldmatrix gives them';
  const origins = Array.from({ length: 2 ** regs.length }, (_, j) =>
    regs.reduce((sum, step, i) => sum + (j & (1 << i) ? step : 0), 0),
  );
  if (origins.length > 4) return `its ${origins.length} registers are more than one ldmatrix loads`;
  if (rowStride % 8 || origins.some((o) => o % 8)) return 'its rows are not 16-byte aligned';
  return { count: origins.length, trans, rowStride, origins };
}

const ptx = (d: DType): string => (d === 'bf16' ? 'bf16' : 'f16');
/** The helper that runs one mma.sync (an emulator brings its own). */
const mmaName = (t: TensorCore): string => `pg_mma_m${t.m}n${t.n}k${t.k}_${ptx(t.input)}`;
const loadName = (x: MatrixLoad): string => `pg_ldmatrix_x${x.count}${x.trans ? '_trans' : ''}`;
const regs = (l: FragmentLayout, bits: number): number => 2 ** l.elem.length / (32 / bits);
/** A: (row, k) at k * lda + row; B: (k, col) at k * ldb + col; C: (row, col) at row * n + col. */
const strides = (s: MmaArg): { a: Stride; b: Stride; c: Stride } => ({
  a: ([r, c]) => r + s.lda * c,
  b: ([r, c]) => r * s.ldb + c,
  c: ([r, c]) => r * s.n + c,
});

/** How the operands of an s-shaped tile are loaded for unit t (the renderer throws where ldmatrix cannot). */
function loads(t: TensorCore, s: MmaArg): { a: MatrixLoad; b: MatrixLoad } {
  const ld = strides(s);
  const [a, b] = [matrixLoad(t.layout!.a, ld.a), matrixLoad(t.layout!.b, ld.b)];
  if (typeof a === 'string' || typeof b === 'string') {
    const why = Object.entries({ A: a, B: b }).flatMap(([name, x]) => (typeof x === 'string' ? [`${name}: ${x}`] : []));
    throw new Error(`cuda: mma.sync m${t.m}n${t.n}k${t.k}: ldmatrix cannot load ${why.join('; ')}`);
  }
  return { a, b };
}

/** The offset of a lane's element from its fragment's origin where a step moves `ld`. */
function laneOffset(l: FragmentLayout, ld: Stride): string {
  const terms = l.lane.flatMap((st, j) => (ld(st) ? [`((pl >> ${j}) & 1) * ${ld(st)}`] : []));
  return terms.length ? terms.join(' + ') : '0';
}
/** The row a lane gives ldmatrix: row l % 8 of matrix l / 8 (lanes past the matrices repeat the first ones). */
function rowAddress(x: MatrixLoad): string {
  const bits = Math.log2(x.count);
  const matrix = Array.from({ length: bits }, (_, i) => `((pl >> ${3 + i}) & 1) * ${x.origins[1 << i]}`);
  return [`(pl & 7) * ${x.rowStride}`, ...matrix].join(' + ');
}

/** The helpers' definitions for the mma.sync units listed: inline PTX, C accumulated in place. */
export function mmaSyncHelpers(cores: readonly TensorCore[]): string[] {
  const sync = cores.filter((t) => t.api === 'mma.sync' && t.layout);
  if (!sync.length) return [];
  // on the unit's own shape as a tile: which ldmatrix a layout takes does not depend on the tile
  const lds = new Map(
    sync
      .flatMap((t) => Object.values(loads(t, { m: t.m, n: t.n, k: t.k, warp: 0, lda: t.m, ldb: t.n })))
      .map((x) => [loadName(x), x]),
  );
  const list = (n: number, from: number) => `{${Array.from({ length: n }, (_, i) => `%${from + i}`).join(', ')}}`;
  // guarded, so sources compiled together (or an emulator that brings its own) define them once
  return [
    '#ifndef PG_MMA_SYNC',
    '#define PG_MMA_SYNC',
    ...sync.map((t) => {
      const [a, b, c] = [regs(t.layout!.a, 16), regs(t.layout!.b, 16), regs(t.layout!.c, 32)];
      const out = Array.from({ length: c }, (_, i) => `"+f"(c[${i}])`).join(', ');
      const ins = [
        ...Array.from({ length: a }, (_, i) => `"r"(a[${i}])`),
        ...Array.from({ length: b }, (_, i) => `"r"(b[${i}])`),
      ];
      return (
        `__device__ __forceinline__ void ${mmaName(t)}(float* c, const unsigned* a, const unsigned* b) { ` +
        'asm volatile(' +
        `"mma.sync.aligned.m${t.m}n${t.n}k${t.k}.row.col.f32.${ptx(t.input)}.${ptx(t.input)}.f32 ` +
        `${list(c, 0)}, ${list(a, c)}, ${list(b, c + a)}, ${list(c, 0)};" : ${out} : ${ins.join(', ')}); }`
      );
    }),
    ...[...lds].map(([name, x]) => {
      const out = Array.from({ length: x.count }, (_, i) => `"=r"(r[${i}])`).join(', ');
      return (
        `__device__ __forceinline__ void ${name}(unsigned* r, const void* row) { ` +
        `asm volatile("ldmatrix.sync.aligned.m8n8.x${x.count}${x.trans ? '.trans' : ''}.shared.b16 ` +
        // "memory": it reads workgroup memory the fills wrote, so no store may move across it
        `${list(x.count, 0)}, [%${x.count}];" : ${out} : "r"((unsigned)__cvta_generic_to_shared(row)) : "memory"); }`
      );
    }),
    '#endif',
  ];
}

/** The accumulator of an s-shaped tile multiplied by mma.sync unit t: each lane's C elements of every piece. */
export const mmaSyncDeclare = (acc: string, s: MmaArg, t: TensorCore): string =>
  `float ${acc}[${pieces(s, t).length * 2 ** t.layout!.c.elem.length}] = {};`;

/**
 * One chunk's A·B added to the accumulator: each row of pieces loads its A once and each column its B, by ldmatrix
 * from the chunks at a (A column-major) and b (B row-major).
 */
export function mmaSyncStep(acc: string, a: string, b: string, s: MmaArg, t: TensorCore): string {
  const x = loads(t, s),
    all = pieces(s, t);
  const rows = [...new Set(all.map((p) => p.row))],
    cols = [...new Set(all.map((p) => p.col))];
  const lines = [
    'const int pl = (int)threadIdx.x % 32;',
    `const unsigned short* pa = (const unsigned short*)(${a}) + ${rowAddress(x.a)};`,
    `const unsigned short* pb = (const unsigned short*)(${b}) + ${rowAddress(x.b)};`,
    ...rows.map((row, i) => `unsigned fa${i}[${x.a.count}]; ${loadName(x.a)}(fa${i}, pa + ${row});`),
    ...cols.map((col, j) => `unsigned fb${j}[${x.b.count}]; ${loadName(x.b)}(fb${j}, pb + ${col});`),
    ...all.map(
      ({ row, col }, p) =>
        `${mmaName(t)}(${acc} + ${p * 2 ** t.layout!.c.elem.length}, fa${rows.indexOf(row)}, fb${cols.indexOf(col)});`,
    ),
  ];
  return `{ ${lines.join(' ')} }`;
}

/** The accumulator written row-major to the tile at c, each lane's elements where C's layout puts them. */
export function mmaSyncStore(c: string, acc: string, s: MmaArg, t: TensorCore): string {
  const l = t.layout!.c,
    ld = strides(s).c,
    per = 2 ** l.elem.length;
  const at = (e: number): number => l.elem.reduce((sum, st, i) => sum + (e & (1 << i) ? ld(st) : 0), 0);
  const stores = pieces(s, t).flatMap(({ row, col }, p) =>
    Array.from({ length: per }, (_, e) => `pc[${row * s.n + col + at(e)}] = ${acc}[${p * per + e}];`),
  );
  return `{ const int pl = (int)threadIdx.x % 32; float* pc = ${c} + ${laneOffset(l, ld)}; ${stores.join(' ')} }`;
}
