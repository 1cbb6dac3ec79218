// SPDX-License-Identifier: BSD-3-Clause
// The embedding-table steps (sparse, row-wise, proximal and dual averaging)
// and the dense row-wise step.
#include "binding_common.h"

namespace adagrad_python {
namespace {

// The C entry points of one kind of sparse state. There is no _i32 variant
// with an explicit ISA: with isa given, int32 indices are widened to int64.
struct sparse_functions {
  decltype(&adagrad_sparse_step) i64;
  decltype(&adagrad_sparse_step_i32) i32;
  decltype(&adagrad_sparse_step_isa) i64_isa;
};

constexpr sparse_functions kPerElementState{&adagrad_sparse_step, &adagrad_sparse_step_i32,
                                            &adagrad_sparse_step_isa};
constexpr sparse_functions kRowwiseState{&adagrad_rowwise_sparse_step,
                                         &adagrad_rowwise_sparse_step_i32,
                                         &adagrad_rowwise_sparse_step_isa};

// The first index outside [0, num_rows), for the message; the library has
// already said that there is one.
template <class Index>
[[noreturn]] void raise_index_error(const py::array& indices, std::size_t num_rows) {
  const Index* data = static_cast<const Index*>(indices.data());
  const auto n = static_cast<std::size_t>(indices.size());
  for (std::size_t k = 0; k < n; ++k) {
    if (data[k] < 0 || static_cast<std::uint64_t>(data[k]) >= num_rows) {
      throw py::index_error("indices[" + std::to_string(k) + "] = " + std::to_string(data[k]) +
                            " is out of range for a table of " + std::to_string(num_rows) +
                            " rows");
    }
  }
  throw py::index_error("indices: an index is out of range for a table of " +
                        std::to_string(num_rows) + " rows");
}

// A state argument of a sparse step: (num_rows,) or (num_rows, dim) floats,
// written. rule says, in the shape message, what it holds.
struct sparse_state_argument {
  const py::object& value;
  const char* name;
  bool per_row;
  const char* rule;
};

// The arrays of a sparse step, checked.
struct sparse_arrays {
  py::array table;
  std::vector<py::array> states;  // in the order of the arguments
  std::vector<const char*> state_names;
  py::array indices;
  py::array grads;
  bool i32;  // int32 indices (else int64)
  std::size_t num_rows;
  std::size_t dim;
  std::size_t num_indices;
};

// The NumPy-level checks of a sparse step's arrays, in this order: the
// dtypes (table, the states, indices, grads), the shapes, the layouts. The
// library checks alignment and overlap.
sparse_arrays sparse_arrays_argument(const py::object& table_object,
                                     std::initializer_list<sparse_state_argument> states,
                                     const py::object& indices_object,
                                     const py::object& grads_object) {
  sparse_arrays a;
  a.table = float32_argument(table_object, "table");
  for (const sparse_state_argument& s : states) {
    a.states.push_back(float32_argument(s.value, s.name));
    a.state_names.push_back(s.name);
  }
  a.indices = as_array(indices_object, "indices");
  a.i32 = py::isinstance<py::array_t<std::int32_t>>(a.indices);
  if (!a.i32 && !py::isinstance<py::array_t<std::int64_t>>(a.indices)) {
    throw py::type_error("indices must have dtype int64 or int32, not " + dtype_name(a.indices));
  }
  a.grads = float32_argument(grads_object, "grads");

  check_matrix(a.table, "table", "(num_rows, dim)");
  const py::ssize_t num_rows = a.table.shape(0);
  const py::ssize_t dim = a.table.shape(1);
  std::size_t k = 0;
  for (const sparse_state_argument& s : states) {
    check_shape(a.states[k++], s.name,
                s.per_row ? py::object(py::make_tuple(num_rows)) : a.table.attr("shape"), s.rule);
  }
  if (a.indices.ndim() != 1) {
    throw py::value_error("indices must be 1-D, not of shape " + shape_of(a.indices));
  }
  const py::ssize_t num_indices = a.indices.shape(0);
  check_shape(a.grads, "grads", py::make_tuple(num_indices, dim),
              "one gradient row per index (len(indices), dim)");

  check_layout(a.table, "table", /*written=*/true);
  k = 0;
  for (const sparse_state_argument& s : states) check_layout(a.states[k++], s.name, true);
  check_layout(a.indices, "indices", /*written=*/false);
  check_layout(a.grads, "grads", /*written=*/false);

  a.num_rows = static_cast<std::size_t>(num_rows);
  a.dim = static_cast<std::size_t>(dim);
  a.num_indices = static_cast<std::size_t>(num_indices);
  return a;
}

// The binding's part of a sparse call: the workspace, allocated per call,
// and the indices as int64 when the entry point takes no int32 ones.
struct sparse_scratch {
  std::unique_ptr<unsigned char[]> workspace;
  std::size_t workspace_size;
  std::vector<std::int64_t> widened;
  const void* indices;  // a.indices' data, or widened's
};

// True when the two arrays' bytes intersect.
bool share_bytes(const py::array& a, const py::array& b) {
  const auto x = reinterpret_cast<std::uintptr_t>(a.data());
  const auto y = reinterpret_cast<std::uintptr_t>(b.data());
  const auto x_bytes = static_cast<std::uintptr_t>(a.nbytes());
  const auto y_bytes = static_cast<std::uintptr_t>(b.nbytes());
  return x_bytes != 0 && y_bytes != 0 && (x < y ? y - x < x_bytes : x - y < y_bytes);
}

// The library checks the buffers it is given; given a widened copy, it
// cannot see the caller's int32 indices. So before reading them the binding
// checks them as the library would: aligned, and sharing no byte with an
// array the step writes.
void check_widened_indices(const sparse_arrays& a) {
  if (reinterpret_cast<std::uintptr_t>(a.indices.data()) % sizeof(std::int32_t) != 0) {
    raise_buffer_status(ADAGRAD_ERROR_MISALIGNED, {{a.indices, "indices", false}});
  }
  std::vector<std::pair<const py::array*, const char*>> written{{&a.table, "table"}};
  for (std::size_t k = 0; k < a.states.size(); ++k) {
    written.emplace_back(&a.states[k], a.state_names[k]);
  }
  for (const auto& [array, name] : written) {
    if (share_bytes(*array, a.indices)) {
      raise_buffer_status(ADAGRAD_ERROR_OVERLAP,
                          {{*array, name, true}, {a.indices, "indices", false}});
    }
  }
}

sparse_scratch sparse_scratch_for(const sparse_arrays& a, adagrad_duplicates dup, bool widen) {
  sparse_scratch s;
  s.workspace_size = adagrad_sparse_workspace_size(a.num_indices, a.dim, dup);
  if (s.workspace_size == SIZE_MAX) {
    throw py::value_error("indices: " + std::to_string(a.num_indices) +
                          " indices need more workspace than the address space holds");
  }
  // Default-initialized, not zeroed: it is scratch. bad_alloc is MemoryError.
  if (s.workspace_size != 0) s.workspace.reset(new unsigned char[s.workspace_size]);
  // Widening is exact.
  if (widen && a.i32) {
    check_widened_indices(a);
    const auto* narrow = static_cast<const std::int32_t*>(a.indices.data());
    s.widened.assign(narrow, narrow + a.num_indices);
  }
  s.indices = s.widened.empty() ? a.indices.data() : s.widened.data();
  return s;
}

// A failed sparse step. field: what the library's check says of the
// parameters, asked only when it refused them.
template <class Check>
[[noreturn]] void raise_sparse_status(adagrad_status status, const sparse_arrays& a,
                                      const parameter_values& values, const Check& field,
                                      const std::optional<adagrad_isa>& isa) {
  if (status == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE) {
    if (a.i32) raise_index_error<std::int32_t>(a.indices, a.num_rows);
    raise_index_error<std::int64_t>(a.indices, a.num_rows);
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(field_message<float>(field(), values));
  }
  // In the order of the arguments: the written arrays, then the read ones.
  std::vector<buffer> buffers{{a.table, "table", true}};
  for (std::size_t k = 0; k < a.states.size(); ++k) {
    buffers.push_back({a.states[k], a.state_names[k], true});
  }
  buffers.push_back({a.indices, "indices", false});
  buffers.push_back({a.grads, "grads", false});
  raise_status(status, isa, buffers);
}

// sparse_step (Rowwise false) and rowwise_sparse_step (true).
template <bool Rowwise>
void sparse_step(argument table_object, argument state_object, argument indices_object,
                 argument grads_object, argument lr, argument eps, argument weight_decay,
                 argument lr_decay, argument step, argument maximize, argument eps_mode,
                 argument fma, argument duplicates, argument threads_object, argument pool_object,
                 argument isa_name) {
  const sparse_functions& functions = Rowwise ? kRowwiseState : kPerElementState;
  sparse_arrays a = sparse_arrays_argument(
      table_object,
      {Rowwise ? sparse_state_argument{state_object, "state", true,
                                       "one accumulator per row of table (num_rows,)"}
               : sparse_state_argument{state_object, "state", false,
                                       "one accumulator per element of table (num_rows, dim)"}},
      indices_object, grads_object);

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_duplicates dup = duplicates_argument(duplicates);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  // The _isa entry points take int64 indices only.
  const sparse_scratch scratch = sparse_scratch_for(a, dup, /*widen=*/isa.has_value());
  float* table_data = static_cast<float*>(a.table.mutable_data());
  float* state_data = static_cast<float*>(a.states[0].mutable_data());
  const float* grads_data = static_cast<const float*>(a.grads.data());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](adagrad_pool* pool) {
      if (isa) {
        return functions.i64_isa(*isa, table_data, state_data, a.num_rows, a.dim,
                                 static_cast<const std::int64_t*>(scratch.indices), a.num_indices,
                                 grads_data, &params, dup, scratch.workspace.get(),
                                 scratch.workspace_size, pool);
      }
      if (a.i32) {
        return functions.i32(table_data, state_data, a.num_rows, a.dim,
                             static_cast<const std::int32_t*>(scratch.indices), a.num_indices,
                             grads_data, &params, dup, scratch.workspace.get(),
                             scratch.workspace_size, pool);
      }
      return functions.i64(table_data, state_data, a.num_rows, a.dim,
                           static_cast<const std::int64_t*>(scratch.indices), a.num_indices,
                           grads_data, &params, dup, scratch.workspace.get(),
                           scratch.workspace_size, pool);
    });
  }
  if (status != ADAGRAD_OK) {
    raise_sparse_status(
        status, a, {params}, [&] { return adagrad_sparse_params_check(&params, dup); }, isa);
  }
}

void rowwise_step(argument w_object, argument g_object, argument row_state_object, argument lr,
                  argument eps, argument weight_decay, argument lr_decay, argument step,
                  argument maximize, argument eps_mode, argument fma, argument threads_object,
                  argument pool_object, argument isa_name) {
  py::array w = float32_argument(w_object, "w");
  const py::array g = float32_argument(g_object, "g");
  py::array row_state = float32_argument(row_state_object, "row_state");

  check_matrix(w, "w", "(rows, dim)");
  check_shape(g, "g", w.attr("shape"), "the shape of w");
  check_shape(row_state, "row_state", py::make_tuple(w.shape(0)),
              "one accumulator per row of w (rows,)");

  check_layout(w, "w", /*written=*/true);
  check_layout(g, "g", /*written=*/false);
  check_layout(row_state, "row_state", /*written=*/true);

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  float* w_data = static_cast<float*>(w.mutable_data());
  const float* g_data = static_cast<const float*>(g.data());
  float* state_data = static_cast<float*>(row_state.mutable_data());
  const auto rows = static_cast<std::size_t>(w.shape(0));
  const auto dim = static_cast<std::size_t>(w.shape(1));
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return on_isa(isa, adagrad_rowwise_step_isa, adagrad_rowwise_step, w_data, g_data, state_data,
                    rows, dim, &params, pool);
    });
  }
  // The written arrays first for the messages.
  if (status != ADAGRAD_OK) {
    raise_step_status<float>(status, params, isa,
                             {{w, "w", true}, {row_state, "row_state", true}, {g, "g", false}});
  }
}

// ---- Composite objectives on embedding tables (float32, lazy) ------------
//
// The library has no int32 entry points for these: int32 indices are widened
// to int64 here (exactly), as sparse_step does on its _isa path, so both
// index dtypes are accepted as by every other sparse step.

template <class Call>
void run_sparse_composite(sparse_arrays& a, const adagrad_params& params,
                          const adagrad_regularization& regularization, adagrad_duplicates dup,
                          const threading& where, bool dual_averaging,
                          const std::optional<adagrad_isa>& isa, const Call& call) {
  const sparse_scratch scratch = sparse_scratch_for(a, dup, /*widen=*/true);
  const auto* indices = static_cast<const std::int64_t*>(scratch.indices);
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return call(indices, scratch.workspace.get(), scratch.workspace_size, pool);
    });
  }
  if (status != ADAGRAD_OK) {
    // The composite check, then the duplicates mode (the header's order).
    const auto field = [&] {
      const adagrad_field composite = dual_averaging
                                          ? adagrad_da_params_check(&params, &regularization)
                                          : adagrad_proximal_params_check(&params, &regularization);
      return composite != ADAGRAD_FIELD_NONE ? composite
                                             : adagrad_sparse_params_check(&params, dup);
    };
    raise_sparse_status(status, a, {params, &regularization, nullptr, dual_averaging}, field, isa);
  }
}

void sparse_proximal_step(argument table_object, argument state_object, argument indices_object,
                          argument grads_object, argument l1, argument l2, argument lr,
                          argument eps, argument weight_decay, argument lr_decay, argument step,
                          argument maximize, argument eps_mode, argument fma, argument duplicates,
                          argument threads_object, argument pool_object, argument isa_name) {
  sparse_arrays a = sparse_arrays_argument(
      table_object,
      {{state_object, "state", false, "one accumulator per element of table (num_rows, dim)"}},
      indices_object, grads_object);

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_regularization regularization = regularization_argument(l1, l2);
  const adagrad_duplicates dup = duplicates_argument(duplicates);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  float* table_data = static_cast<float*>(a.table.mutable_data());
  float* state_data = static_cast<float*>(a.states[0].mutable_data());
  const float* grads_data = static_cast<const float*>(a.grads.data());
  run_sparse_composite(
      a, params, regularization, dup, where, /*dual_averaging=*/false, isa,
      [&](const std::int64_t* indices, void* workspace, std::size_t workspace_size,
          adagrad_pool* pool) {
        return on_isa(isa, adagrad_sparse_proximal_step_isa, adagrad_sparse_proximal_step,
                      table_data, state_data, a.num_rows, a.dim, indices, a.num_indices, grads_data,
                      &params, &regularization, dup, workspace, workspace_size, pool);
      });
}

void sparse_da_step(argument table_object, argument z_object, argument G_object,
                    argument indices_object, argument grads_object, argument step, argument l1,
                    argument l2, argument lr, argument eps, argument weight_decay,
                    argument lr_decay, argument maximize, argument eps_mode, argument fma,
                    argument duplicates, argument threads_object, argument pool_object,
                    argument isa_name) {
  sparse_arrays a = sparse_arrays_argument(
      table_object,
      {{z_object, "z", false, "one sum of gradients per element of table (num_rows, dim)"},
       {G_object, "G", false, "one accumulator per element of table (num_rows, dim)"}},
      indices_object, grads_object);

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_regularization regularization = regularization_argument(l1, l2);
  const adagrad_duplicates dup = duplicates_argument(duplicates);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  float* table_data = static_cast<float*>(a.table.mutable_data());
  float* z_data = static_cast<float*>(a.states[0].mutable_data());
  float* G_data = static_cast<float*>(a.states[1].mutable_data());
  const float* grads_data = static_cast<const float*>(a.grads.data());
  run_sparse_composite(a, params, regularization, dup, where, /*dual_averaging=*/true, isa,
                       [&](const std::int64_t* indices, void* workspace, std::size_t workspace_size,
                           adagrad_pool* pool) {
                         return on_isa(isa, adagrad_sparse_da_step_isa, adagrad_sparse_da_step,
                                       table_data, z_data, G_data, a.num_rows, a.dim, indices,
                                       a.num_indices, grads_data, &params, &regularization, dup,
                                       workspace, workspace_size, pool);
                       });
}

}  // namespace

void register_sparse(py::module_& m) {
  // The per-element and the row-wise table steps take the same arguments.
  using table_step = decltype(&sparse_step<false>);
  const struct {
    const char* name;
    table_step impl;
    const char* doc;
  } table_steps[] = {
      {"sparse_step", &sparse_step<false>,
       R"doc(One AdaGrad step of the rows of an embedding table named by indices, in
place, with per-element state: updates table and state.

table and state are float32 arrays of shape (num_rows, dim); indices a 1-D
int64 or int32 array of row numbers in [0, num_rows); grads a float32 array
of shape (len(indices), dim), row k the gradient of row indices[k]. All
C-contiguous; table and state writable and overlapping no other array.

Each updated row goes through exactly the dense step of step() (same
hyperparameters, same order, same bits); rows not named are not touched (no
weight decay, no accumulation). An index that occurs more than once:

    duplicates="sum"          its gradient rows are summed in batch order
                              ((g_a + g_b) + g_c ...), then the row is
                              updated once (TorchRec; PyTorch's coalesce
                              sums in another order, "torch")
    duplicates="sequential"   the row is updated once per occurrence, in
                              batch order (FBGEMM, TensorFlow)
    duplicates="torch"        as torch.optim.Adagrad (PyTorch 1.13, CPU)
                              steps a sparse gradient: summed in the order
                              its coalesce() sums (libstdc++'s std::sort
                              order, transcribed), and, for sparse_step,
                              each row updated in its order: G + g * g
                              never fused, w + (-lr) * (g / d), fused in
                              fma mode (adagrad.h has the details)

threads > 1 spreads the rows over that many threads, started for this call;
pool=ThreadPool(n) runs on a pool kept across calls instead (pass one of the
two). Small batches stay on the calling thread. Each row is updated by one
thread, in batch order, so the bits do not depend on the threads. isa as for
step(); every ISA gives the same bits. The workspace the library needs is
allocated per call.

Raises TypeError for a wrong type or dtype, IndexError naming the first index
out of range, and ValueError for anything else invalid, naming the argument;
nothing is changed then. The GIL is released while the step runs.)doc"},
      {"rowwise_sparse_step", &sparse_step<true>,
       R"doc(sparse_step() with row-wise state: one float32 accumulator per row, state
of shape (num_rows,), as FBGEMM, Caffe2 and TorchRec define row-wise AdaGrad.

Each updated row w (gradient g, accumulator G) goes through the row-wise step
of rowwise_step(); the arguments, duplicates, threads, pool, isa and errors
are those of sparse_step().)doc"}};
  for (const auto& f : table_steps) {
    def_function(m, f.name, f.impl, f.doc, py::arg("table"), py::arg("state"), py::arg("indices"),
                 py::arg("grads"), py::kw_only(), py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
                 py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("step") = 1,
                 py::arg("maximize") = false, py::arg("eps_mode") = "outside",
                 py::arg("fma") = false, py::arg("duplicates") = "sum", py::arg("threads") = 1,
                 py::arg("pool") = py::none(), py::arg("isa") = py::none());
  }

  def_function(m, "rowwise_step", &rowwise_step,
               R"doc(One row-wise AdaGrad step for a dense gradient, in place: updates w and
row_state.

w and g are float32 arrays of shape (rows, dim), row_state a float32 array of
shape (rows,), one accumulator per row; all C-contiguous, not overlapping; w
and row_state writable. Per row w[0 .. dim), gradient g, accumulator G:

    g'_j = -g_j if maximize; then g'_j = g'_j + weight_decay * w_j
    s = sum of g'_j * g'_j in the canonical order: partial[j % 16] +=
        g'_j * g'_j for j = 0 .. dim - 1 (sixteen partial sums from +0), then
        partial[k] += partial[k + 8] (k < 8), partial[k] += partial[k + 4]
        (k < 4), partial[k] += partial[k + 2] (k < 2), s = partial[0] +
        partial[1]
    G = G + s / dim                       (dim rounded to float32)
    r = lr_t / (sqrt(G) + eps)            eps_mode "outside"
    r = lr_t / sqrt(G + eps)              eps_mode "inside"
    w_j = w_j - r * g'_j

every operation one float32 operation (fma=True fuses the decay term and
the sum of squares), so every ISA and thread count gives the same bits.
lr_t, threads, pool and isa as for sparse_step(); errors as for step().)doc",
               py::arg("w"), py::arg("g"), py::arg("row_state"), py::kw_only(),
               py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
               py::arg("lr_decay") = 0.0, py::arg("step") = 1, py::arg("maximize") = false,
               py::arg("eps_mode") = "outside", py::arg("fma") = false, py::arg("threads") = 1,
               py::arg("pool") = py::none(), py::arg("isa") = py::none());

  def_function(m, "sparse_proximal_step", &sparse_proximal_step,
               R"doc(proximal_step() on the rows of an embedding table named by indices, lazily
(TensorFlow's SparseApplyProximalAdagrad): updates table and state in place.

The arrays are those of sparse_step(): table and state float32 (num_rows,
dim), indices int64 or int32 (1-D), grads float32 (len(indices), dim). Each
named row goes through exactly the dense step of proximal_step() (l1, l2 and
the other hyperparameters as there); rows not named are not touched.
duplicates, threads, pool, isa and the errors are those of sparse_step().
int32 indices are widened to int64 by the binding (the library takes int64).)doc",
               py::arg("table"), py::arg("state"), py::arg("indices"), py::arg("grads"),
               py::kw_only(), py::arg("l1") = 0.0, py::arg("l2") = 0.0, py::arg("lr") = 0.01,
               py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("step") = 1, py::arg("maximize") = false, py::arg("eps_mode") = "outside",
               py::arg("fma") = false, py::arg("duplicates") = "sum", py::arg("threads") = 1,
               py::arg("pool") = py::none(), py::arg("isa") = py::none());

  def_function(m, "sparse_da_step", &sparse_da_step,
               R"doc(da_step() on the rows of an embedding table named by indices, lazily
(TensorFlow's SparseApplyAdagradDA): updates table, z and G in place.

table, z and G are float32 arrays of shape (num_rows, dim); indices, grads,
duplicates, threads, pool, isa and the errors are those of sparse_step().
Each named row goes through exactly the dense step of da_step(), with step
(required, >= 1) as the global step t of every row; rows not named are not
touched. int32 indices are widened to int64 by the binding (the library
takes int64).)doc",
               py::arg("table"), py::arg("z"), py::arg("G"), py::arg("indices"), py::arg("grads"),
               py::kw_only(), py::arg("step"), py::arg("l1") = 0.0, py::arg("l2") = 0.0,
               py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
               py::arg("lr_decay") = 0.0, py::arg("maximize") = false,
               py::arg("eps_mode") = "outside", py::arg("fma") = false,
               py::arg("duplicates") = "sum", py::arg("threads") = 1, py::arg("pool") = py::none(),
               py::arg("isa") = py::none());
}

}  // namespace adagrad_python
