// Alloy formula parser (the grammar of DESIGN.md §4, specified in hea_fast/composition.py).
//
// The pure-Python reference `hea_fast.composition._Parser/_evaluate` is the specification; this
// parser mirrors it operation by operation (same scan order, same error precedence, same IEEE
// arithmetic in the same order), so both give bit-identical fractions and identical error
// (status, position, length). Positions and lengths are in Unicode code points of the UTF-8 input,
// i.e. Python string indices. No Python, no I/O.
//
//   formula := item+                 whitespace (Python's str.isspace()) anywhere between tokens
//   item    := SYMBOL [amount] | "(" formula ")" [amount]
//   amount  := ([0-9]+ ["." [0-9]*] | "." [0-9]+) [[eE] [+-]? [0-9]+]
//
// Group subscripts: at each level the unit sum is the sum of the level's amounts (a group counts as
// its subscript, 1 when absent). When the level holds a group and its unit sum is 100 or 1 (within
// 1e-6 relative), a group subscript is the group's total share, split by the group's internal
// ratios; otherwise it multiplies the group's amounts. Zero amounts are dropped; the result is
// normalised to fractions summing to 1. A text that is, whitespace aside and ignoring case, one of
// nan inf +inf -inf infinity none null n/a <na> is a missing value (kMissingValue), even where it
// would parse (NaN = Na + N, INF = I + N + F).
#pragma once
#include <cstdint>
#include <vector>

namespace hea_fast::parse {

constexpr int kMaxDepth = 32;  // deepest group nesting accepted (kTooDeep beyond)
constexpr int kNumZ = 119;     // atomic numbers 1..118; index 0 = "no element" (a group item)
constexpr double kShareTol = 1e-6;

// Row status. The order is part of the Python interface (exported as _core.PARSE_STATUS).
enum Status : int32_t {
  kOk = 0,
  kNotString,             // set by the caller for rows that are not strings (handled in Python)
  kEmpty,                 // no item at all (empty or whitespace-only)
  kUnknownSymbol,         // pos/len: the symbol
  kUnexpectedChar,        // pos/len: the character
  kNegative,              // pos: the '-' sign
  kDecimalComma,          // pos: the ','
  kMalformedNumber,       // pos: number start; len: through the offending '.'
  kMalformedExponent,     // pos: number start; len: through the 'e' (and its sign)
  kNonFinite,             // pos/len: the number (it overflows a double)
  kAmountWithoutElement,  // pos: the digit or '.' where an element or '(' was expected
  kUnclosedParen,         // pos: the '(' that is never closed
  kUnexpectedClose,       // pos: the ')'
  kEmptyGroup,            // pos: the '('
  kTooDeep,               // pos: the '(' opening level kMaxDepth + 1
  kAllZero,               // every amount is zero (no position)
  kOverflow,              // the amounts' sum is not finite (no position)
  kMissingValue,          // the whole text is a missing-value marker (NaN, inf, None, N/A, ...); pos/len: it
  kOutsideSet,            // an element outside the requested columns (scatter_batch; no position)
  kNumStatus
};
extern const char* const kStatusNames[kNumStatus];

// Element symbol of atomic number z (1..118), and the inverse (0 when unknown; D and T are unknown).
const char* element_symbol(int z);
int element_z(const char* sym, int len);

struct Entry {
  uint8_t z;
  double value;
};

struct Error {
  int32_t status = kOk;
  int64_t pos = -1;  // code points; -1 when the error has no position
  int64_t len = 0;   // code points
};

// One parser per thread: holds reusable scratch space, so parsing allocates nothing in steady state.
class Parser {
 public:
  Parser();
  // Parses s[0, nbytes) (UTF-8). On kOk, `out` holds the distinct elements in order of first
  // appearance with their fractions (v / Σv); otherwise `err` says why and where.
  int32_t parse(const char* s, int64_t nbytes, std::vector<Entry>& out, Error& err);

 private:
  struct Item {
    int32_t z;  // 0: group
    int32_t lo, hi;
    double amount;
  };
  struct Acc {  // an insertion-ordered {z: amount} map (the reference uses a Python dict)
    double val[kNumZ];
    uint64_t has[2];
    uint8_t order[kNumZ];
    int n;
    void clear() {
      has[0] = has[1] = 0;
      n = 0;
    }
    void add(int z, double v) {
      uint64_t bit = uint64_t(1) << (z & 63);
      if (has[z >> 6] & bit) {
        val[z] = val[z] + v;
      } else {
        has[z >> 6] |= bit;
        order[n++] = static_cast<uint8_t>(z);
        val[z] = 0.0 + v;  // dict.get(k, 0.0) + v
      }
    }
  };

  bool level(int depth, int64_t& cursor, int32_t& lo, int32_t& hi);
  bool amount(int64_t& p, double& value, bool& present);
  void evaluate(int32_t lo, int32_t hi, Acc& out, double scale, int depth);
  bool fail(int32_t status, int64_t byte_pos, int64_t byte_len);

  const char* s_ = nullptr;
  int64_t n_ = 0;
  Error* err_ = nullptr;
  std::vector<Item> pool_;
  std::vector<Item> scratch_[kMaxDepth + 1];
  std::vector<Acc> acc_;  // kMaxDepth + 2 accumulators, one per evaluation depth
};

// Result of parse_batch: rows are cut into chunks; chunk c covers rows [lo[c], lo[c + 1]) and keeps
// its rows' entries contiguously (count[i] entries for row i; zero for failed rows).
struct ParsedBatch {
  int64_t n = 0;
  std::vector<int64_t> lo;
  std::vector<std::vector<uint8_t>> z;
  std::vector<std::vector<double>> value;
  std::vector<uint8_t> count;
  uint64_t present[2] = {0, 0};  // union of the elements present in successful rows
};

// Parses n strings (strs[i], nbytes[i]) with up to `threads` threads (<= 0: all cores); rows with
// strs[i] == nullptr are skipped and keep the status the caller set. Writes status/pos/len per row.
// Results do not depend on the thread count.
void parse_batch(const char* const* strs, const int64_t* nbytes, int64_t n, int threads, int32_t* status, int64_t* pos,
                 int64_t* len, ParsedBatch& out);

// Writes the dense (n, ncols) fraction matrix, row-major: column_of_z[z] is the column of element
// z or -1; a successful row holding an element without a column becomes kOutsideSet (zero row).
void scatter_batch(const ParsedBatch& b, const int32_t* column_of_z, int64_t ncols, int threads, double* out,
                   int32_t* status);

}  // namespace hea_fast::parse
