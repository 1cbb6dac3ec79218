// SPDX-License-Identifier: BSD-3-Clause
// adagrad.hpp: thin, header-only C++17 wrappers over the C API of adagrad.h.
// Nothing here throws or allocates; errors come back as adagrad_status.
#ifndef ADAGRAD_ADAGRAD_HPP_
#define ADAGRAD_ADAGRAD_HPP_

#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"

#if defined(__has_include)
#if __has_include(<span>) && __cplusplus >= 202002L
#include <span>
#define ADAGRAD_HAS_STD_SPAN 1
#endif
#endif

namespace adagrad {

using status = adagrad_status;
using isa = adagrad_isa;

// The hyperparameters with the seed notebook's defaults (those of
// adagrad_params_default()); see adagrad_params for each field's contract.
struct params {
  double lr = 0.01;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double lr_decay = 0.0;
  std::uint64_t step = 1;
  bool maximize = false;
  adagrad_eps_mode eps_mode = ADAGRAD_EPS_OUTSIDE_SQRT;
  bool fma = false;

  adagrad_params to_c() const noexcept {
    adagrad_params p;
    p.lr = lr;
    p.eps = eps;
    p.weight_decay = weight_decay;
    p.lr_decay = lr_decay;
    p.step = step;
    p.maximize = maximize ? 1 : 0;
    p.eps_mode = eps_mode;
    p.fma = fma ? 1 : 0;
    return p;
  }
};

[[nodiscard]] inline status step(float* w, const float* g, float* G, std::size_t n,
                                 const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step(w, g, G, n, &c);
}

[[nodiscard]] inline status step(double* w, const double* g, double* G, std::size_t n,
                                 const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_f64(w, g, G, n, &c);
}

// The same on an explicit ISA (ADAGRAD_ERROR_UNSUPPORTED_ISA when unusable).
[[nodiscard]] inline status step(isa target, float* w, const float* g, float* G, std::size_t n,
                                 const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_isa(target, w, g, G, n, &c);
}

[[nodiscard]] inline status step(isa target, double* w, const double* g, double* G, std::size_t n,
                                 const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_f64_isa(target, w, g, G, n, &c);
}

// Owns an adagrad_pool: its threads start here and are joined when it goes.
// get() is nullptr when the threads could not be created (a step given
// nullptr runs on the calling thread).
class thread_pool {
 public:
  explicit thread_pool(std::size_t threads) noexcept : pool_(adagrad_pool_create(threads)) {}
  ~thread_pool() { adagrad_pool_destroy(pool_); }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  [[nodiscard]] adagrad_pool* get() const noexcept { return pool_; }
  [[nodiscard]] std::size_t threads() const noexcept { return adagrad_pool_threads(pool_); }

 private:
  adagrad_pool* pool_;
};

// Spread over an adagrad_pool (nullptr: the calling thread).
[[nodiscard]] inline status step_parallel(adagrad_pool* pool, float* w, const float* g,
                                          float* G, std::size_t n,
                                          const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_parallel(pool, w, g, G, n, &c);
}

[[nodiscard]] inline status step_parallel(adagrad_pool* pool, double* w, const double* g,
                                          double* G, std::size_t n,
                                          const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_parallel_f64(pool, w, g, G, n, &c);
}

// Every tensor of a model in one call, balanced across the pool.
[[nodiscard]] inline status step_multi(const adagrad_tensor* tensors, std::size_t count,
                                       const params& p = params{},
                                       adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_multi(tensors, count, &c, pool);
}

[[nodiscard]] inline status step_multi(const adagrad_tensor_f64* tensors, std::size_t count,
                                       const params& p = params{},
                                       adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_step_multi_f64(tensors, count, &c, pool);
}

// Embedding tables (see adagrad.h): the sparse steps with per-element state
// (sparse_step) or one accumulator per row (rowwise_sparse_step), int64 or
// int32 indices, and the caller's workspace of sparse_workspace_size bytes.
inline std::size_t sparse_workspace_size(std::size_t num_indices, std::size_t dim,
                                         adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM) noexcept {
  return adagrad_sparse_workspace_size(num_indices, dim, dup);
}

[[nodiscard]] inline status sparse_step(float* table, float* state, std::size_t num_rows,
                                        std::size_t dim, const std::int64_t* indices,
                                        std::size_t num_indices, const float* grads,
                                        void* workspace, std::size_t workspace_size,
                                        const params& p = params{},
                                        adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM,
                                        adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_sparse_step(table, state, num_rows, dim, indices, num_indices, grads, &c, dup,
                             workspace, workspace_size, pool);
}

[[nodiscard]] inline status sparse_step(float* table, float* state, std::size_t num_rows,
                                        std::size_t dim, const std::int32_t* indices,
                                        std::size_t num_indices, const float* grads,
                                        void* workspace, std::size_t workspace_size,
                                        const params& p = params{},
                                        adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM,
                                        adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_sparse_step_i32(table, state, num_rows, dim, indices, num_indices, grads, &c, dup,
                                 workspace, workspace_size, pool);
}

[[nodiscard]] inline status rowwise_sparse_step(
    float* table, float* row_state, std::size_t num_rows, std::size_t dim,
    const std::int64_t* indices, std::size_t num_indices, const float* grads, void* workspace,
    std::size_t workspace_size, const params& p = params{},
    adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM, adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_rowwise_sparse_step(table, row_state, num_rows, dim, indices, num_indices, grads,
                                     &c, dup, workspace, workspace_size, pool);
}

[[nodiscard]] inline status rowwise_sparse_step(
    float* table, float* row_state, std::size_t num_rows, std::size_t dim,
    const std::int32_t* indices, std::size_t num_indices, const float* grads, void* workspace,
    std::size_t workspace_size, const params& p = params{},
    adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM, adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_rowwise_sparse_step_i32(table, row_state, num_rows, dim, indices, num_indices,
                                         grads, &c, dup, workspace, workspace_size, pool);
}

// Row-wise AdaGrad for a dense rows x dim gradient.
[[nodiscard]] inline status rowwise_step(float* w, const float* g, float* row_state,
                                         std::size_t rows, std::size_t dim,
                                         const params& p = params{},
                                         adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_rowwise_step(w, g, row_state, rows, dim, &c, pool);
}

// Composite objectives (see adagrad.h): proximal AdaGrad and AdaGrad dual
// averaging with L1/L2 regularization; DA's global step t is p.step.
struct regularization {
  double l1 = 0.0;
  double l2 = 0.0;
  adagrad_regularization to_c() const noexcept { return {l1, l2}; }
};

[[nodiscard]] inline status proximal_step(float* w, const float* g, float* G, std::size_t n,
                                          const regularization& r,
                                          const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_proximal_step(w, g, G, n, &c, &rc);
}

[[nodiscard]] inline status proximal_step(double* w, const double* g, double* G, std::size_t n,
                                          const regularization& r,
                                          const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_proximal_step_f64(w, g, G, n, &c, &rc);
}

[[nodiscard]] inline status da_step(float* w, const float* g, float* z, float* G, std::size_t n,
                                    const regularization& r, const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_da_step(w, g, z, G, n, &c, &rc);
}

[[nodiscard]] inline status da_step(double* w, const double* g, double* z, double* G, std::size_t n,
                                    const regularization& r, const params& p = params{}) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_da_step_f64(w, g, z, G, n, &c, &rc);
}

[[nodiscard]] inline status sparse_proximal_step(
    float* table, float* state, std::size_t num_rows, std::size_t dim, const std::int64_t* indices,
    std::size_t num_indices, const float* grads, void* workspace, std::size_t workspace_size,
    const regularization& r, const params& p = params{},
    adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM, adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_sparse_proximal_step(table, state, num_rows, dim, indices, num_indices, grads, &c,
                                      &rc, dup, workspace, workspace_size, pool);
}

[[nodiscard]] inline status sparse_da_step(float* table, float* z, float* G, std::size_t num_rows,
                                           std::size_t dim, const std::int64_t* indices,
                                           std::size_t num_indices, const float* grads,
                                           void* workspace, std::size_t workspace_size,
                                           const regularization& r, const params& p = params{},
                                           adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM,
                                           adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_regularization rc = r.to_c();
  return adagrad_sparse_da_step(table, z, G, num_rows, dim, indices, num_indices, grads, &c, &rc,
                                dup, workspace, workspace_size, pool);
}

// Mixed precision (see adagrad.h): 16-bit values are uint16_t bit patterns.
struct mixed_options {
  adagrad_rounding rounding = ADAGRAD_ROUND_NEAREST_EVEN;
  std::uint64_t seed = 0;
  double grad_scale = 1.0;
  const float* found_inf = nullptr;
  adagrad_mixed_options to_c() const noexcept {
    adagrad_mixed_options o;
    o.rounding = rounding;
    o.seed = seed;
    o.grad_scale = grad_scale;
    o.found_inf = found_inf;
    return o;
  }
};

[[nodiscard]] inline status step_mixed(std::uint16_t* w, adagrad_dtype w_type, const void* g,
                                       adagrad_dtype g_type, float* G, std::size_t n,
                                       const params& p = params{},
                                       const mixed_options& o = mixed_options{},
                                       adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_mixed_options oc = o.to_c();
  return adagrad_step_mixed(w, w_type, g, g_type, G, n, &c, &oc, pool);
}

[[nodiscard]] inline status step_master(float* w, const void* g, adagrad_dtype g_type, float* G,
                                        std::uint16_t* w_copy, adagrad_dtype copy_type,
                                        std::size_t n, const params& p = params{},
                                        const mixed_options& o = mixed_options{},
                                        adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  const adagrad_mixed_options oc = o.to_c();
  return adagrad_step_master(w, g, g_type, G, w_copy, copy_type, n, &c, &oc, pool);
}

#if defined(ADAGRAD_HAS_STD_SPAN)
// Span overloads: ADAGRAD_ERROR_SIZE_MISMATCH, with nothing written, when the
// three spans differ in length.
[[nodiscard]] inline status step(std::span<float> w, std::span<const float> g, std::span<float> G,
                                 const params& p = params{}) noexcept {
  if (w.size() != g.size() || w.size() != G.size()) return ADAGRAD_ERROR_SIZE_MISMATCH;
  return step(w.data(), g.data(), G.data(), w.size(), p);
}

[[nodiscard]] inline status step(std::span<double> w, std::span<const double> g,
                                 std::span<double> G, const params& p = params{}) noexcept {
  if (w.size() != g.size() || w.size() != G.size()) return ADAGRAD_ERROR_SIZE_MISMATCH;
  return step(w.data(), g.data(), G.data(), w.size(), p);
}
#endif

inline isa active_isa() noexcept { return adagrad_active_isa(); }
inline isa active_wide_isa() noexcept { return adagrad_active_wide_isa(); }

using family = adagrad_family;
using dispatch_source = adagrad_dispatch_source;
// The ISA family dispatches to, and how that was chosen (adagrad_dispatch_query).
struct dispatch_choice {
  isa target;
  dispatch_source source;
};
[[nodiscard]] inline status dispatch_query(family f, dispatch_choice* choice) noexcept {
  if (choice == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  return adagrad_dispatch_query(f, &choice->target, &choice->source);
}
inline bool isa_supported(isa target) noexcept { return adagrad_isa_supported(target) != 0; }
inline const char* isa_name(isa target) noexcept { return adagrad_isa_name(target); }
// The ISA named name (adagrad_isa_from_name).
[[nodiscard]] inline status isa_from_name(const char* name, isa* target) noexcept {
  return adagrad_isa_from_name(name, target);
}
inline const char* status_string(status s) noexcept { return adagrad_status_string(s); }

// Which parameter the float (double) steps refuse in p, ADAGRAD_FIELD_NONE
// when none (adagrad_params_check, adagrad_params_check_f64).
using field = adagrad_field;
[[nodiscard]] inline field params_check(const params& p) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_params_check(&c);
}
[[nodiscard]] inline field params_check_f64(const params& p) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_params_check_f64(&c);
}
inline const char* field_name(field f) noexcept { return adagrad_field_name(f); }

// The fused embedding-bag steps (see adagrad.h, "Embedding bags"): tables as
// adagrad_embedding_table descriptors (each may carry its own adagrad_params
// and adagrad_embedding_options), p for the tables without their own.
using embedding_table = adagrad_embedding_table;
using embedding_options = adagrad_embedding_options;
inline std::size_t embedding_bag_workspace_size(std::size_t max_table_indices,
                                                std::size_t num_bags) noexcept {
  return adagrad_embedding_bag_workspace_size(max_table_indices, num_bags);
}
[[nodiscard]] inline status embedding_bag_step(const embedding_table* tables,
                                               std::size_t num_tables, std::size_t num_bags,
                                               adagrad_index_type index_type, void* workspace,
                                               std::size_t workspace_size,
                                               const params& p = params{},
                                               adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_embedding_bag_step(tables, num_tables, num_bags, index_type, &c, workspace,
                                    workspace_size, pool);
}
[[nodiscard]] inline status rowwise_embedding_bag_step(
    const embedding_table* tables, std::size_t num_tables, std::size_t num_bags,
    adagrad_index_type index_type, void* workspace, std::size_t workspace_size,
    const params& p = params{}, adagrad_pool* pool = nullptr) noexcept {
  const adagrad_params c = p.to_c();
  return adagrad_rowwise_embedding_bag_step(tables, num_tables, num_bags, index_type, &c, workspace,
                                            workspace_size, pool);
}

}  // namespace adagrad

#endif  // ADAGRAD_ADAGRAD_HPP_
