// HEA_HD: the one host/device marker of the public headers. Functions marked with it are compiled
// by the host compiler (plain `inline`) for the CPU kernels and by nvcc (`__host__ __device__
// __forceinline__`) for their CUDA mirrors, so each formula is written once and CPU and GPU
// evaluate the same expressions (they may still differ by an ulp where the math libraries do).
#pragma once

#if defined(__CUDACC__)
#define HEA_HD __host__ __device__ __forceinline__
#else
#define HEA_HD inline
#endif
