// Minimal fork-join parallelism for the CPU kernels: contiguous blocks over [0, n), std::thread.
// Kernels are pure functions; threads only split index ranges, so results never depend on the
// thread count as long as each index is computed independently (reductions must be done per
// block in a fixed order by the caller).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hea_fast {

// threads <= 0 means "all hardware threads".
// hardware_concurrency() reads sysfs/cpuinfo on glibc (a few microseconds): kernels called in a
// loop on small chunks paid that per call, so it is read once (thread-safe static init, C++11).
inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  static const int hw = [] {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
  }();
  return hw;
}

// Runs body(tid) for tid = 0 .. t-1 on t threads (tid 0 on the calling thread) and joins them.
// The first exception thrown by any body is rethrown on the calling thread after the join;
// on_error() runs (under a lock) each time a body throws, e.g. to make the other workers stop early.
template <class F, class G>
void run_threads(int t, F&& body, G&& on_error) {
  std::exception_ptr err;
  std::mutex err_mu;
  auto guarded = [&](int tid) {
    try {
      body(tid);
    } catch (...) {
      std::lock_guard<std::mutex> lk(err_mu);
      if (!err) err = std::current_exception();
      on_error();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(t > 1 ? t - 1 : 0);
  for (int tid = 1; tid < t; ++tid) pool.emplace_back(guarded, tid);
  guarded(0);
  for (auto& th : pool) th.join();
  if (err) std::rethrow_exception(err);
}

// Calls f(begin, end, block_index) on up to `threads` contiguous blocks of [0, n).
// Blocks are at least `grain` items so tiny inputs stay single-threaded.
// An exception thrown in any block is rethrown on the calling thread.
template <class F>
void parallel_for(int64_t n, int threads, F&& f, int64_t grain = 1024) {
  if (n <= 0) return;
  int t = resolve_threads(threads);
  int64_t max_blocks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  t = static_cast<int>(std::min<int64_t>(t, max_blocks));
  if (t <= 1) {
    f(int64_t(0), n, 0);
    return;
  }
  run_threads(t, [&](int b) { f(n * b / t, n * (b + 1) / t, b); }, [] {});
}

// Dynamic scheduling over independent work items (e.g. subsets of very different cost):
// threads pull the next index from an atomic counter. f(i) must be independent per i.
template <class F>
void parallel_items(int64_t n, int threads, F&& f) {
  if (n <= 0) return;
  const int t = static_cast<int>(std::min<int64_t>(resolve_threads(threads), n));
  std::atomic<int64_t> next{0};
  run_threads(
      t,
      [&](int) {
        for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) f(i);
      },
      [&] { next.store(n); });  // the first error stops every worker at its next item
}

}  // namespace hea_fast
