// Decode benchmarks: filled in once include/ctattn/model.hpp exists.
namespace ctattn_bench {
void register_decode_benchmarks() {}
}  // namespace ctattn_bench
