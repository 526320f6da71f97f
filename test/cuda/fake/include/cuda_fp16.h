// CUDA's half for the emulator (pg_emu.h): IEEE binary16 in _Float16, each operation done in float and rounded
// once, as sm_53+ half arithmetic rounds; conversions are explicit (rendered code casts), reading as float is not.
#pragma once
#include <cmath>

struct half {
  _Float16 v;
  half() = default;
  explicit half(float f) : v((_Float16)f) {}
  explicit half(double d) : v((_Float16)d) {}
  explicit half(int i) : v((_Float16)i) {}
  explicit half(unsigned i) : v((_Float16)i) {}
  explicit half(bool b) : v((_Float16)(b ? 1.0f : 0.0f)) {}
  operator float() const { return (float)v; }
};
typedef half __half;
inline half __float2half(float f) { return half(f); }
inline float __half2float(half h) { return (float)h; }
#define PG_HALF_OP(op)                                                                                                 \
  inline half operator op(half a, half b) { return half((float)a op(float) b); }                                      \
  inline half &operator op##=(half & a, half b) { return a = half((float)a op(float) b); }
PG_HALF_OP(+)
PG_HALF_OP(-)
PG_HALF_OP(*)
PG_HALF_OP(/)
inline half operator-(half a) { return half(-(float)a); }
inline bool operator<(half a, half b) { return (float)a < (float)b; }
inline bool operator>(half a, half b) { return (float)a > (float)b; }
inline bool operator<=(half a, half b) { return (float)a <= (float)b; }
inline bool operator>=(half a, half b) { return (float)a >= (float)b; }
inline bool operator==(half a, half b) { return (float)a == (float)b; }
inline bool operator!=(half a, half b) { return (float)a != (float)b; }
inline half hsqrt(half a) { return half(sqrtf(a)); }
inline half hexp(half a) { return half(expf(a)); }
inline half hlog(half a) { return half(logf(a)); }
inline half hexp2(half a) { return half(exp2f(a)); }
inline half hlog2(half a) { return half(log2f(a)); }
inline half hsin(half a) { return half(sinf(a)); }
inline half hcos(half a) { return half(cosf(a)); }
inline half htrunc(half a) { return half(truncf(a)); }
inline half hrcp(half a) { return half(1.0f / (float)a); }
inline half __hmax_nan(half a, half b) { return a != a || b != b ? half(NAN) : (float)a > (float)b ? a : b; }
inline half __hmin_nan(half a, half b) { return a != a || b != b ? half(NAN) : (float)a < (float)b ? a : b; }
