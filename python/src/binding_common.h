// SPDX-License-Identifier: BSD-3-Clause
// What every part of the Python binding shares: argument conversion and
// checks, error messages, dense-array validation, the embedding-table and
// pool helpers. The binding is split by family: dense.cpp (dense,
// composite and state_init), sparse.cpp (embedding tables and row-wise),
// mixed.cpp (16-bit weights and conversions) and adagrad_module.cpp (the
// module: version, thread pool, dispatch queries).
#ifndef ADAGRAD_PYTHON_BINDING_COMMON_H_
#define ADAGRAD_PYTHON_BINDING_COMMON_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"

#if ADAGRAD_PYTHON_HAVE_PTHREADPOOL
#include <pthreadpool.h>
#endif

namespace py = pybind11;

namespace adagrad_python {

// adagrad_isa is dense from 0; every value below this has a name.
constexpr int kIsaCount = 7;

// The C functions of one element type.
template <class T>
struct library;

template <>
struct library<float> {
  static constexpr const char* dtype = "float32";
  static constexpr auto step = &adagrad_step;
  static constexpr auto step_isa = &adagrad_step_isa;
  static constexpr auto state_init = &adagrad_state_init;
  static constexpr auto proximal = &adagrad_proximal_step;
  static constexpr auto proximal_isa = &adagrad_proximal_step_isa;
  static constexpr auto da = &adagrad_da_step;
  static constexpr auto da_isa = &adagrad_da_step_isa;
};

template <>
struct library<double> {
  static constexpr const char* dtype = "float64";
  static constexpr auto step = &adagrad_step_f64;
  static constexpr auto step_isa = &adagrad_step_f64_isa;
  static constexpr auto state_init = &adagrad_state_init_f64;
  static constexpr auto proximal = &adagrad_proximal_step_f64;
  static constexpr auto proximal_isa = &adagrad_proximal_step_f64_isa;
  static constexpr auto da = &adagrad_da_step_f64;
  static constexpr auto da_isa = &adagrad_da_step_f64_isa;
};

inline std::string type_name_of(const py::handle& value) { return Py_TYPE(value.ptr())->tp_name; }

inline std::string repr_of(const py::handle& value) { return py::repr(value).cast<std::string>(); }

inline std::string dtype_name(const py::array& array) {
  return py::str(array.dtype()).cast<std::string>();
}

inline py::array as_array(const py::handle& value, const char* name) {
  if (!py::isinstance<py::array>(value)) {
    throw py::type_error(std::string(name) + " must be a numpy.ndarray, not " +
                         type_name_of(value));
  }
  return py::reinterpret_borrow<py::array>(value);
}

// True for float64 arrays, false for float32 ones (native byte order both);
// any other dtype is a TypeError.
inline bool is_float64(const py::array& array, const char* name) {
  if (py::isinstance<py::array_t<double>>(array)) return true;
  if (py::isinstance<py::array_t<float>>(array)) return false;
  throw py::type_error(std::string(name) + " must have dtype float32 or float64, not " +
                       dtype_name(array));
}

// The checks every buffer the library is given needs: C order, because the
// library sees a flat run of elements; alignment to the element size, its
// contract; writable when the library writes to it.
inline void check_layout(const py::array& array, const char* name, bool written) {
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

inline bool overlap(const py::array& a, const py::array& b) {
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a.data());
  const auto b_begin = reinterpret_cast<std::uintptr_t>(b.data());
  const auto a_bytes = static_cast<std::uintptr_t>(a.nbytes());
  const auto b_bytes = static_cast<std::uintptr_t>(b.nbytes());
  if (a_bytes == 0 || b_bytes == 0) return false;
  return a_begin < b_begin ? b_begin - a_begin < a_bytes : a_begin - b_begin < b_bytes;
}

// A hyperparameter as float() takes it (int, float, NumPy scalars), but not
// a string: float("0.1") would accept one.
inline double real_argument(const py::handle& value, const char* name) {
  const double result = PyFloat_AsDouble(value.ptr());
  if (result == -1.0 && PyErr_Occurred()) {
    const bool too_large = PyErr_ExceptionMatches(PyExc_OverflowError);
    PyErr_Clear();
    if (too_large) throw py::value_error(std::string(name) + " is too large to be a float");
    throw py::type_error(std::string(name) + " must be a real number, not " + type_name_of(value));
  }
  return result;
}

// An integer in [0, 2**64): step, and the mixed steps' seed.
inline std::uint64_t uint64_argument(const py::handle& value, const char* name) {
  PyObject* index = PyNumber_Index(value.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    throw py::type_error(std::string(name) + " must be an integer, not " + type_name_of(value));
  }
  const unsigned long long result = PyLong_AsUnsignedLongLong(index);
  Py_DECREF(index);
  if (result == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(std::string(name) + " must be an integer in [0, 2**64), not " +
                          repr_of(value));
  }
  return result;
}

inline std::uint64_t step_argument(const py::handle& value) {
  return uint64_argument(value, "step");
}

// True or False (or a NumPy bool), not any object that has a truth value.
inline bool flag_argument(const py::handle& value, const char* name) {
  py::detail::make_caster<bool> caster;
  if (!caster.load(value, /*convert=*/false)) {
    throw py::type_error(std::string(name) + " must be a bool, not " + type_name_of(value));
  }
  return static_cast<bool>(caster);
}

inline adagrad_eps_mode eps_mode_argument(const py::handle& value) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("eps_mode must be a str, not " + type_name_of(value));
  }
  const auto mode = value.cast<std::string>();
  if (mode == "outside") return ADAGRAD_EPS_OUTSIDE_SQRT;
  if (mode == "inside") return ADAGRAD_EPS_INSIDE_SQRT;
  throw py::value_error("eps_mode must be \"outside\" or \"inside\", not " + repr_of(value));
}

// None: the dispatched ISA; a name: that ISA, which must be usable here.
inline std::optional<adagrad_isa> isa_argument(const py::handle& value) {
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
std::string invalid_rate_message(const char* name, double value) {
  return std::string(name) + " = " + repr_of(py::float_(value)) +
         " is invalid: it must be finite, >= 0 and at most the largest " + library<T>::dtype;
}

// The message for the first invalid rate of params, if one is.
template <class T>
std::optional<std::string> invalid_rate(const adagrad_params& params) {
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
      return invalid_rate_message<T>(r.name, params.*r.field);
    }
  }
  return std::nullopt;
}

template <class T>
std::string invalid_params_message(const adagrad_params& params) {
  if (auto message = invalid_rate<T>(params)) return *message;
  return "step must be >= 1 when lr_decay != 0";
}

// The same for a composite step, whose regularization (and, for dual
// averaging, the global step) the library checks too; again asked through
// no-op calls, one condition at a time.
template <class T>
std::string invalid_composite_message(const adagrad_params& params,
                                      const adagrad_regularization& regularization,
                                      bool dual_averaging) {
  if (auto message = invalid_rate<T>(params)) return *message;
  const adagrad_params defaults = adagrad_params_default();
  const struct {
    const char* name;
    double value;
    adagrad_regularization alone;
  } terms[] = {{"l1", regularization.l1, {regularization.l1, 0.0}},
               {"l2", regularization.l2, {0.0, regularization.l2}}};
  for (const auto& term : terms) {
    if (library<T>::proximal(nullptr, nullptr, nullptr, 0, &defaults, &term.alone) ==
        ADAGRAD_ERROR_INVALID_PARAMS) {
      return invalid_rate_message<T>(term.name, term.value);
    }
  }
  if (!dual_averaging || (params.lr_decay != 0.0 && params.step == 0)) {
    return "step must be >= 1 when lr_decay != 0";
  }
  if (params.step == 0) {
    return "step must be >= 1: it is the global step t of dual averaging, counted from 1";
  }
  const std::string t = std::to_string(params.step);
  const adagrad_regularization l1_alone{regularization.l1, 0.0};
  if (library<T>::da(nullptr, nullptr, nullptr, nullptr, 0, &params, &l1_alone) ==
      ADAGRAD_ERROR_INVALID_PARAMS) {
    return "step * l1 = " + t + " * " + repr_of(py::float_(regularization.l1)) +
           " is too large: dual averaging's threshold must be finite in " + library<T>::dtype;
  }
  const double lr_t =
      params.lr_decay == 0.0
          ? params.lr
          : params.lr / (1.0 + static_cast<double>(params.step - 1) * params.lr_decay);
  return "l2 * step * lr_t = " + repr_of(py::float_(regularization.l2)) + " * " + t + " * " +
         repr_of(py::float_(lr_t)) + " is too large: dual averaging's offset must be finite in " +
         library<T>::dtype;
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

// The hyperparameters every step takes as keywords, checked in this order;
// a null handle (a keyword step() was not given) keeps the default.
inline adagrad_params params_argument(py::handle lr, py::handle eps, py::handle weight_decay,
                                      py::handle lr_decay, py::handle step, py::handle maximize,
                                      py::handle eps_mode, py::handle fma) {
  adagrad_params params = adagrad_params_default();
  if (lr) params.lr = real_argument(lr, "lr");
  if (eps) params.eps = real_argument(eps, "eps");
  if (weight_decay) params.weight_decay = real_argument(weight_decay, "weight_decay");
  if (lr_decay) params.lr_decay = real_argument(lr_decay, "lr_decay");
  if (step) params.step = step_argument(step);
  if (maximize) params.maximize = flag_argument(maximize, "maximize") ? 1 : 0;
  if (eps_mode) params.eps_mode = eps_mode_argument(eps_mode);
  if (fma) params.fma = flag_argument(fma, "fma") ? 1 : 0;
  return params;
}

// One array of a dense step: its argument name, and whether it is written.
struct dense_array {
  const py::array& array;
  const char* name;
  bool written;
};

// "two", "three", "four": how many arrays must agree, for the messages.
inline const char* count_word(std::size_t count) {
  static const char* const kCounts[] = {"", "", "two", "three", "four"};
  return count < sizeof kCounts / sizeof kCounts[0] ? kCounts[count] : "";
}

// The last checks of a dense step's arrays: the layout of each, then each
// pair for overlap.
inline void check_layouts_and_overlap(std::initializer_list<dense_array> arrays) {
  for (const dense_array& a : arrays) check_layout(a.array, a.name, a.written);
  for (const dense_array* a = arrays.begin(); a != arrays.end(); ++a) {
    for (const dense_array* b = a + 1; b != arrays.end(); ++b) {
      if (overlap(a->array, b->array)) {
        // "w, g and G", "w, g, z and G"
        std::string names;
        for (const dense_array& each : arrays) {
          if (!names.empty()) names += &each == arrays.end() - 1 ? " and " : ", ";
          names += each.name;
        }
        throw py::value_error(std::string(a->name) + " and " + b->name + " share memory; " + names +
                              " must not overlap");
      }
    }
  }
}

// Whether two arrays have the same shape, read from the buffers' own
// fields: no Python attribute lookups on the per-call path.
inline bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t axis = 0; axis < a.ndim(); ++axis) {
    if (a.shape(axis) != b.shape(axis)) return false;
  }
  return true;
}

// Each array's shape against the first's.
inline void check_same_shape(const dense_array& first, const dense_array& a, std::size_t count) {
  if (!same_shape(a.array, first.array)) {
    throw py::value_error(
        std::string(a.name) + " has shape " + repr_of(a.array.attr("shape")) + " but " +
        first.name + " has " + repr_of(first.array.attr("shape")) +
        (count == 2 ? std::string("; both") : "; all " + std::string(count_word(count))) +
        " must have the same shape");
  }
}

// The checks of the dense steps' arrays, in this order: the first array's
// dtype, each other's dtype and shape against the first's, the layout of
// each, then each pair for overlap. True for float64, false for float32.
inline bool check_dense_arrays(std::initializer_list<dense_array> arrays) {
  const std::size_t count = arrays.size();
  const dense_array& first = *arrays.begin();
  const bool f64 = is_float64(first.array, first.name);
  for (const dense_array& a : arrays) {
    if (&a == &first) continue;
    if (is_float64(a.array, a.name) != f64) {
      throw py::type_error(std::string(a.name) + " has dtype " + dtype_name(a.array) + " but " +
                           first.name + " has " + dtype_name(first.array) + "; all " +
                           count_word(count) + " must have the same dtype");
    }
    check_same_shape(first, a, count);
  }
  check_layouts_and_overlap(arrays);
  return f64;
}

// A null handle (a keyword a dense step was not given) is 0.
inline adagrad_regularization regularization_argument(py::handle l1, py::handle l2) {
  return {l1 ? real_argument(l1, "l1") : 0.0, l2 ? real_argument(l2, "l2") : 0.0};
}

// ---- Embedding tables: sparse and row-wise steps (float32 only) ----------

// A float32 array of native byte order; any other dtype is a TypeError.
inline py::array float32_argument(const py::handle& value, const char* name) {
  py::array array = as_array(value, name);
  if (!py::isinstance<py::array_t<float>>(array)) {
    throw py::type_error(std::string(name) + " must have dtype float32, not " + dtype_name(array));
  }
  return array;
}

inline std::string shape_of(const py::array& array) { return repr_of(array.attr("shape")); }

// array must have the shape expected (a tuple); rule, in the message, says why.
inline void check_shape(const py::array& array, const char* name, const py::object& expected,
                        const std::string& rule) {
  if (!expected.equal(array.attr("shape"))) {
    throw py::value_error(std::string(name) + " has shape " + shape_of(array) +
                          " but must have shape " + repr_of(expected) + ": " + rule);
  }
}

inline void check_matrix(const py::array& array, const char* name, const char* rule) {
  if (array.ndim() != 2) {
    throw py::value_error(std::string(name) + " must be 2-D " + rule + ", not of shape " +
                          shape_of(array));
  }
}

// Each pair (a written array first) must not share a byte.
inline void check_no_overlap(
    std::initializer_list<std::tuple<py::array, const char*, py::array, const char*>> pairs,
    const char* rule) {
  for (const auto& [a, a_name, b, b_name] : pairs) {
    if (overlap(a, b)) {
      throw py::value_error(std::string(a_name) + " and " + b_name + " share memory; " + rule);
    }
  }
}

inline adagrad_duplicates duplicates_argument(const py::handle& value) {
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

inline std::size_t threads_argument(const py::handle& value) {
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
inline pool_pointer make_pool(std::size_t threads) {
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

inline threading threading_argument(const py::handle& threads_object,
                                    const py::handle& pool_object) {
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

// What the library's status means for a composite step; buffers names the
// arrays its buffer statuses are about.
template <class T>
[[noreturn]] void raise_composite_status(adagrad_status status, const adagrad_params& params,
                                         const adagrad_regularization& regularization,
                                         bool dual_averaging, const char* buffers) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(invalid_composite_message<T>(params, regularization, dual_averaging));
  }
  throw py::value_error(std::string(buffers) + ": " + adagrad_status_string(status));
}

// Each family file defines the Python functions of its family.
void register_dense(py::module_& m);
void register_sparse(py::module_& m);
void register_mixed(py::module_& m);

}  // namespace adagrad_python

#endif  // ADAGRAD_PYTHON_BINDING_COMMON_H_
