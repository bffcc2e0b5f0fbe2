// Batched exact PG(b, c) draws (see hea_fast/polyagamma.h for the method and its references).
#include "hea_fast/polyagamma.h"

#include "hea_fast/parallel.h"

namespace hea_fast {

void polyagamma_sample(const double* b, const double* c, int64_t n, uint64_t seed, double* out, int threads) {
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        pg::JStarConfig cfg;
        double cfg_b = -1.0;
        for (int64_t i = lo; i < hi; ++i) {
          if (b[i] != cfg_b) {  // configs are cached across runs of equal b (the common case)
            cfg = pg::make_pg_config(b[i]);
            cfg_b = b[i];
          }
          // one stream per element: the draw is a function of (seed, i) only
          Philox4x32 rng(seed, static_cast<uint64_t>(i), 0x5047u);
          out[i] = pg::sample_pg(cfg, c[i], rng);
        }
      },
      4096);
}

}  // namespace hea_fast
