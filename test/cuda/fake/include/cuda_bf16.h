// CUDA's bfloat16 for the emulator (pg_emu.h): the top half of an IEEE float, converted with round-to-nearest-even
// (NaN kept) as __float2bfloat16 does. No arithmetic: polygrad computes bf16 in float, so code that did not would
// fail to compile here rather than pass by accident.
#pragma once
#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
  uint16_t bits;
  __nv_bfloat16() = default;
  operator float() const {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};
inline __nv_bfloat16 __float2bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  __nv_bfloat16 h;
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  h.bits = nan ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return h;
}
inline float __bfloat162float(__nv_bfloat16 h) { return (float)h; }
