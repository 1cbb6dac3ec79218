// _adagrad: the Python binding of the C API in include/adagrad/adagrad.h.
//
// Every argument is checked here before the library is called, so that a
// mistake raises TypeError (wrong type or dtype) or ValueError (anything else)
// naming the argument, and changes nothing; the library's statuses are mapped
// as well, as the last line of defence. Arrays are taken as they are, never
// converted: a float64 array passed where float32 was meant must fail rather
// than have a converted copy updated while the caller's array stays as it was.
//
// The embedding-table steps run on threads=N threads (a pthreadpool created
// for the call and joined after it) or on pool=adagrad.ThreadPool(N), which
// the caller keeps for many calls; the binding keeps no pool of its own. Their
// workspace is the binding's: allocated per call, never cached.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"

#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
#include <pthreadpool.h>
#endif

namespace py = pybind11;

namespace {

// adagrad_isa is dense from 0; every value below this has a name.
constexpr int kIsaCount = 6;

// The C functions of one element type.
template <class T>
struct library;

template <>
struct library<float> {
  static constexpr const char* dtype = "float32";
  static constexpr auto step = &adagrad_step;
  static constexpr auto step_isa = &adagrad_step_isa;
  static constexpr auto state_init = &adagrad_state_init;
};

template <>
struct library<double> {
  static constexpr const char* dtype = "float64";
  static constexpr auto step = &adagrad_step_f64;
  static constexpr auto step_isa = &adagrad_step_f64_isa;
  static constexpr auto state_init = &adagrad_state_init_f64;
};

std::string type_name_of(const py::handle& value) { return Py_TYPE(value.ptr())->tp_name; }

std::string repr_of(const py::handle& value) { return py::repr(value).cast<std::string>(); }

std::string dtype_name(const py::array& array) {
  return py::str(array.dtype()).cast<std::string>();
}

py::array as_array(const py::handle& value, const char* name) {
  if (!py::isinstance<py::array>(value)) {
    throw py::type_error(std::string(name) + " must be a numpy.ndarray, not " +
                         type_name_of(value));
  }
  return py::reinterpret_borrow<py::array>(value);
}

// True for float64 arrays, false for float32 ones (native byte order both);
// any other dtype is a TypeError.
bool is_float64(const py::array& array, const char* name) {
  if (py::isinstance<py::array_t<double>>(array)) return true;
  if (py::isinstance<py::array_t<float>>(array)) return false;
  throw py::type_error(std::string(name) + " must have dtype float32 or float64, not " +
                       dtype_name(array));
}

// The checks every buffer the library is given needs: C order, because the
// library sees a flat run of elements; alignment to the element size, its
// contract; writable when the library writes to it.
void check_layout(const py::array& array, const char* name, bool written) {
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(std::string(name) + " must be C-contiguous");
  }
  if (written && !array.writeable()) {
    throw py::value_error(std::string(name) + " is read-only; it is updated in place");
  }
  if (reinterpret_cast<std::uintptr_t>(array.data()) % static_cast<std::size_t>(array.itemsize()) !=
      0) {
    throw py::value_error(std::string(name) + " is not aligned to its element size");
  }
}

bool overlap(const py::array& a, const py::array& b) {
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a.data());
  const auto b_begin = reinterpret_cast<std::uintptr_t>(b.data());
  const auto a_bytes = static_cast<std::uintptr_t>(a.nbytes());
  const auto b_bytes = static_cast<std::uintptr_t>(b.nbytes());
  if (a_bytes == 0 || b_bytes == 0) return false;
  return a_begin < b_begin ? b_begin - a_begin < a_bytes : a_begin - b_begin < b_bytes;
}

// A hyperparameter as float() takes it (int, float, NumPy scalars), but not
// a string: float("0.1") would accept one.
double real_argument(const py::handle& value, const char* name) {
  const double result = PyFloat_AsDouble(value.ptr());
  if (result == -1.0 && PyErr_Occurred()) {
    const bool too_large = PyErr_ExceptionMatches(PyExc_OverflowError);
    PyErr_Clear();
    if (too_large) throw py::value_error(std::string(name) + " is too large to be a float");
    throw py::type_error(std::string(name) + " must be a real number, not " + type_name_of(value));
  }
  return result;
}

std::uint64_t step_argument(const py::handle& value) {
  PyObject* index = PyNumber_Index(value.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    throw py::type_error("step must be an integer, not " + type_name_of(value));
  }
  const unsigned long long result = PyLong_AsUnsignedLongLong(index);
  Py_DECREF(index);
  if (result == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error("step must be an integer in [0, 2**64), not " + repr_of(value));
  }
  return result;
}

// True or False (or a NumPy bool), not any object that has a truth value.
bool flag_argument(const py::handle& value, const char* name) {
  py::detail::make_caster<bool> caster;
  if (!caster.load(value, /*convert=*/false)) {
    throw py::type_error(std::string(name) + " must be a bool, not " + type_name_of(value));
  }
  return static_cast<bool>(caster);
}

adagrad_eps_mode eps_mode_argument(const py::handle& value) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("eps_mode must be a str, not " + type_name_of(value));
  }
  const auto mode = value.cast<std::string>();
  if (mode == "outside") return ADAGRAD_EPS_OUTSIDE_SQRT;
  if (mode == "inside") return ADAGRAD_EPS_INSIDE_SQRT;
  throw py::value_error("eps_mode must be \"outside\" or \"inside\", not " + repr_of(value));
}

// None: the dispatched ISA; a name: that ISA, which must be usable here.
std::optional<adagrad_isa> isa_argument(const py::handle& value) {
  if (value.is_none()) return std::nullopt;
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("isa must be None or a str, not " + type_name_of(value));
  }
  const auto name = value.cast<std::string>();
  for (int i = 0; i < kIsaCount; ++i) {
    const auto isa = static_cast<adagrad_isa>(i);
    if (name == adagrad_isa_name(isa)) {
      if (!adagrad_isa_supported(isa)) {
        throw py::value_error("isa " + repr_of(value) +
                              " is not built into this library or not usable on this CPU");
      }
      return isa;
    }
  }
  throw py::value_error("isa " + repr_of(value) + " is not the name of an ISA");
}

// The library says only that some hyperparameter is invalid. Which one is
// found by asking it about each rate alone (the others at their defaults)
// through a no-op call, n = 0, which still validates the parameters: the
// rule stays the library's own.
template <class T>
std::string invalid_params_message(const adagrad_params& params) {
  struct rate {
    const char* name;
    double adagrad_params::*field;
  };
  const rate rates[] = {{"lr", &adagrad_params::lr},
                        {"eps", &adagrad_params::eps},
                        {"weight_decay", &adagrad_params::weight_decay},
                        {"lr_decay", &adagrad_params::lr_decay}};
  for (const rate& r : rates) {
    adagrad_params alone = adagrad_params_default();
    alone.*r.field = params.*r.field;
    if (library<T>::step(nullptr, nullptr, nullptr, 0, &alone) == ADAGRAD_ERROR_INVALID_PARAMS) {
      return std::string(r.name) + " = " + repr_of(py::float_(params.*r.field)) +
             " is invalid: it must be finite, >= 0 and at most the largest " + library<T>::dtype;
    }
  }
  return "step must be >= 1 when lr_decay != 0";
}

// buffers: the arguments the library's buffer statuses are about.
template <class T>
[[noreturn]] void raise_status(adagrad_status status, const adagrad_params& params,
                               const char* buffers) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(invalid_params_message<T>(params));
  }
  throw py::value_error(std::string(buffers) + ": " + adagrad_status_string(status));
}

// The hyperparameters every step takes as keywords, checked in this order.
adagrad_params params_argument(const py::object& lr, const py::object& eps,
                               const py::object& weight_decay, const py::object& lr_decay,
                               const py::object& step, const py::object& maximize,
                               const py::object& eps_mode, const py::object& fma) {
  adagrad_params params = adagrad_params_default();
  params.lr = real_argument(lr, "lr");
  params.eps = real_argument(eps, "eps");
  params.weight_decay = real_argument(weight_decay, "weight_decay");
  params.lr_decay = real_argument(lr_decay, "lr_decay");
  params.step = step_argument(step);
  params.maximize = flag_argument(maximize, "maximize") ? 1 : 0;
  params.eps_mode = eps_mode_argument(eps_mode);
  params.fma = flag_argument(fma, "fma") ? 1 : 0;
  return params;
}

template <class T>
void run_step(py::array& w, const py::array& g, py::array& G, const adagrad_params& params,
              std::optional<adagrad_isa> isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    // The arrays stay alive (the caller holds them) and nothing here touches
    // a Python object, so other threads may run meanwhile.
    py::gil_scoped_release release;
    status = isa ? library<T>::step_isa(*isa, w_data, g_data, G_data, n, &params)
                 : library<T>::step(w_data, g_data, G_data, n, &params);
  }
  if (status != ADAGRAD_OK) raise_status<T>(status, params, "w, g, G");
}

void step(const py::object& w_object, const py::object& g_object, const py::object& G_object,
          const py::object& lr, const py::object& eps, const py::object& weight_decay,
          const py::object& lr_decay, const py::object& step, const py::object& maximize,
          const py::object& eps_mode, const py::object& fma, const py::object& isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const bool f64 = is_float64(w, "w");
  for (const auto& [array, name] : {std::pair{g, "g"}, std::pair{G, "G"}}) {
    if (is_float64(array, name) != f64) {
      throw py::type_error(std::string(name) + " has dtype " + dtype_name(array) + " but w has " +
                           dtype_name(w) + "; all three must have the same dtype");
    }
    if (!array.attr("shape").equal(w.attr("shape"))) {
      throw py::value_error(std::string(name) + " has shape " + repr_of(array.attr("shape")) +
                            " but w has " + repr_of(w.attr("shape")) +
                            "; all three must have the same shape");
    }
  }
  check_layout(w, "w", /*written=*/true);
  check_layout(g, "g", /*written=*/false);
  check_layout(G, "G", /*written=*/true);
  for (const auto& [a, a_name, b, b_name] :
       {std::tuple{w, "w", g, "g"}, std::tuple{w, "w", G, "G"}, std::tuple{g, "g", G, "G"}}) {
    if (overlap(a, b)) {
      throw py::value_error(std::string(a_name) + " and " + b_name +
                            " share memory; w, g and G must not overlap");
    }
  }

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  if (f64) {
    run_step<double>(w, g, G, params, isa);
  } else {
    run_step<float>(w, g, G, params, isa);
  }
}

template <class T>
void run_state_init(py::array& G, double value) {
  T* data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(G.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = library<T>::state_init(data, n, value);
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error("value = " + repr_of(py::float_(value)) +
                          " is invalid: it must be finite, >= 0 and at most the largest " +
                          library<T>::dtype);
  }
  if (status != ADAGRAD_OK) {
    throw py::value_error(std::string("G: ") + adagrad_status_string(status));
  }
}

void state_init(const py::object& G_object, const py::object& value_object) {
  py::array G = as_array(G_object, "G");
  const bool f64 = is_float64(G, "G");
  check_layout(G, "G", /*written=*/true);
  const double value = real_argument(value_object, "value");
  if (f64) {
    run_state_init<double>(G, value);
  } else {
    run_state_init<float>(G, value);
  }
}

// ---- Embedding tables: sparse and row-wise steps (float32 only) ----------

// A float32 array of native byte order; any other dtype is a TypeError.
py::array float32_argument(const py::handle& value, const char* name) {
  py::array array = as_array(value, name);
  if (!py::isinstance<py::array_t<float>>(array)) {
    throw py::type_error(std::string(name) + " must have dtype float32, not " + dtype_name(array));
  }
  return array;
}

std::string shape_of(const py::array& array) { return repr_of(array.attr("shape")); }

// array must have the shape expected (a tuple); rule, in the message, says why.
void check_shape(const py::array& array, const char* name, const py::object& expected,
                 const std::string& rule) {
  if (!expected.equal(array.attr("shape"))) {
    throw py::value_error(std::string(name) + " has shape " + shape_of(array) +
                          " but must have shape " + repr_of(expected) + ": " + rule);
  }
}

void check_matrix(const py::array& array, const char* name, const char* rule) {
  if (array.ndim() != 2) {
    throw py::value_error(std::string(name) + " must be 2-D " + rule + ", not of shape " +
                          shape_of(array));
  }
}

// Each pair (a written array first) must not share a byte.
void check_no_overlap(
    std::initializer_list<std::tuple<py::array, const char*, py::array, const char*>> pairs,
    const char* rule) {
  for (const auto& [a, a_name, b, b_name] : pairs) {
    if (overlap(a, b)) {
      throw py::value_error(std::string(a_name) + " and " + b_name + " share memory; " + rule);
    }
  }
}

adagrad_duplicates duplicates_argument(const py::handle& value) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("duplicates must be a str, not " + type_name_of(value));
  }
  const auto mode = value.cast<std::string>();
  if (mode == "sum") return ADAGRAD_DUPLICATES_SUM;
  if (mode == "sequential") return ADAGRAD_DUPLICATES_SEQUENTIAL;
  throw py::value_error("duplicates must be \"sum\" or \"sequential\", not " + repr_of(value));
}

// More threads than this is a mistake, not a request: pthreadpool_create
// does not check pthread_create, so a count the system cannot start would
// hang the call instead of failing it.
constexpr long long kMaxThreads = 1024;

std::size_t threads_argument(const py::handle& value) {
  // bool is an int in Python; threads=True is a typo for something.
  PyObject* index = PyBool_Check(value.ptr()) ? nullptr : PyNumber_Index(value.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    throw py::type_error("threads must be an int, not " + type_name_of(value));
  }
  int overflow = 0;
  const long long threads = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  if (threads == -1 && PyErr_Occurred()) PyErr_Clear();
  if (overflow != 0 || threads < 1 || threads > kMaxThreads) {
    throw py::value_error("threads must be an int in [1, " + std::to_string(kMaxThreads) +
                          "], not " + repr_of(value));
  }
  return static_cast<std::size_t>(threads);
}

#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
struct pool_deleter {
  void operator()(pthreadpool_t pool) const { pthreadpool_destroy(pool); }
};
using pool_pointer = std::unique_ptr<pthreadpool, pool_deleter>;

// pthreadpool_create fails only when it cannot allocate the pool.
pool_pointer make_pool(std::size_t threads) {
  pool_pointer pool(pthreadpool_create(threads));
  if (pool == nullptr) throw std::bad_alloc();
  return pool;
}
#endif

// adagrad.ThreadPool: a pthreadpool that lives as long as the Python object,
// for callers that step often enough that starting threads for every call
// would cost more than the step. Without pthreadpool it holds no threads and
// the steps run on the calling thread.
class thread_pool {
 public:
  explicit thread_pool(std::size_t threads) : creator_(getpid()) {
#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
    pool_ = make_pool(threads);
#else
    (void)threads;
#endif
  }

  std::size_t threads() const {
#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
    return pthreadpool_get_threads_count(pool_.get());
#else
    return 1;
#endif
  }

  // The pool for a call. Its threads exist only in the process that created
  // it: a forked child would wait for them forever.
  pthreadpool* get() const {
    if (getpid() != creator_) {
      throw py::value_error(
          "pool was created in another process (before a fork); create one in this process");
    }
#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
    return pool_.get();
#else
    return nullptr;
#endif
  }

 private:
  pid_t creator_;
#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
  pool_pointer pool_;
#endif
};

// Where a step runs: on pool when one is given, else on `threads` threads.
struct threading {
  std::size_t threads;
  pthreadpool* pool;  // an adagrad.ThreadPool's, or NULL
};

threading threading_argument(const py::handle& threads_object, const py::handle& pool_object) {
  const std::size_t threads = threads_argument(threads_object);
  if (pool_object.is_none()) return {threads, nullptr};
  if (!py::isinstance<thread_pool>(pool_object)) {
    throw py::type_error("pool must be None or an adagrad.ThreadPool, not " +
                         type_name_of(pool_object));
  }
  if (threads != 1) {
    throw py::value_error("threads and pool are both given; pass one (a pool has its threads)");
  }
  return {1, pool_object.cast<const thread_pool&>().get()};
}

// call(pool) on the given pool; else on a pool of `threads` threads made for
// this call and joined after it; else (one thread, or a library built without
// pthreadpool, which runs every pool on the calling thread anyway) with NULL.
// Call with the GIL released.
template <class Call>
adagrad_status run_threaded(const threading& where, const Call& call) {
  if (where.pool != nullptr) return call(where.pool);
#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
  if (where.threads > 1) {
    const pool_pointer pool = make_pool(where.threads);
    return call(pool.get());
  }
#endif
  return call(nullptr);
}

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

// sparse_step (Rowwise false) and rowwise_sparse_step (true).
template <bool Rowwise>
void sparse_step(const py::object& table_object, const py::object& state_object,
                 const py::object& indices_object, const py::object& grads_object,
                 const py::object& lr, const py::object& eps, const py::object& weight_decay,
                 const py::object& lr_decay, const py::object& step, const py::object& maximize,
                 const py::object& eps_mode, const py::object& fma, const py::object& duplicates,
                 const py::object& threads_object, const py::object& pool_object,
                 const py::object& isa_name) {
  const sparse_functions& functions = Rowwise ? kRowwiseState : kPerElementState;
  py::array table = float32_argument(table_object, "table");
  py::array state = float32_argument(state_object, "state");
  const py::array indices = as_array(indices_object, "indices");
  const bool i32 = py::isinstance<py::array_t<std::int32_t>>(indices);
  if (!i32 && !py::isinstance<py::array_t<std::int64_t>>(indices)) {
    throw py::type_error("indices must have dtype int64 or int32, not " + dtype_name(indices));
  }
  const py::array grads = float32_argument(grads_object, "grads");

  check_matrix(table, "table", "(num_rows, dim)");
  const py::ssize_t num_rows = table.shape(0);
  const py::ssize_t dim = table.shape(1);
  if (Rowwise) {
    check_shape(state, "state", py::make_tuple(num_rows),
                "one accumulator per row of table (num_rows,)");
  } else {
    check_shape(state, "state", table.attr("shape"),
                "one accumulator per element of table (num_rows, dim)");
  }
  if (indices.ndim() != 1) {
    throw py::value_error("indices must be 1-D, not of shape " + shape_of(indices));
  }
  const py::ssize_t num_indices = indices.shape(0);
  check_shape(grads, "grads", py::make_tuple(num_indices, dim),
              "one gradient row per index (len(indices), dim)");

  check_layout(table, "table", /*written=*/true);
  check_layout(state, "state", /*written=*/true);
  check_layout(indices, "indices", /*written=*/false);
  check_layout(grads, "grads", /*written=*/false);
  check_no_overlap({{table, "table", state, "state"},
                    {table, "table", indices, "indices"},
                    {table, "table", grads, "grads"},
                    {state, "state", indices, "indices"},
                    {state, "state", grads, "grads"}},
                   "the written arrays (table, state) must not overlap any other");

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_duplicates dup = duplicates_argument(duplicates);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  const auto rows = static_cast<std::size_t>(num_rows);
  const auto columns = static_cast<std::size_t>(dim);
  const auto n = static_cast<std::size_t>(num_indices);
  const std::size_t workspace_size = adagrad_sparse_workspace_size(n, columns, dup);
  if (workspace_size == SIZE_MAX) {
    throw py::value_error("indices: " + std::to_string(n) +
                          " indices need more workspace than the address space holds");
  }
  // Default-initialized, not zeroed: it is scratch. bad_alloc is MemoryError.
  const std::unique_ptr<unsigned char[]> workspace(
      workspace_size != 0 ? new unsigned char[workspace_size] : nullptr);
  // The _isa entry points take int64 indices only; widening is exact.
  std::vector<std::int64_t> widened;
  if (isa && i32) {
    const auto* narrow = static_cast<const std::int32_t*>(indices.data());
    widened.assign(narrow, narrow + n);
  }

  float* table_data = static_cast<float*>(table.mutable_data());
  float* state_data = static_cast<float*>(state.mutable_data());
  const float* grads_data = static_cast<const float*>(grads.data());
  const void* index_data = widened.empty() ? indices.data() : widened.data();
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](pthreadpool* pool) {
      if (isa) {
        return functions.i64_isa(*isa, table_data, state_data, rows, columns,
                                 static_cast<const std::int64_t*>(index_data), n, grads_data,
                                 &params, dup, workspace.get(), workspace_size, pool);
      }
      if (i32) {
        return functions.i32(table_data, state_data, rows, columns,
                             static_cast<const std::int32_t*>(index_data), n, grads_data, &params,
                             dup, workspace.get(), workspace_size, pool);
      }
      return functions.i64(table_data, state_data, rows, columns,
                           static_cast<const std::int64_t*>(index_data), n, grads_data, &params,
                           dup, workspace.get(), workspace_size, pool);
    });
  }
  if (status == ADAGRAD_OK) return;
  if (status == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE) {
    if (i32) raise_index_error<std::int32_t>(indices, rows);
    raise_index_error<std::int64_t>(indices, rows);
  }
  raise_status<float>(status, params, "table, state, indices, grads");
}

void rowwise_step(const py::object& w_object, const py::object& g_object,
                  const py::object& row_state_object, const py::object& lr, const py::object& eps,
                  const py::object& weight_decay, const py::object& lr_decay,
                  const py::object& step, const py::object& maximize, const py::object& eps_mode,
                  const py::object& fma, const py::object& threads_object,
                  const py::object& pool_object, const py::object& isa_name) {
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
  check_no_overlap(
      {{w, "w", g, "g"}, {w, "w", row_state, "row_state"}, {row_state, "row_state", g, "g"}},
      "w, g and row_state must not overlap");

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
    status = run_threaded(where, [&](pthreadpool* pool) {
      return isa ? adagrad_rowwise_step_isa(*isa, w_data, g_data, state_data, rows, dim, &params,
                                            pool)
                 : adagrad_rowwise_step(w_data, g_data, state_data, rows, dim, &params, pool);
    });
  }
  if (status != ADAGRAD_OK) raise_status<float>(status, params, "w, g, row_state");
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (int i = 0; i < kIsaCount; ++i) {
    const auto isa = static_cast<adagrad_isa>(i);
    if (adagrad_isa_supported(isa)) names.emplace_back(adagrad_isa_name(isa));
  }
  return names;
}

}  // namespace

PYBIND11_MODULE(_adagrad, m) {
  m.doc() = "Binding of the adagrad C library; use the adagrad package, which re-exports it.";
  m.attr("__version__") = std::to_string(ADAGRAD_VERSION_MAJOR) + "." +
                          std::to_string(ADAGRAD_VERSION_MINOR) + "." +
                          std::to_string(ADAGRAD_VERSION_PATCH);

  m.def("step", &step, py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(),
        py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("lr_decay") = 0.0, py::arg("step") = 1, py::arg("maximize") = false,
        py::arg("eps_mode") = "outside", py::arg("fma") = false, py::arg("isa") = py::none(),
        R"doc(One AdaGrad step, in place: updates w and G from the gradient g.

w, g and G are NumPy arrays of one dtype (float32 or float64) and one shape,
C-contiguous, not overlapping; w and G writable. Per element, in the seed
notebook's order:

    g = -g                       if maximize
    g = g + weight_decay * w     if weight_decay != 0
    G = G + g * g
    w = w - (lr_t * g) / (sqrt(G) + eps)      eps_mode "outside"
    w = w - (lr_t * g) / sqrt(G + eps)        eps_mode "inside"

with lr_t = lr / (1 + (step - 1) * lr_decay) (torch.optim.Adagrad's clr),
each hyperparameter rounded once to the dtype and each operation one IEEE-754
operation; fma=True fuses the two multiply-adds as PyTorch's CPU kernels may.
isa None runs the dispatched ISA (see active_isa()), a name from
supported_isas() pins one; every ISA gives the same bits.

Raises TypeError for a wrong type or dtype and ValueError for anything else
invalid, naming the argument; nothing is changed then. The GIL is released
while the step runs.)doc");

  m.def("state_init", &state_init, py::arg("G"), py::arg("value"),
        R"doc(Fills the accumulator G (a writable, C-contiguous float32 or float64
array) with value rounded to its dtype, as the frameworks' initial
accumulator values start it. value must be finite and >= 0.)doc");

  py::class_<thread_pool>(m, "ThreadPool", R"doc(ThreadPool(threads)

A pool of threads (a pthreadpool, the pool XNNPACK and PyTorch use) for the
embedding-table steps' pool= argument, kept for as many calls as the caller
likes: threads=N instead starts N - 1 threads for every call, which costs
more than a small step. threads is an int in [1, 1024]; the calling thread is
one of them. A pool is used by one step at a time (concurrent steps on one
pool take turns) and only in the process that created it. Built without
pthreadpool, a pool holds no threads and .threads is 1.)doc")
      .def(py::init([](const py::object& threads) {
             const std::size_t count = threads_argument(threads);
             py::gil_scoped_release release;
             return std::make_unique<thread_pool>(count);
           }),
           py::arg("threads"))
      .def_property_readonly("threads", &thread_pool::threads,
                             "The number of threads steps on this pool run on.")
      .def("__repr__", [](const thread_pool& pool) {
        return "adagrad.ThreadPool(" + std::to_string(pool.threads()) + ")";
      });

  m.def("sparse_step", &sparse_step<false>, py::arg("table"), py::arg("state"), py::arg("indices"),
        py::arg("grads"), py::kw_only(), py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("step") = 1,
        py::arg("maximize") = false, py::arg("eps_mode") = "outside", py::arg("fma") = false,
        py::arg("duplicates") = "sum", py::arg("threads") = 1, py::arg("pool") = py::none(),
        py::arg("isa") = py::none(),
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
                              updated once (PyTorch's coalesce, TorchRec)
    duplicates="sequential"   the row is updated once per occurrence, in
                              batch order (FBGEMM, TensorFlow)

threads > 1 spreads the rows over that many threads, started for this call;
pool=ThreadPool(n) runs on a pool kept across calls instead (pass one of the
two). Small batches stay on the calling thread. Each row is updated by one
thread, in batch order, so the bits do not depend on the threads. isa as for
step(); every ISA gives the same bits. The workspace the library needs is
allocated per call.

Raises TypeError for a wrong type or dtype, IndexError naming the first index
out of range, and ValueError for anything else invalid, naming the argument;
nothing is changed then. The GIL is released while the step runs.)doc");

  m.def("rowwise_sparse_step", &sparse_step<true>, py::arg("table"), py::arg("state"),
        py::arg("indices"), py::arg("grads"), py::kw_only(), py::arg("lr") = 0.01,
        py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
        py::arg("step") = 1, py::arg("maximize") = false, py::arg("eps_mode") = "outside",
        py::arg("fma") = false, py::arg("duplicates") = "sum", py::arg("threads") = 1,
        py::arg("pool") = py::none(), py::arg("isa") = py::none(),
        R"doc(sparse_step() with row-wise state: one float32 accumulator per row, state
of shape (num_rows,), as FBGEMM, Caffe2 and TorchRec define row-wise AdaGrad.

Each updated row w (gradient g, accumulator G) goes through the row-wise step
of rowwise_step(); the arguments, duplicates, threads, pool, isa and errors
are those of sparse_step().)doc");

  m.def("rowwise_step", &rowwise_step, py::arg("w"), py::arg("g"), py::arg("row_state"),
        py::kw_only(), py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("lr_decay") = 0.0, py::arg("step") = 1, py::arg("maximize") = false,
        py::arg("eps_mode") = "outside", py::arg("fma") = false, py::arg("threads") = 1,
        py::arg("pool") = py::none(), py::arg("isa") = py::none(),
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
lr_t, threads, pool and isa as for sparse_step(); errors as for step().)doc");

  m.def(
      "active_isa", [] { return std::string(adagrad_isa_name(adagrad_active_isa())); },
      "The ISA that step() runs on when isa is None: the best this CPU has, unless the "
      "environment variable ADAGRAD_ISA named a usable one before the first step.");

  m.def("supported_isas", &supported_isas,
        "Names of every ISA this library was built with and this CPU can run, \"scalar\" first.");
}
