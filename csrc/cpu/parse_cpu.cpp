// Alloy formula parser: see csrc/include/hea_fast/parse.h. Mirrors the Python reference in
// hea_fast/composition.py statement by statement; keep the two in step.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
// The reference computes a*b then +c in separate IEEE operations (CPython floats); a fused
// multiply-add (allowed by -ffp-contract=fast with -march=native) would change the last bit.
#pragma GCC optimize("fp-contract=off")
#endif

#include "hea_fast/parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hea_fast/parallel.h"

namespace hea_fast::parse {

const char* const kStatusNames[kNumStatus] = {"ok",
                                              "not_a_string",
                                              "empty",
                                              "unknown_symbol",
                                              "unexpected_char",
                                              "negative",
                                              "decimal_comma",
                                              "malformed_number",
                                              "malformed_exponent",
                                              "nonfinite",
                                              "amount_without_element",
                                              "unclosed_paren",
                                              "unexpected_close",
                                              "empty_group",
                                              "too_deep",
                                              "all_zero",
                                              "overflow",
                                              "missing_value",
                                              "outside_set"};

namespace {

const char* const kSymbols[kNumZ] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

// Symbol -> Z over [A-Z][a-z]?: index (c1 - 'A') * 27 + (c2 ? c2 - 'a' + 1 : 0).
struct SymbolTable {
  uint8_t z[26 * 27] = {};
  SymbolTable() {
    for (int i = 1; i < kNumZ; ++i) {
      const char* s = kSymbols[i];
      z[(s[0] - 'A') * 27 + (s[1] ? s[1] - 'a' + 1 : 0)] = static_cast<uint8_t>(i);
    }
  }
};
const SymbolTable kTable;

inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
// Whitespace is what Python's str.isspace() accepts: ASCII \t \n \v \f \r, \x1c-\x1f, space, and
// U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 (real data has
// no-break spaces, e.g. 'AlCrNbTiV\xa0' in the MPEA dataset).
inline bool is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

// Bytes of the non-ASCII whitespace character encoded at s (avail bytes readable), or 0.
inline int64_t unicode_ws_len(const unsigned char* s, int64_t avail) {
  if (avail >= 2 && s[0] == 0xC2) return (s[1] == 0x85 || s[1] == 0xA0) ? 2 : 0;
  if (avail < 3) return 0;
  if (s[0] == 0xE1) return (s[1] == 0x9A && s[2] == 0x80) ? 3 : 0;
  if (s[0] == 0xE2) {
    if (s[1] == 0x80) return ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF) ? 3 : 0;
    return (s[1] == 0x81 && s[2] == 0x9F) ? 3 : 0;
  }
  if (s[0] == 0xE3) return (s[1] == 0x80 && s[2] == 0x80) ? 3 : 0;
  return 0;
}

// First position at or after p that is not whitespace.
inline int64_t skip_ws(const unsigned char* s, int64_t n, int64_t p) {
  while (p < n) {
    if (s[p] < 0x80) {
      if (!is_ws(s[p])) return p;
      ++p;
    } else {
      const int64_t k = unicode_ws_len(s + p, n - p);
      if (k == 0) return p;
      p += k;
    }
  }
  return p;
}

// Bytes of the UTF-8 sequence led by c (1 for ASCII and for stray continuation bytes).
inline int64_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

inline int64_t code_points(const char* s, int64_t nbytes) {
  int64_t k = 0;
  for (int64_t i = 0; i < nbytes; ++i) k += (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
  return k;
}

// Correctly rounded decimal -> double, like Python's float(): from_chars, with strtod for the
// rare out-of-range cases (overflow must give inf, underflow 0 or a subnormal, as float() does).
double to_double(const char* s, int64_t n) {
  double v = 0.0;
  auto r = std::from_chars(s, s + n, v, std::chars_format::general);
  if (r.ec == std::errc() && r.ptr == s + n) return v;
  std::string buf(s, static_cast<size_t>(n));
  return std::strtod(buf.c_str(), nullptr);
}

// Missing-value markers written by spreadsheets, pandas and JSON (compared ignoring ASCII case).
bool is_missing_marker(const unsigned char* s, int64_t n) {
  static const char* const kMarkers[] = {"nan", "inf", "+inf", "-inf", "infinity", "none", "null", "n/a", "<na>"};
  if (n < 3 || n > 8) return false;
  char low[8];
  for (int64_t i = 0; i < n; ++i) low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? char(s[i] - 'A' + 'a') : char(s[i]);
  for (const char* m : kMarkers)
    if (int64_t(std::strlen(m)) == n && std::memcmp(low, m, n) == 0) return true;
  return false;
}

}  // namespace

const char* element_symbol(int z) { return (z >= 1 && z < kNumZ) ? kSymbols[z] : ""; }

int element_z(const char* sym, int len) {
  if (len < 1 || len > 2) return 0;
  unsigned char a = sym[0], b = len == 2 ? sym[1] : 0;
  if (a < 'A' || a > 'Z' || (len == 2 && !is_lower(b))) return 0;
  return kTable.z[(a - 'A') * 27 + (b ? b - 'a' + 1 : 0)];  // D and T are not in the table
}

Parser::Parser() : acc_(kMaxDepth + 2) {
  pool_.reserve(64);
  for (auto& s : scratch_) s.reserve(16);
}

bool Parser::fail(int32_t status, int64_t byte_pos, int64_t byte_len) {
  byte_len = std::min(byte_len, n_ - byte_pos);
  err_->status = status;
  err_->pos = code_points(s_, byte_pos);
  err_->len = code_points(s_ + byte_pos, byte_len);
  return false;
}

// An optional amount after a symbol or a ')'; `present` is false when none follows. The scan and
// its checks follow _Parser.amount in Python; the value is accumulated while scanning. The cursor
// `p` is a local of level() (inlined here so it stays in a register).
__attribute__((always_inline)) inline bool Parser::amount(int64_t& p, double& value, bool& present) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(s_);
  const int64_t n = n_;
  p = skip_ws(s, n, p);
  present = false;
  const int64_t start = p;
  int64_t q = start;
  const int64_t i0 = q;
  while (q < n && is_digit(s[q])) ++q;
  const int64_t i1 = q;
  int64_t f0 = q, f1 = q;
  if (q < n && s[q] == '.') {
    if (i0 == i1 && !(q + 1 < n && is_digit(s[q + 1]))) return fail(kMalformedNumber, start, 1);
    f0 = ++q;
    while (q < n && is_digit(s[q])) ++q;
    f1 = q;
  } else if (i0 == i1) {
    return true;
  }
  bool has_exp = false;
  int64_t e = 0;
  if (q < n && (s[q] == 'e' || s[q] == 'E')) {
    int64_t r = q + 1;
    bool neg = false;
    if (r < n && (s[r] == '+' || s[r] == '-')) neg = s[r++] == '-';
    if (r < n && is_digit(s[r])) {
      while (r < n && is_digit(s[r])) {
        if (e < 100000) e = e * 10 + (s[r] - '0');  // beyond: inf or 0 anyway (slow path decides)
        ++r;
      }
      q = r;
      has_exp = true;
      if (neg) e = -e;
    }
  }
  const int64_t end = q;
  const unsigned char c = end < n ? s[end] : 0;
  const unsigned char c1 = end + 1 < n ? s[end + 1] : 0;
  if (c == '.') return fail(kMalformedNumber, start, end + 1 - start);
  if (c == ',' && is_digit(c1)) return fail(kDecimalComma, end, 1);
  // 'E' followed by a lower-case letter is an element (Er, Eu, Es), not an exponent
  if (!has_exp && (c == 'e' || c == 'E') && !(c == 'E' && is_lower(c1)))
    return fail(kMalformedExponent, start, end + 1 - start + (c1 == '+' || c1 == '-'));
  // Clinger's fast path: an integer significand <= 2^53 and a power of ten <= 10^22 are exact
  // doubles, so one IEEE multiply or divide gives the correctly rounded value, as float() does.
  static constexpr double kPow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  // Up to 19 digits fit a uint64 significand; more go to the slow path.
  const bool fits = (i1 - i0) + (f1 - f0) <= 19;
  uint64_t mant = 0;
  if (fits) {
    for (int64_t i = i0; i < i1; ++i) mant = mant * 10 + (s[i] - '0');
    for (int64_t i = f0; i < f1; ++i) mant = mant * 10 + (s[i] - '0');
  }
  const int64_t e10 = e - (f1 - f0);
  if (fits && mant == 0) {
    value = 0.0;
  } else if (fits && mant <= (uint64_t(1) << 53) && e10 >= -22 && e10 <= 22) {
    value = e10 < 0 ? double(mant) / kPow10[-e10] : double(mant) * kPow10[e10];
  } else {
    value = to_double(s_ + start, end - start);
  }
  if (!std::isfinite(value)) return fail(kNonFinite, start, end - start);
  p = end;
  present = true;
  return true;
}

// One nesting level; its items end up contiguous in pool_[lo, hi) (children's levels come first).
bool Parser::level(int depth, int64_t& cursor, int32_t& lo, int32_t& hi) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(s_);
  const int64_t n = n_;
  int64_t p = cursor;
  std::vector<Item>& items = scratch_[depth];  // deeper levels use scratch_[depth + 1 ...]
  items.clear();
  for (;;) {
    p = skip_ws(s, n, p);
    if (p >= n) break;
    const unsigned char c = s[p];
    if (c == ')') {
      if (depth == 0) return fail(kUnexpectedClose, p, 1);
      break;
    }
    if (c == '(') {
      const int64_t open = p;
      if (depth + 1 > kMaxDepth) return fail(kTooDeep, open, 1);
      ++p;
      int32_t clo = 0, chi = 0;
      if (!level(depth + 1, p, clo, chi)) return false;
      if (p >= n_) return fail(kUnclosedParen, open, 1);
      if (clo == chi) return fail(kEmptyGroup, open, 1);
      ++p;
      double a = 1.0;
      bool has = false;
      if (!amount(p, a, has)) return false;
      items.push_back(Item{0, clo, chi, has ? a : 1.0});
      continue;
    }
    if (c >= 'A' && c <= 'Z') {
      const int k = (p + 1 < n && is_lower(s[p + 1])) ? 2 : 1;
      const int z = kTable.z[(c - 'A') * 27 + (k == 2 ? s[p + 1] - 'a' + 1 : 0)];  // 0: unknown
      if (z == 0) return fail(kUnknownSymbol, p, k);
      p += k;
      double a = 1.0;
      bool has = false;
      if (!amount(p, a, has)) return false;
      items.push_back(Item{z, 0, 0, has ? a : 1.0});
      continue;
    }
    if (is_digit(c) || c == '.') return fail(kAmountWithoutElement, p, 1);
    if (c == '-') {
      const int64_t q = skip_ws(s, n, p + 1);
      if (q < n && (is_digit(s[q]) || s[q] == '.')) return fail(kNegative, p, 1);
    }
    return fail(kUnexpectedChar, p, utf8_len(c));
  }
  cursor = p;
  lo = static_cast<int32_t>(pool_.size());
  pool_.insert(pool_.end(), items.begin(), items.end());
  hi = static_cast<int32_t>(pool_.size());
  return true;
}

// The group-share rule (see parse.h); same operations in the same order as _evaluate in Python.
void Parser::evaluate(int32_t lo, int32_t hi, Acc& out, double scale, int depth) {
  double total = 0.0;
  bool has_group = false;
  for (int32_t i = lo; i < hi; ++i) {
    total += pool_[i].amount;
    has_group = has_group || pool_[i].z == 0;
  }
  const bool share =
      has_group && (std::fabs(total - 100.0) <= kShareTol * 100.0 || std::fabs(total - 1.0) <= kShareTol);
  for (int32_t i = lo; i < hi; ++i) {
    const Item it = pool_[i];
    if (it.z != 0) {
      out.add(it.z, scale * it.amount);
    } else if (it.amount == 0) {
      continue;
    } else if (share) {
      // accumulators in use up the call stack all have index <= depth, so depth + 1 is free
      Acc& inner = acc_[depth + 1];
      inner.clear();
      evaluate(it.lo, it.hi, inner, 1.0, depth + 1);
      double s = 0.0;
      for (int k = 0; k < inner.n; ++k) s += inner.val[inner.order[k]];
      if (s <= 0) continue;
      for (int k = 0; k < inner.n; ++k) {
        const int z = inner.order[k];
        out.add(z, scale * it.amount * inner.val[z] / s);
      }
    } else {
      evaluate(it.lo, it.hi, out, scale * it.amount, depth + 1);
    }
  }
}

int32_t Parser::parse(const char* s, int64_t nbytes, std::vector<Entry>& out, Error& err) {
  s_ = s;
  n_ = nbytes;
  err = Error{};
  err_ = &err;
  pool_.clear();
  out.clear();
  {
    // a lone missing-value marker, whitespace aside (markers hold no whitespace and are ASCII)
    const unsigned char* u = reinterpret_cast<const unsigned char*>(s);
    const int64_t a = skip_ws(u, nbytes, 0);
    int64_t b = a;
    while (b < nbytes && u[b] < 0x80 && !is_ws(u[b])) ++b;
    if (skip_ws(u, nbytes, b) == nbytes && is_missing_marker(u + a, b - a)) {
      fail(kMissingValue, a, b - a);
      return err.status;
    }
  }
  int32_t lo = 0, hi = 0;
  int64_t cursor = 0;
  if (!level(0, cursor, lo, hi)) return err.status;
  if (lo == hi) return err.status = kEmpty;
  Acc& acc = acc_[0];
  acc.clear();
  evaluate(lo, hi, acc, 1.0, 0);
  double total = 0.0;
  for (int k = 0; k < acc.n; ++k) {
    const int z = acc.order[k];
    const double v = acc.val[z];
    if (v != 0.0) {  // NaN (inf * 0 in overflowing nests) is kept and fails the total check
      out.push_back(Entry{static_cast<uint8_t>(z), v});
      total += v;
    }
  }
  if (out.empty()) return err.status = kAllZero;
  if (!std::isfinite(total)) {
    out.clear();
    return err.status = kOverflow;
  }
  for (auto& e : out) e.value = e.value / total;
  return kOk;
}

void parse_batch(const char* const* strs, const int64_t* nbytes, int64_t n, int threads, int32_t* status, int64_t* pos,
                 int64_t* len, ParsedBatch& out) {
  // Chunks much smaller than n / threads keep both cores busy when one is shared with other work.
  constexpr int64_t kChunk = 4096;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  out.n = n;
  out.lo.resize(nchunks + 1);
  for (int64_t c = 0; c <= nchunks; ++c) out.lo[c] = std::min(n, c * kChunk);
  out.z.assign(nchunks, {});
  out.value.assign(nchunks, {});
  out.count.assign(n, 0);
  std::vector<uint64_t> masks(2 * nchunks, 0);
  parallel_items(nchunks, threads, [&](int64_t c) {
    Parser parser;
    std::vector<Entry> row;
    std::vector<uint8_t>& zs = out.z[c];
    std::vector<double>& vs = out.value[c];
    const int64_t lo = out.lo[c], hi = out.lo[c + 1];
    zs.reserve((hi - lo) * 6);
    vs.reserve((hi - lo) * 6);
    uint64_t m0 = 0, m1 = 0;
    for (int64_t i = lo; i < hi; ++i) {
      if (strs[i] == nullptr) continue;
      Error e;
      status[i] = parser.parse(strs[i], nbytes[i], row, e);
      pos[i] = e.pos;
      len[i] = e.len;
      if (status[i] != kOk) continue;
      for (const Entry& x : row) {
        zs.push_back(x.z);
        vs.push_back(x.value);
        if (x.z < 64)
          m0 |= uint64_t(1) << x.z;
        else
          m1 |= uint64_t(1) << (x.z - 64);
      }
      out.count[i] = static_cast<uint8_t>(row.size());
    }
    masks[2 * c] = m0;
    masks[2 * c + 1] = m1;
  });
  out.present[0] = out.present[1] = 0;
  for (int64_t c = 0; c < nchunks; ++c) {
    out.present[0] |= masks[2 * c];
    out.present[1] |= masks[2 * c + 1];
  }
}

void scatter_batch(const ParsedBatch& b, const int32_t* column_of_z, int64_t ncols, int threads, double* out,
                   int32_t* status) {
  const int64_t nchunks = static_cast<int64_t>(b.z.size());
  parallel_items(nchunks, threads, [&](int64_t c) {
    const uint8_t* zs = b.z[c].data();
    const double* vs = b.value[c].data();
    size_t k = 0;
    for (int64_t i = b.lo[c]; i < b.lo[c + 1]; ++i) {
      double* row = out + i * ncols;
      std::fill(row, row + ncols, 0.0);
      const int cnt = b.count[i];
      bool inside = true;
      for (int j = 0; j < cnt; ++j) inside = inside && column_of_z[zs[k + j]] >= 0;
      if (inside) {
        for (int j = 0; j < cnt; ++j) row[column_of_z[zs[k + j]]] = vs[k + j];
      } else {
        status[i] = kOutsideSet;
      }
      k += cnt;
    }
  });
}

}  // namespace hea_fast::parse
