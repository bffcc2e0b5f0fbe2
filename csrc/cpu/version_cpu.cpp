// Keeps the kernel library non-empty before any kernel lands; also a link-time sanity symbol.
namespace hea_fast {
int kernels_abi_version() { return 1; }
}  // namespace hea_fast
