// SPDX-License-Identifier: BSD-3-Clause
// The first call of the library resolves the dispatch (CPU features, the
// CPU table, the calibration of the families it leaves to measurement). The
// header promises that no step allocates or prints, that one included. This
// program makes the first call of every kernel family with an allocation
// counter around it, and checks the results against the scalar reference.
// tests/check_first_call.sh runs it with /proc and /sys hidden and checks
// that nothing reached stderr. It prints only failures, to stdout.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "adagrad/adagrad.h"

// glibc's own allocator, under the names it exports for interposers.
extern "C" void* __libc_malloc(std::size_t size);
extern "C" void* __libc_calloc(std::size_t count, std::size_t size);
extern "C" void* __libc_realloc(void* pointer, std::size_t size);
extern "C" void* __libc_memalign(std::size_t alignment, std::size_t size);

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
}  // namespace

// Every allocation of the process goes through these (operator new too: it
// calls malloc).
extern "C" void* malloc(std::size_t size) {
  count();
  return __libc_malloc(size);
}
extern "C" void* calloc(std::size_t count_, std::size_t size) {
  count();
  return __libc_calloc(count_, size);
}
extern "C" void* realloc(void* pointer, std::size_t size) {
  count();
  return __libc_realloc(pointer, size);
}
extern "C" void* memalign(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  count();
  *out = __libc_memalign(alignment, size);
  return *out != nullptr ? 0 : ENOMEM;
}

namespace {

int g_failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++g_failures;
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

std::vector<float> values(std::size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = offset + scale * static_cast<float>((i * 37) % 101);
  return v;
}

}  // namespace

int main() {
  if (std::getenv("ADAGRAD_EXPECT_HIDDEN_PROC") != nullptr) {
    expect(access("/proc/self/maps", F_OK) != 0, "/proc is hidden");
    expect(access("/sys/devices/system/cpu", F_OK) != 0, "/sys is hidden");
  }
  constexpr std::size_t n = 1031;  // a vector body and a tail at every width
  constexpr std::size_t rows = 8, dim = 64;
  const adagrad_params params = adagrad_params_default();
  std::vector<float> w = values(n, 0.01f, -0.5f), g = values(n, -0.002f, 0.1f), G(n, 0.0f);
  std::vector<double> w64(n, 0.25), g64(n, -0.125), G64(n, 0.0);
  std::vector<float> table = values(rows * dim, 0.001f, 0.2f), state(rows * dim, 0.0f);
  std::vector<float> row_w = values(rows * dim, 0.003f, -0.1f), row_state(rows, 0.0f);
  std::vector<float> rows_g = values(rows * dim, 0.004f, -0.2f);
  const std::int64_t indices[] = {3, 5, 3};
  constexpr std::size_t num_indices = 3;
  std::vector<unsigned char> workspace(
      adagrad_sparse_workspace_size(num_indices, dim, ADAGRAD_DUPLICATES_SUM));
  std::vector<std::uint16_t> half(n);
  std::vector<float> w_prox = w, G_prox(n, 0.0f);
  const adagrad_regularization regularization = {1e-3, 1e-2};
  // Copies for the reference, made before counting starts.
  std::vector<float> w_ref = w, G_ref = G, table_ref = table, state_ref = state;
  std::vector<float> row_w_ref = row_w, row_state_ref = row_state;
  std::vector<float> w_prox_ref = w_prox, G_prox_ref = G_prox;
  std::vector<double> w64_ref = w64, G64_ref = G64;
  std::vector<std::uint16_t> half_ref(n);

  // The first call of the process resolves the dispatch of every family.
  g_counting.store(true);
  expect(adagrad_step(w.data(), g.data(), G.data(), n, &params) == ADAGRAD_OK, "dense f32 step");
  expect(adagrad_step_f64(w64.data(), g64.data(), G64.data(), n, &params) == ADAGRAD_OK,
         "dense f64 step");
  expect(adagrad_proximal_step(w_prox.data(), g.data(), G_prox.data(), n, &params,
                               &regularization) == ADAGRAD_OK,
         "proximal step");
  expect(adagrad_sparse_step(table.data(), state.data(), rows, dim, indices, num_indices,
                             rows_g.data(), &params, ADAGRAD_DUPLICATES_SUM, workspace.data(),
                             workspace.size(), nullptr) == ADAGRAD_OK,
         "sparse step");
  expect(adagrad_rowwise_step(row_w.data(), rows_g.data(), row_state.data(), rows, dim, &params,
                              nullptr) == ADAGRAD_OK,
         "row-wise step");
  expect(adagrad_convert_to_half(w.data(), half.data(), n, ADAGRAD_DTYPE_BF16) == ADAGRAD_OK,
         "conversion to bfloat16");
  g_counting.store(false);
  expect(g_allocations.load() == 0, "the first calls allocate nothing");
  if (g_allocations.load() != 0) std::printf("  %ld allocations\n", g_allocations.load());

  // The same on the scalar reference.
  const adagrad_isa scalar = ADAGRAD_ISA_SCALAR;
  expect(adagrad_step_isa(scalar, w_ref.data(), g.data(), G_ref.data(), n, &params) == ADAGRAD_OK,
         "reference f32 step");
  expect(adagrad_step_f64_isa(scalar, w64_ref.data(), g64.data(), G64_ref.data(), n, &params) ==
             ADAGRAD_OK,
         "reference f64 step");
  expect(adagrad_proximal_step_isa(scalar, w_prox_ref.data(), g.data(), G_prox_ref.data(), n,
                                   &params, &regularization) == ADAGRAD_OK,
         "reference proximal step");
  expect(adagrad_sparse_step_isa(scalar, table_ref.data(), state_ref.data(), rows, dim, indices,
                                 num_indices, rows_g.data(), &params, ADAGRAD_DUPLICATES_SUM,
                                 workspace.data(), workspace.size(), nullptr) == ADAGRAD_OK,
         "reference sparse step");
  expect(adagrad_rowwise_step_isa(scalar, row_w_ref.data(), rows_g.data(), row_state_ref.data(),
                                  rows, dim, &params, nullptr) == ADAGRAD_OK,
         "reference row-wise step");
  expect(adagrad_convert_to_half_isa(scalar, w.data(), half_ref.data(), n, ADAGRAD_DTYPE_BF16) ==
             ADAGRAD_OK,
         "reference conversion");
  expect(same_bits(w, w_ref) && same_bits(G, G_ref), "dense f32 bits");
  expect(same_bits(w64, w64_ref) && same_bits(G64, G64_ref), "dense f64 bits");
  expect(same_bits(w_prox, w_prox_ref) && same_bits(G_prox, G_prox_ref), "proximal bits");
  expect(same_bits(table, table_ref) && same_bits(state, state_ref), "sparse bits");
  expect(same_bits(row_w, row_w_ref) && same_bits(row_state, row_state_ref), "row-wise bits");
  expect(same_bits(half, half_ref), "conversion bits");
  return g_failures == 0 ? 0 : 1;
}
