// SPDX-License-Identifier: BSD-3-Clause
// The embedding-bag steps (the backward pass of a pooled lookup fused with
// the sparse step, table-batched) and NumPy arrays on the library's
// table memory (transparent huge pages).
#include "binding_common.h"

namespace adagrad_python {
namespace {

// "weights[3]"
std::string item_name(const char* list, std::size_t index) {
  return std::string(list) + "[" + std::to_string(index) + "]";
}

// A sequence argument, one item per table; a lone ndarray (or, where
// allowed, None or a str) is one table's.
std::vector<py::object> per_table(argument object, const char* name, bool lone_allowed) {
  if (lone_allowed && (py::isinstance<py::array>(object) || py::isinstance<py::str>(object) ||
                       object.is_none())) {
    return {py::reinterpret_borrow<py::object>(object)};
  }
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object)) {
    throw py::type_error(std::string(name) + " must be a sequence with one item per table, not " +
                         type_name_of(object));
  }
  const auto list = py::reinterpret_borrow<py::sequence>(object);
  std::vector<py::object> items;
  items.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) items.push_back(list[i]);
  return items;
}

// One item of a per-table argument that may be given once for all tables.
const py::object& for_table(const std::vector<py::object>& items, std::size_t t) {
  return items.size() == 1 ? items[0] : items[t];
}

adagrad_pooling pooling_argument(const py::handle& value, const std::string& name) {
  static constexpr choice<adagrad_pooling> kModes[] = {{"sum", ADAGRAD_POOLING_SUM},
                                                       {"mean", ADAGRAD_POOLING_MEAN}};
  return choice_argument(value, name.c_str(), kModes, "\"sum\" or \"mean\"");
}

adagrad_weight_decay_mode decay_mode_argument(const py::handle& value) {
  static constexpr choice<adagrad_weight_decay_mode> kModes[] = {
      {"l2", ADAGRAD_WEIGHT_DECAY_L2},
      {"decouple", ADAGRAD_WEIGHT_DECAY_DECOUPLE},
      {"counter", ADAGRAD_WEIGHT_DECAY_COUNTER}};
  return choice_argument(value, "weight_decay_mode", kModes,
                         "\"l2\", \"decouple\" or \"counter\"");
}

// The arrays of one table, checked, and the descriptor the library takes.
struct table_arrays {
  py::array weights, state, indices, offsets, grad_output, per_sample_weights, counter,
      counter_step;
  std::string names[8];  // in the order above
};

// An ndarray argument of table t, with its dtype checked.
py::array typed_array(const py::object& value, const std::string& name, const char* dtypes,
                      bool (*accepts)(const py::array&)) {
  if (!py::isinstance<py::array>(value)) {
    throw py::type_error(name + " must be a numpy.ndarray, not " + type_name_of(value));
  }
  auto array = py::reinterpret_borrow<py::array>(value);
  if (!accepts(array)) {
    throw py::type_error(name + " must have dtype " + dtypes + ", not " + dtype_name(array));
  }
  return array;
}

bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }
bool is_i64(const py::array& a) { return py::isinstance<py::array_t<std::int64_t>>(a); }
bool is_i32(const py::array& a) { return py::isinstance<py::array_t<std::int32_t>>(a); }
bool is_index(const py::array& a) { return is_i64(a) || is_i32(a); }

void check_vector(const py::array& a, const std::string& name, std::size_t length,
                  const char* rule) {
  if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != length) {
    throw py::value_error(name + " must have shape (" + std::to_string(length) + ",) " + rule +
                          ", not " + shape_of(a));
  }
}

struct batch {
  std::vector<table_arrays> arrays;
  std::vector<adagrad_embedding_table> tables;
  std::vector<adagrad_params> params;  // one per table (only lr differs today: none)
  adagrad_embedding_options options;
  adagrad_index_type index_type = ADAGRAD_INDEX_INT64;
  std::size_t num_bags = 0;
  std::size_t max_indices = 0;
};

// Every NumPy-level check of every table, before anything is handed to the
// library: types and dtypes, shapes, layouts. The library checks the rest
// (alignment, overlap, offsets, indices, parameters) before it writes.
batch batch_argument(argument weights_object, argument states_object, argument indices_object,
                     argument offsets_object, argument grad_outputs_object,
                     argument per_sample_weights_object, argument pooling_object, bool rowwise,
                     argument counters_object, argument counter_steps_object, bool counter_mode) {
  const auto weights = per_table(weights_object, "weights", true);
  const auto states = per_table(states_object, "states", true);
  const auto indices = per_table(indices_object, "indices", true);
  const auto offsets = per_table(offsets_object, "offsets", true);
  const auto grad_outputs = per_table(grad_outputs_object, "grad_outputs", true);
  const auto weights_per_sample = per_table(per_sample_weights_object, "per_sample_weights", true);
  const auto poolings = per_table(pooling_object, "pooling", true);
  std::vector<py::object> counters, counter_steps;
  if (counter_mode) {
    counters = per_table(counters_object, "counters", true);
    counter_steps = per_table(counter_steps_object, "counter_steps", true);
  }
  const std::size_t count = weights.size();
  const struct {
    const std::vector<py::object>& items;
    const char* name;
    bool once_allowed;
  } lists[] = {{states, "states", false},
               {indices, "indices", false},
               {offsets, "offsets", false},
               {grad_outputs, "grad_outputs", false},
               {weights_per_sample, "per_sample_weights", true},
               {poolings, "pooling", true},
               {counters, "counters", false},
               {counter_steps, "counter_steps", false}};
  for (const auto& list : lists) {
    if (&list.items == &counters && !counter_mode) continue;
    if (&list.items == &counter_steps && !counter_mode) continue;
    if (list.items.size() != count && !(list.once_allowed && list.items.size() == 1)) {
      throw py::value_error(std::string(list.name) + " has " + std::to_string(list.items.size()) +
                            " items but weights has " + std::to_string(count) +
                            "; every list has one item per table");
    }
  }

  batch b;
  b.arrays.resize(count);
  b.tables.resize(count);
  for (std::size_t t = 0; t < count; ++t) {
    table_arrays& a = b.arrays[t];
    const std::string names[8] = {
        item_name("weights", t),       item_name("states", t),
        item_name("indices", t),       item_name("offsets", t),
        item_name("grad_outputs", t),  item_name("per_sample_weights", t),
        item_name("counters", t),      item_name("counter_steps", t)};
    std::copy(std::begin(names), std::end(names), std::begin(a.names));
    a.weights = typed_array(weights[t], a.names[0], "float32", is_f32);
    a.state = typed_array(states[t], a.names[1], "float32", is_f32);
    a.indices = typed_array(indices[t], a.names[2], "int64 or int32", is_index);
    a.offsets = typed_array(offsets[t], a.names[3], "int64 or int32", is_index);
    a.grad_output = typed_array(grad_outputs[t], a.names[4], "float32", is_f32);
    const py::object& psw = for_table(weights_per_sample, t);
    const bool weighted = !psw.is_none();
    if (weighted) a.per_sample_weights = typed_array(psw, a.names[5], "float32", is_f32);
    const bool i32 = is_i32(a.indices);
    if (t == 0) b.index_type = i32 ? ADAGRAD_INDEX_INT32 : ADAGRAD_INDEX_INT64;
    if (i32 != (b.index_type == ADAGRAD_INDEX_INT32) || is_i32(a.offsets) != i32) {
      throw py::type_error(a.names[3] + " and " + a.names[2] + " must have the dtype of " +
                           "indices[0] (" + dtype_name(b.arrays[0].indices) +
                           "): one index type per call");
    }
    if (counter_mode) {
      a.counter = typed_array(counters[t], a.names[6], "float32", is_f32);
      a.counter_step = typed_array(counter_steps[t], a.names[7], "int64", is_i64);
    }

    check_matrix(a.weights, a.names[0].c_str(), "(num_rows, dim)");
    const auto num_rows = static_cast<std::size_t>(a.weights.shape(0));
    const auto dim = static_cast<std::size_t>(a.weights.shape(1));
    if (rowwise) {
      check_vector(a.state, a.names[1], num_rows, "(one accumulator per row, rowwise=True)");
    } else {
      check_shape(a.state, a.names[1].c_str(), a.weights.attr("shape"),
                  "one accumulator per element of the table");
    }
    if (a.indices.ndim() != 1) {
      throw py::value_error(a.names[2] + " must be 1-D, not of shape " + shape_of(a.indices));
    }
    const auto num_indices = static_cast<std::size_t>(a.indices.shape(0));
    if (a.offsets.ndim() != 1 || a.offsets.shape(0) < 1) {
      throw py::value_error(a.names[3] + " must be 1-D with num_bags + 1 entries, not of shape " +
                            shape_of(a.offsets));
    }
    const auto num_bags = static_cast<std::size_t>(a.offsets.shape(0)) - 1;
    if (t == 0) b.num_bags = num_bags;
    if (num_bags != b.num_bags) {
      throw py::value_error(a.names[3] + " describes " + std::to_string(num_bags) +
                            " bags but offsets[0] " + std::to_string(b.num_bags) +
                            "; every table has the same number of bags");
    }
    // grad_output: (num_bags, dim) rows; the rows may be apart (a column
    // slice of one (num_bags, sum of dims) array, FBGEMM's layout).
    if (a.grad_output.ndim() != 2 || static_cast<std::size_t>(a.grad_output.shape(0)) != num_bags ||
        static_cast<std::size_t>(a.grad_output.shape(1)) != dim) {
      throw py::value_error(a.names[4] + " must have shape (" + std::to_string(num_bags) + ", " +
                            std::to_string(dim) + ") (one row per bag), not " +
                            shape_of(a.grad_output));
    }
    const auto row_stride = a.grad_output.strides(0);
    const auto column_stride = a.grad_output.strides(1);
    if ((dim > 1 && column_stride != static_cast<py::ssize_t>(sizeof(float))) ||
        (num_bags > 1 && (row_stride < 0 || row_stride % static_cast<py::ssize_t>(sizeof(float)) != 0 ||
                          static_cast<std::size_t>(row_stride) < dim * sizeof(float)))) {
      throw py::value_error(a.names[4] +
                            " must have contiguous rows at increasing, float-aligned strides");
    }
    if (weighted) check_vector(a.per_sample_weights, a.names[5], num_indices, "(one per index)");
    if (counter_mode) {
      check_vector(a.counter, a.names[6], num_rows, "(one counter per row)");
      check_vector(a.counter_step, a.names[7], num_rows, "(one step per row)");
    }
    check_layout(a.weights, a.names[0].c_str(), true);
    check_layout(a.state, a.names[1].c_str(), true);
    check_layout(a.indices, a.names[2].c_str(), false);
    check_layout(a.offsets, a.names[3].c_str(), false);
    if (weighted) check_layout(a.per_sample_weights, a.names[5].c_str(), false);
    if (counter_mode) {
      check_layout(a.counter, a.names[6].c_str(), true);
      check_layout(a.counter_step, a.names[7].c_str(), true);
    }

    adagrad_embedding_table& d = b.tables[t];
    d = adagrad_embedding_table{};
    d.weights = static_cast<float*>(a.weights.mutable_data());
    d.state = static_cast<float*>(a.state.mutable_data());
    d.num_rows = num_rows;
    d.dim = dim;
    d.params = nullptr;
    d.pooling = pooling_argument(for_table(poolings, t), item_name("pooling", t));
    d.indices = a.indices.data();
    d.offsets = a.offsets.data();
    d.num_indices = num_indices;
    d.per_sample_weights = weighted ? static_cast<const float*>(a.per_sample_weights.data())
                                    : nullptr;
    d.grad_output = static_cast<const float*>(a.grad_output.data());
    d.grad_output_stride = num_bags > 1 ? static_cast<std::size_t>(row_stride) / sizeof(float) : 0;
    d.options = nullptr;  // the call's, set by the caller of batch_argument
    if (counter_mode) {
      d.counter = static_cast<float*>(a.counter.mutable_data());
      d.counter_step = static_cast<std::int64_t*>(a.counter_step.mutable_data());
    }
    if (num_indices > b.max_indices) b.max_indices = num_indices;
  }
  return b;
}

// The first index of a table outside [0, num_rows), or the first offset out
// of order, for the message; the library has already said there is one.
template <class Index>
[[noreturn]] void raise_batch_values(adagrad_status status, const batch& b) {
  for (std::size_t t = 0; t < b.arrays.size(); ++t) {
    const table_arrays& a = b.arrays[t];
    if (status == ADAGRAD_ERROR_INVALID_OFFSETS) {
      const auto* o = static_cast<const Index*>(a.offsets.data());
      const auto n = static_cast<std::size_t>(a.offsets.size());
      if (o[0] != 0) throw py::value_error(a.names[3] + "[0] must be 0, not " + std::to_string(o[0]));
      for (std::size_t k = 1; k < n; ++k) {
        if (o[k] < o[k - 1]) {
          throw py::value_error(a.names[3] + " must be nondecreasing: [" + std::to_string(k) +
                                "] = " + std::to_string(o[k]) + " < [" + std::to_string(k - 1) +
                                "] = " + std::to_string(o[k - 1]));
        }
      }
      if (static_cast<std::uint64_t>(o[n - 1]) != b.tables[t].num_indices) {
        throw py::value_error(a.names[3] + "[-1] must be len(" + a.names[2] + ") = " +
                              std::to_string(b.tables[t].num_indices) + ", not " +
                              std::to_string(o[n - 1]));
      }
    } else {
      const auto* data = static_cast<const Index*>(a.indices.data());
      for (std::size_t k = 0; k < b.tables[t].num_indices; ++k) {
        if (data[k] < 0 || static_cast<std::uint64_t>(data[k]) >= b.tables[t].num_rows) {
          throw py::index_error(a.names[2] + "[" + std::to_string(k) + "] = " +
                                std::to_string(data[k]) + " is out of range for a table of " +
                                std::to_string(b.tables[t].num_rows) + " rows");
        }
      }
    }
  }
  throw py::value_error(adagrad_status_string(status));
}

[[noreturn]] void raise_batch_status(adagrad_status status, const batch& b,
                                     const adagrad_params& params,
                                     const std::optional<adagrad_isa>& isa) {
  if (status == ADAGRAD_ERROR_INVALID_OFFSETS || status == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE) {
    if (b.index_type == ADAGRAD_INDEX_INT32) raise_batch_values<std::int32_t>(status, b);
    raise_batch_values<std::int64_t>(status, b);
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    const adagrad_field field = adagrad_params_check(&params);
    if (field != ADAGRAD_FIELD_NONE) throw py::value_error(field_message<float>(field, {params}));
    const adagrad_embedding_options& o = b.options;
    throw py::value_error(
        "the embedding options are invalid (weight_decay_mode " +
        std::to_string(static_cast<int>(o.weight_decay_mode)) + ", max_norm " +
        repr_of(py::float_(o.max_norm)) + ", max_gradient " + repr_of(py::float_(o.max_gradient)) +
        ", counter_halflife " + repr_of(py::float_(o.counter_halflife)) + ", counter_decay " +
        repr_of(py::float_(o.counter_decay)) + ", step " + std::to_string(params.step) +
        "): max_norm and max_gradient must be finite float32 values >= 0; the decoupled modes "
        "need lr_t * weight_decay finite in float32; counter needs counter_halflife in (0, "
        "FLT_MAX], counter_decay in [0, 1] and step >= 1");
  }
  std::vector<buffer> buffers;
  for (const table_arrays& a : b.arrays) {
    buffers.push_back({a.weights, a.names[0].c_str(), true});
    buffers.push_back({a.state, a.names[1].c_str(), true});
    if (a.counter) buffers.push_back({a.counter, a.names[6].c_str(), true});
    if (a.counter_step) buffers.push_back({a.counter_step, a.names[7].c_str(), true});
  }
  for (const table_arrays& a : b.arrays) {
    buffers.push_back({a.indices, a.names[2].c_str(), false});
    buffers.push_back({a.offsets, a.names[3].c_str(), false});
    buffers.push_back({a.grad_output, a.names[4].c_str(), false});
    if (a.per_sample_weights) buffers.push_back({a.per_sample_weights, a.names[5].c_str(), false});
  }
  raise_status(status, isa, buffers);
}

void embedding_bag_step(argument weights, argument states, argument indices, argument offsets,
                        argument grad_outputs, argument per_sample_weights, argument pooling,
                        argument rowwise_object, argument lr, argument eps, argument weight_decay,
                        argument lr_decay, argument step, argument maximize, argument eps_mode,
                        argument fma, argument weight_decay_mode, argument max_norm,
                        argument max_gradient, argument counter_halflife, argument counter_decay,
                        argument counters, argument counter_steps, argument threads_object,
                        argument pool_object, argument isa_name) {
  const bool rowwise = flag_argument(rowwise_object, "rowwise");
  adagrad_embedding_options options = adagrad_embedding_options_default();
  options.weight_decay_mode = decay_mode_argument(weight_decay_mode);
  options.max_norm = real_argument(max_norm, "max_norm");
  options.max_gradient = real_argument(max_gradient, "max_gradient");
  options.counter_halflife = real_argument(counter_halflife, "counter_halflife");
  options.counter_decay = real_argument(counter_decay, "counter_decay");
  const bool counter_mode = options.weight_decay_mode == ADAGRAD_WEIGHT_DECAY_COUNTER;
  batch b = batch_argument(weights, states, indices, offsets, grad_outputs, per_sample_weights,
                           pooling, rowwise, counters, counter_steps, counter_mode);
  b.options = options;
  for (adagrad_embedding_table& d : b.tables) d.options = &b.options;

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  const std::size_t workspace_size = adagrad_embedding_bag_workspace_size(b.max_indices, b.num_bags);
  if (workspace_size == SIZE_MAX) {
    throw py::value_error("the batch needs more workspace than the address space holds");
  }
  // Scratch: default-initialized. bad_alloc is MemoryError.
  std::unique_ptr<unsigned char[]> workspace(workspace_size ? new unsigned char[workspace_size]
                                                            : nullptr);
  const auto pinned = rowwise ? adagrad_rowwise_embedding_bag_step_isa
                              : adagrad_embedding_bag_step_isa;
  const auto dispatched = rowwise ? adagrad_rowwise_embedding_bag_step
                                  : adagrad_embedding_bag_step;
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return on_isa(isa, pinned, dispatched, b.tables.data(), b.tables.size(), b.num_bags,
                    b.index_type, &params, static_cast<void*>(workspace.get()), workspace_size,
                    pool);
    });
  }
  if (status != ADAGRAD_OK) raise_batch_status(status, b, params, isa);
}

// ---- Table memory ------------------------------------------------------------

py::array table_array(argument shape_object, argument dtype_object) {
  const py::object numpy = py::module_::import("numpy");
  const py::dtype dtype = py::dtype::from_args(dtype_object);
  std::vector<py::ssize_t> shape;
  if (PyLong_Check(shape_object.ptr())) {
    shape.push_back(shape_object.cast<py::ssize_t>());
  } else {
    for (const py::handle item : py::reinterpret_borrow<py::sequence>(shape_object)) {
      shape.push_back(item.cast<py::ssize_t>());
    }
  }
  std::size_t bytes = static_cast<std::size_t>(dtype.itemsize());
  for (const py::ssize_t extent : shape) {
    if (extent < 0) throw py::value_error("shape must not have negative extents");
    const auto e = static_cast<std::size_t>(extent);
    if (e != 0 && bytes > SIZE_MAX / e) throw py::value_error("shape: too many bytes");
    bytes *= e;
  }
  void* memory = adagrad_table_alloc(bytes == 0 ? 1 : bytes);
  if (memory == nullptr) throw std::bad_alloc();
  const py::capsule owner(memory, [](void* p) { adagrad_table_free(p); });
  return py::array(dtype, shape, memory, owner);
}

std::size_t huge_page_bytes(argument array_object) {
  const py::array array = as_array(array_object, "array");
  std::size_t huge = 0;
  const adagrad_status status = adagrad_table_huge_page_bytes(
      array.data(), static_cast<std::size_t>(array.nbytes()), &huge);
  if (status != ADAGRAD_OK) {
    throw py::value_error(std::string("huge_page_bytes: ") + adagrad_status_string(status));
  }
  return huge;
}

}  // namespace

void register_embedding(py::module_& m) {
  def_function(m, "embedding_bag_step", &embedding_bag_step,
               R"doc(The backward pass of pooled embedding lookups fused with the AdaGrad
step, for one or many tables in one library call
(adagrad_embedding_bag_step, adagrad_rowwise_embedding_bag_step).

Per table t (each argument a sequence with one item per table; a lone array
is one table): weights[t] float32 (num_rows, dim) and states[t] float32 of
the same shape (rowwise=True: (num_rows,)), both updated in place;
indices[t] and offsets[t] int64 or int32 (one type per call), the bags in
CSR form: bag b holds indices[offsets[b]:offsets[b+1]], offsets has
num_bags + 1 entries from 0 to len(indices) (nn.EmbeddingBag's
include_last_offset=True); grad_outputs[t] float32 (num_bags, dim), the
gradient of the bags' outputs (rows may be apart: a column slice of one
(num_bags, sum of dims) array). per_sample_weights: None, or per table None
or float32 (len(indices),). pooling "sum" or "mean" (or one per table).

Each named row is updated once with the sum, in batch order, of its
occurrences' gradients (grad_output of the bag, times the sample's weight,
divided by the bag's length for "mean"): bitwise what materializing those
rows and calling sparse_step (rowwise_sparse_step) with duplicates="sum"
gives, on every ISA and thread count; the gradient rows are never written.
weight_decay_mode "l2" (every step's), "decouple" or "counter" (FBGEMM's,
with counters float32 (num_rows,) and counter_steps int64 (num_rows,) per
table, counter_halflife and counter_decay), max_norm and max_gradient as the
C header defines them. Hyperparameters as for sparse_step, the same for
every table; threads, pool and isa as for sparse_step.

Everything is checked before anything is written: TypeError for a type or
dtype, IndexError naming the first index out of range, ValueError for the
rest (naming the array, e.g. "offsets[2]"). The GIL is released while the
step runs.)doc",
               py::arg("weights"), py::arg("states"), py::arg("indices"), py::arg("offsets"),
               py::arg("grad_outputs"), py::kw_only(), py::arg("per_sample_weights") = py::none(),
               py::arg("pooling") = "sum", py::arg("rowwise") = false, py::arg("lr") = 0.01,
               py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("step") = 1, py::arg("maximize") = false, py::arg("eps_mode") = "outside",
               py::arg("fma") = false, py::arg("weight_decay_mode") = "l2",
               py::arg("max_norm") = 0.0, py::arg("max_gradient") = 0.0,
               py::arg("counter_halflife") = 0.0, py::arg("counter_decay") = 1.0,
               py::arg("counters") = py::none(), py::arg("counter_steps") = py::none(),
               py::arg("threads") = 1, py::arg("pool") = py::none(), py::arg("isa") = py::none());

  def_function(m, "table_array", &table_array,
               R"doc(A zero-filled numpy.ndarray of this shape and dtype on the library's
table memory (adagrad_table_alloc): 2 MiB aligned and advised MADV_HUGEPAGE
before its first touch, so that Linux's default THP mode ("madvise") backs it
with transparent huge pages; plain pages where THP is off. The memory is
freed with the array. torch.from_numpy(table_array(...)) gives a tensor on
it. huge_page_bytes(array) says how much of it huge pages hold once
touched.)doc",
               py::arg("shape"), py::arg("dtype") = "float32");

  def_function(m, "huge_page_bytes", &huge_page_bytes,
               R"doc(Bytes of transparent huge pages (AnonHugePages in /proc/self/smaps) of
the memory mappings that hold array's data (adagrad_table_huge_page_bytes).
For a table_array, exactly its huge-page memory. ValueError where
/proc/self/smaps cannot be read.)doc",
               py::arg("array"));
}

}  // namespace adagrad_python
