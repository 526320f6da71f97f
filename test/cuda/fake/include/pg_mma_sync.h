// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16} for the emulator (pg_emu.h), as a warp collective: each lane
// posts its A and B registers, waits for its warp, rebuilds A and B from every lane's registers and computes its own
// four C elements. Where a lane's elements sit is written from the PTX ISA's formulas ("Matrix Fragments for
// mma.m16n8k16 with floating point type": groupID = lane >> 2, threadID_in_group = lane % 4), independently of the
// layout data the renderer gathers registers with, so a wrong table there gives wrong products here (except a
// permutation of k that A and B share, which leaves every product's sum, on a GPU too, as it is).
// ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16 is a warp collective too: each lane posts the row address
// it gives, and takes its elements by the ISA's formulas ("Warp-level matrix load instruction: ldmatrix"): of matrix j,
// row lane / 4 (transposed: rows 2 (lane % 4) and 2 (lane % 4) + 1), elements 2 (lane % 4) and + 1 (transposed:
// element lane / 4), from rows 8j .. 8j + 7 at the addresses lanes 8j .. 8j + 7 posted.
// The inline-PTX helpers polygrad renders are skipped (PG_MMA_SYNC): these stand for them.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define PG_MMA_SYNC

/** One warp's posted registers: blocks run one at a time, so one set per warp of a block serves every launch. */
struct pg_mma_posted {
  unsigned a[32][4], b[32][2];
};
static pg_mma_posted pg_mma_warps[32];

inline float pg_mma_f16(unsigned bits) {
  const unsigned sign = bits >> 15 & 1, exp = bits >> 10 & 31, man = bits & 1023;
  const float mag = exp == 0    ? std::ldexp((float)man, -24)
                    : exp == 31 ? (man ? NAN : INFINITY)
                                : std::ldexp((float)(man | 1024), (int)exp - 25);
  return sign ? -mag : mag;
}
inline float pg_mma_bf16(unsigned bits) {
  const uint32_t u = bits << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/** D = A·B + C in place for this lane's c[0..3]; `half` reads one 16-bit element. */
inline void pg_mma_m16n8k16(float *c, const unsigned *a, const unsigned *b, float (*half)(unsigned)) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned lane = t % 32, warp = t / 32;
  pg_mma_posted &p = pg_mma_warps[warp];
  std::memcpy(p.a[lane], a, sizeof p.a[lane]);
  std::memcpy(p.b[lane], b, sizeof p.b[lane]);
  pg_emu_wait(true);
  float A[16][16], B[16][8];
  for (unsigned l = 0; l < 32; l++) {
    const unsigned group = l >> 2, in_group = l % 4;
    for (unsigned i = 0; i < 8; i++) { // a_i: element i & 1 of register i / 2
      const unsigned bits = p.a[l][i / 2] >> (16 * (i & 1)) & 0xffff;
      const unsigned row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
      const unsigned col = in_group * 2 + (i & 1) + (i >= 4 ? 8 : 0);
      A[row][col] = half(bits);
    }
    for (unsigned i = 0; i < 4; i++) {
      const unsigned bits = p.b[l][i / 2] >> (16 * (i & 1)) & 0xffff;
      B[in_group * 2 + (i & 1) + (i >= 2 ? 8 : 0)][group] = half(bits);
    }
  }
  const unsigned group = lane >> 2, in_group = lane % 4;
  for (unsigned i = 0; i < 4; i++) {
    const unsigned row = i < 2 ? group : group + 8, col = in_group * 2 + (i & 1);
    float s = c[i];
    for (unsigned k = 0; k < 16; k++) s += A[row][k] * B[k][col];
    c[i] = s;
  }
  pg_emu_wait(true); // no lane posts its next registers before every lane has read these
}
inline void pg_mma_m16n8k16_f16(float *c, const unsigned *a, const unsigned *b) { pg_mma_m16n8k16(c, a, b, pg_mma_f16); }
inline void pg_mma_m16n8k16_bf16(float *c, const unsigned *a, const unsigned *b) {
  pg_mma_m16n8k16(c, a, b, pg_mma_bf16);
}

static const unsigned short *pg_ldmatrix_rows[32][32]; // [warp][lane]: the row address each lane gave

/** This lane's `count` registers of an ldmatrix whose row this lane gives at `row`. */
template <unsigned count, bool trans> inline void pg_ldmatrix(unsigned *r, const void *row) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned lane = t % 32, warp = t / 32;
  if ((uintptr_t)row % 16) {
    fprintf(stderr, "emulated ldmatrix: lane %u gives a row address not 16-byte aligned\n", lane);
    abort();
  }
  pg_ldmatrix_rows[warp][lane] = (const unsigned short *)row;
  pg_emu_wait(true);
  for (unsigned j = 0; j < count; j++) {
    unsigned bits = 0;
    for (unsigned e = 0; e < 2; e++) {
      const unsigned pair = 2 * (lane % 4) + e;
      const unsigned short v =
          trans ? pg_ldmatrix_rows[warp][8 * j + pair][lane / 4] : pg_ldmatrix_rows[warp][8 * j + lane / 4][pair];
      bits |= (unsigned)v << (16 * e);
    }
    r[j] = bits;
  }
  pg_emu_wait(true); // no lane gives its next address before every lane has read these
}
inline void pg_ldmatrix_x1(unsigned *r, const void *row) { pg_ldmatrix<1, false>(r, row); }
inline void pg_ldmatrix_x2(unsigned *r, const void *row) { pg_ldmatrix<2, false>(r, row); }
inline void pg_ldmatrix_x4(unsigned *r, const void *row) { pg_ldmatrix<4, false>(r, row); }
inline void pg_ldmatrix_x1_trans(unsigned *r, const void *row) { pg_ldmatrix<1, true>(r, row); }
inline void pg_ldmatrix_x2_trans(unsigned *r, const void *row) { pg_ldmatrix<2, true>(r, row); }
inline void pg_ldmatrix_x4_trans(unsigned *r, const void *row) { pg_ldmatrix<4, true>(r, row); }
