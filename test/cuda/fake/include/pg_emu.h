// The host side of the CUDA emulator (test/cuda/fake): the CUDA C that polygrad renders and kernels/ contributes,
// compiled by g++ as ordinary C++. The stand-in driver runs each CUDA thread of a block in turn (as fibers where
// they synchronize); the indices, __syncthreads and the warp barrier of warp collectives (pg_mma_sync.h) come from
// the context it hands each call; __shared__ arrays are statics (blocks run one at a time). pg_emu_NAME (appended by
// the stand-in NVRTC) runs one thread of kernel NAME, or reports its parameter sizes.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

struct dim3 {
  unsigned x, y, z;
};
/** Laid out as the stand-in driver's Ctx. */
struct pg_emu_ctx {
  dim3 thread, block, blockDim, gridDim;
  void (*sync)(void *);
  void *barrier;
  void (*warp_sync)(void *); // waits for the other lanes of this thread's warp (on the same barrier object)
};
static thread_local const pg_emu_ctx *pg_ctx;

#define threadIdx (pg_ctx->thread)
#define blockIdx (pg_ctx->block)
#define blockDim (pg_ctx->blockDim)
#define gridDim (pg_ctx->gridDim)
// other threads run while this one waits: it finds its own context again after
inline void pg_emu_wait(bool warp) {
  const pg_emu_ctx *me = pg_ctx;
  (warp ? me->warp_sync : me->sync)(me->barrier);
  pg_ctx = me;
}
#define __syncthreads() pg_emu_wait(false)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

// the vector types of CUDA's vector_types.h that polygrad's loads use (codegen/vectorize.ts)
struct __align__(16) float4 {
  float x, y, z, w;
};
struct __align__(16) int4 {
  int x, y, z, w;
};
struct __align__(16) uint4 {
  unsigned x, y, z, w;
};

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }

template <typename To, typename From> inline To pg_bits(From f) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  To t;
  std::memcpy(&t, &f, sizeof t);
  return t;
}
inline float __int_as_float(int i) { return pg_bits<float>(i); }
inline float __uint_as_float(unsigned i) { return pg_bits<float>(i); }
inline int __float_as_int(float f) { return pg_bits<int>(f); }
inline unsigned __float_as_uint(float f) { return pg_bits<unsigned>(f); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

inline unsigned atomicMax(unsigned *p, unsigned v) {
  unsigned old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline unsigned atomicExch(unsigned *p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline float atomicAdd(float *p, float v) {
  unsigned *w = reinterpret_cast<unsigned *>(p), old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
  while (!__atomic_compare_exchange_n(w, &old, pg_bits<unsigned>(pg_bits<float>(old) + v), false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
  }
  return pg_bits<float>(old);
}

// Lanes run one after another here, so a shuffle cannot read another lane: this is exact for what the renderer
// shuffles, a value every lane of the warp already holds (the warp index, broadcast so the compiler knows it).
template <typename T> inline T __shfl_sync(unsigned mask, T v, int lane) {
  (void)mask;
  (void)lane;
  return v;
}

template <typename... A, std::size_t... I>
void pg_emu_invoke(void (*k)(A...), void **p, std::index_sequence<I...>) {
  k(*static_cast<std::remove_cv_t<A> *>(p[I])...);
}
/** With `sizes`: writes each parameter's size and returns how many there are; else runs one thread of k. */
template <typename... A> int pg_emu_call(void (*k)(A...), void **params, const pg_emu_ctx *ctx, int *sizes) {
  static_assert(sizeof...(A) <= 128, "the stand-in driver keeps at most 128 kernel parameters");
  if (sizes) {
    int i = 0;
    ((sizes[i++] = (int)sizeof(A)), ...);
    return (int)sizeof...(A);
  }
  pg_ctx = ctx;
  pg_emu_invoke(k, params, std::index_sequence_for<A...>{});
  return 0;
}
#include "pg_mma_sync.h"
