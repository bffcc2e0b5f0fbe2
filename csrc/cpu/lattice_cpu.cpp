// Simplex-lattice composition spaces: construction (subset enumeration, shared suffix-count tables),
// ranking, unranking and batch decoding. See lattice.h for the rank order.
#include "hea_fast/lattice.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

#include "hea_fast/parallel.h"

namespace hea_fast::lattice {
namespace {

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw std::overflow_error("composition space too large: its size exceeds 2^63 - 1 ranks");
  return r;
}

// g[j*(N+1)+s], j = 0..k: ways elements j..k-1 sum to s.
std::vector<int64_t> suffix_table(int k, int N, const int32_t* lo, const int32_t* hi) {
  const int W = N + 1;
  std::vector<int64_t> g(static_cast<size_t>(k + 1) * W, 0);
  g[static_cast<size_t>(k) * W + 0] = 1;
  std::vector<int64_t> prefix(W + 1);
  for (int j = k - 1; j >= 0; --j) {
    const int64_t* nxt = &g[static_cast<size_t>(j + 1) * W];
    prefix[0] = 0;
    for (int s = 0; s < W; ++s) prefix[s + 1] = checked_add(prefix[s], nxt[s]);
    int64_t* cur = &g[static_cast<size_t>(j) * W];
    for (int s = 0; s < W; ++s) {
      // sum of nxt[s - u] for u in [lo, min(hi, s)] = prefix over t in [s - min(hi,s), s - lo]
      int umax = std::min(hi[j], s);
      if (umax < lo[j]) continue;
      cur[s] = prefix[s - lo[j] + 1] - prefix[s - umax];
    }
  }
  return g;
}

}  // namespace

int64_t bounded_compositions(int k, int N, const int32_t* lo, const int32_t* hi) {
  if (k <= 0 || N < 0) return 0;
  auto g = suffix_table(k, N, lo, hi);
  return g[N];  // j = 0, s = N
}

Space::Space(int n_palette, const std::vector<Part>& parts, const std::vector<double>& lo_frac,
             const std::vector<double>& hi_frac, const std::vector<uint8_t>& required,
             const std::vector<uint8_t>& forbidden)
    : E_(n_palette), parts_(parts) {
  if (E_ < 1 || E_ > kMaxPalette)
    throw std::invalid_argument("palette size must be in [1, 64], got " + std::to_string(E_));
  auto chk = [&](size_t n, const char* what) {
    if (n != static_cast<size_t>(E_))
      throw std::invalid_argument(std::string(what) + " must have one entry per palette element");
  };
  chk(lo_frac.size(), "lower bounds");
  chk(hi_frac.size(), "upper bounds");
  chk(required.size(), "required flags");
  chk(forbidden.size(), "forbidden flags");
  std::vector<int> allowed, req;
  for (int e = 0; e < E_; ++e) {
    if (!(lo_frac[e] >= 0.0 && hi_frac[e] <= 1.0 && lo_frac[e] <= hi_frac[e]))
      throw std::invalid_argument("bounds of palette element " + std::to_string(e) +
                                  " must satisfy 0 <= lo <= hi <= 1");
    const bool is_req = required[e] != 0;  // a lower bound applies when the element is present
    if (forbidden[e]) {
      if (is_req)
        throw std::invalid_argument("palette element " + std::to_string(e) + " is both required and forbidden");
      continue;
    }
    if (is_req)
      req.push_back(e);
    else
      allowed.push_back(e);
  }
  std::map<std::vector<int32_t>, int32_t> table_ids;
  int64_t offset = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const int k = parts[p].k, N = parts[p].N;
    if (k < 1 || k > kMaxK)
      throw std::invalid_argument("number of principal elements must be in [1, 16], got " + std::to_string(k));
    if (N < 1 || N > kMaxN)
      throw std::invalid_argument("units per composition N must be in [1, 100000], got " + std::to_string(N));
    max_k_ = std::max(max_k_, k);
    const int nfree = k - static_cast<int>(req.size());
    const int na = static_cast<int>(allowed.size());
    if (nfree < 0 || nfree > na) continue;  // no subset of this size
    {  // every subset is a block with its own metadata: refuse palettes that would exhaust memory
      double nsub = 1;
      for (int i = 0; i < nfree; ++i) nsub = nsub * (na - i) / (i + 1);
      if (nsub + static_cast<double>(blocks_.size()) > 5.0e7)
        throw std::invalid_argument(
            "the space has more than 50 million element subsets (systems); use a smaller palette or fewer principal "
            "elements");
    }
    // unit bounds per palette element for this N (each chosen element has at least one unit)
    std::vector<int32_t> lo_u(E_), hi_u(E_);
    for (int e = 0; e < E_; ++e) {
      lo_u[e] = std::max<int32_t>(1, static_cast<int32_t>(std::ceil(lo_frac[e] * N - 1e-9)));
      hi_u[e] = std::min<int32_t>(N, static_cast<int32_t>(std::floor(hi_frac[e] * N + 1e-9)));
    }
    std::vector<int> comb(nfree);
    for (int i = 0; i < nfree; ++i) comb[i] = i;
    for (;;) {
      Block b{};
      b.part = static_cast<int32_t>(p);
      b.k = k;
      b.N = N;
      // merge required + chosen free elements in increasing palette order
      int ia = 0, ir = 0, m = 0;
      while (ia < nfree || ir < static_cast<int>(req.size())) {
        int e;
        if (ir >= static_cast<int>(req.size()) || (ia < nfree && allowed[comb[ia]] < req[ir]))
          e = allowed[comb[ia++]];
        else
          e = req[ir++];
        b.elem[m] = e;
        b.lo[m] = lo_u[e];
        b.hi[m] = hi_u[e];
        b.mask |= (uint64_t(1) << e);
        ++m;
      }
      std::vector<int32_t> key;
      key.reserve(2 + 2 * k);
      key.push_back(k);
      key.push_back(N);
      for (int j = 0; j < k; ++j) {
        key.push_back(b.lo[j]);
        key.push_back(b.hi[j]);
      }
      auto it = table_ids.find(key);
      if (it == table_ids.end()) {
        it = table_ids.emplace(key, static_cast<int32_t>(tables_.size())).first;
        tables_.push_back(suffix_table(k, N, b.lo, b.hi));
      }
      b.table = it->second;
      b.count = tables_[b.table][N];
      if (b.count > 0) {
        b.offset = offset;
        offset = checked_add(offset, b.count);
        lookup_.push_back({{b.part, b.mask}, static_cast<int64_t>(blocks_.size())});
        blocks_.push_back(b);
      }
      // next combination of nfree out of na
      int i = nfree - 1;
      while (i >= 0 && comb[i] == na - nfree + i) --i;
      if (i < 0) break;
      ++comb[i];
      for (int j = i + 1; j < nfree; ++j) comb[j] = comb[j - 1] + 1;
    }
  }
  size_ = offset;
  std::sort(lookup_.begin(), lookup_.end());
}

int64_t Space::block_of(int64_t rank) const {
  // last block with offset <= rank
  auto it =
      std::upper_bound(blocks_.begin(), blocks_.end(), rank, [](int64_t r, const Block& b) { return r < b.offset; });
  return static_cast<int64_t>(it - blocks_.begin()) - 1;
}

void Space::first_units(const Block& b, int32_t* units) const {
  const int64_t* g = table(b);
  const int W = b.N + 1;
  int s = b.N;
  for (int j = 0; j < b.k - 1; ++j) {
    int u = b.lo[j];
    while (g[static_cast<size_t>(j + 1) * W + (s - u)] == 0) ++u;  // a feasible u exists: count > 0
    units[j] = u;
    s -= u;
  }
  units[b.k - 1] = s;
}

int64_t Space::unrank(int64_t rank, int32_t* units) const {
  const int64_t bi = block_of(rank);
  const Block& b = blocks_[bi];
  unrank_in_block(b, table(b), rank - b.offset, units);
  return bi;
}

bool Space::next(const Block& b, int32_t* units) const {
  const int64_t* g = table(b);
  const int W = b.N + 1;
  // remaining sum before position j
  int rem[kMaxK + 1];
  rem[0] = b.N;
  for (int j = 0; j < b.k; ++j) rem[j + 1] = rem[j] - units[j];
  for (int j = b.k - 2; j >= 0; --j) {
    int u = units[j] + 1;
    int umax = std::min(b.hi[j], rem[j]);
    for (; u <= umax; ++u) {
      if (g[static_cast<size_t>(j + 1) * W + (rem[j] - u)] > 0) break;
    }
    if (u > umax) continue;
    units[j] = u;
    int s = rem[j] - u;
    for (int i = j + 1; i < b.k - 1; ++i) {
      int v = b.lo[i];
      while (g[static_cast<size_t>(i + 1) * W + (s - v)] == 0) ++v;
      units[i] = v;
      s -= v;
    }
    units[b.k - 1] = s;
    return true;
  }
  return false;
}

int64_t Space::rank_in_block(const Block& b, const int32_t* units) const {
  const int64_t* g = table(b);
  const int W = b.N + 1;
  int64_t r = 0;
  int s = b.N;
  for (int j = 0; j < b.k - 1; ++j) {
    for (int u = b.lo[j]; u < units[j]; ++u) r += g[static_cast<size_t>(j + 1) * W + (s - u)];
    s -= units[j];
  }
  return r;
}

int64_t Space::rank_of(const double* frac) const {
  uint64_t mask = 0;
  int k = 0;
  int32_t elem[kMaxPalette];
  for (int e = 0; e < E_; ++e) {
    if (frac[e] > 0.0) {
      mask |= (uint64_t(1) << e);
      elem[k++] = e;
    }
  }
  if (k == 0 || k > kMaxK) return -1;
  for (size_t p = 0; p < parts_.size(); ++p) {
    if (parts_[p].k != k) continue;
    auto it = std::lower_bound(lookup_.begin(), lookup_.end(),
                               std::make_pair(std::make_pair(static_cast<int32_t>(p), mask), int64_t(-1)));
    if (it == lookup_.end() || it->first.first != static_cast<int32_t>(p) || it->first.second != mask) continue;
    const Block& b = blocks_[it->second];
    int32_t units[kMaxK];
    int sum = 0;
    bool ok = true;
    for (int j = 0; j < k && ok; ++j) {
      double x = frac[elem[j]] * b.N;
      double ur = std::nearbyint(x);
      if (std::fabs(x - ur) > 1e-6 * std::max(1.0, x)) ok = false;
      units[j] = static_cast<int32_t>(ur);
      if (units[j] < b.lo[j] || units[j] > b.hi[j]) ok = false;
      sum += units[j];
    }
    if (!ok || sum != b.N) continue;
    return b.offset + rank_in_block(b, units);
  }
  return -1;
}

namespace {
constexpr int64_t kTile = 4096;  // ranks per sequential tile
}

void Space::fractions(int64_t start, int64_t count, double* out, int threads) const {
  const int E = E_;
  int64_t tiles = (count + kTile - 1) / kTile;
  parallel_items(tiles, threads, [&](int64_t t) {
    int64_t lo = start + t * kTile, n = std::min(kTile, start + count - lo);
    for_each(lo, n,
             [&](int64_t r, const Block& b, const int32_t* u) { dense_fractions(b, u, out + (r - start) * E, E); });
  });
}

void Space::fractions_at(const int64_t* ranks, int64_t n, double* out, int threads) const {
  const int E = E_;
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        int32_t u[kMaxK];
        for (int64_t i = lo; i < hi; ++i) dense_fractions(blocks_[unrank(ranks[i], u)], u, out + i * E, E);
      },
      256);
}

void Space::sparse(int64_t start, int64_t count, int32_t* elem, double* frac, int threads) const {
  const int K = max_k_;
  int64_t tiles = (count + kTile - 1) / kTile;
  parallel_items(tiles, threads, [&](int64_t t) {
    int64_t lo = start + t * kTile, n = std::min(kTile, start + count - lo);
    for_each(lo, n, [&](int64_t r, const Block& b, const int32_t* u) {
      int32_t* er = elem + (r - start) * K;
      double* fr = frac + (r - start) * K;
      unit_fractions(b, u, fr);
      for (int j = 0; j < K; ++j) er[j] = j < b.k ? b.elem[j] : -1;
      for (int j = b.k; j < K; ++j) fr[j] = 0.0;
    });
  });
}

void Space::blocks_of(const int64_t* ranks, int64_t n, int64_t* out, int threads) const {
  parallel_for(n, threads, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) out[i] = block_of(ranks[i]);
  });
}

void Space::rank(const double* frac, int64_t n, int64_t* out, int threads) const {
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        for (int64_t i = lo; i < hi; ++i) out[i] = rank_of(frac + i * E_);
      },
      256);
}

}  // namespace hea_fast::lattice
