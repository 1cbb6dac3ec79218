// SPDX-License-Identifier: BSD-3-Clause
// What every part of the Python binding shares: argument conversion, the
// NumPy-level checks (types, dtypes, shapes, C order, writability), the
// messages for the library's statuses, the embedding-table and pool
// helpers. The library validates everything else (parameters, alignment,
// overlap, sizes) before it writes anything; the binding maps its statuses
// to exceptions, asking it which parameter was invalid. The binding is split
// by family: dense.cpp (dense, composite and state_init), sparse.cpp
// (embedding tables and row-wise), mixed.cpp (16-bit weights and
// conversions) and adagrad_module.cpp (the module: version, thread pool,
// dispatch queries); function.h defines the functions from their py::arg
// lists.
#ifndef ADAGRAD_PYTHON_BINDING_COMMON_H_
#define ADAGRAD_PYTHON_BINDING_COMMON_H_

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
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"
#include "function.h"


namespace py = pybind11;

namespace adagrad_python {

// A Python argument of a module function: function.h passes each as this.
using argument = const py::object&;

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
  static constexpr auto params_check = &adagrad_params_check;
  static constexpr auto proximal_check = &adagrad_proximal_params_check;
  static constexpr auto da_check = &adagrad_da_params_check;
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
  static constexpr auto params_check = &adagrad_params_check_f64;
  static constexpr auto proximal_check = &adagrad_proximal_params_check_f64;
  static constexpr auto da_check = &adagrad_da_params_check_f64;
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

// 32 or 64 for a float32 or float64 array in native byte order, read from
// its descriptor; 0 for anything else. py::isinstance<py::array_t<T>> asks
// NumPy for T's descriptor and compares the two, which cost step_multi
// about 0.1 us per array (bench/torch_bench.py, case 200x1000: 600 arrays
// per call).
inline int native_float_bits(const py::array& array) {
  const py::dtype dtype = array.dtype();
  if (dtype.byteorder() != '=') return 0;
  const int number = dtype.num();
  if (number == py::detail::npy_api::NPY_FLOAT_) return 32;
  if (number == py::detail::npy_api::NPY_DOUBLE_) return 64;
  return 0;
}

// True for float64 arrays, false for float32 ones (native byte order both);
// any other dtype is a TypeError.
inline bool is_float64(const py::array& array, const char* name) {
  const int bits = native_float_bits(array);
  if (bits != 0) return bits == 64;
  if (py::isinstance<py::array_t<double>>(array)) return true;
  if (py::isinstance<py::array_t<float>>(array)) return false;
  throw py::type_error(std::string(name) + " must have dtype float32 or float64, not " +
                       dtype_name(array));
}

// What an array must be before the library sees it as a buffer: C order,
// because the library sees a flat run of elements; writable when the
// library writes to it. Alignment and overlap are the library's to check.
inline void check_layout(const py::array& array, const char* name, bool written) {
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(std::string(name) + " must be C-contiguous");
  }
  if (written && !array.writeable()) {
    throw py::value_error(std::string(name) + " is read-only; it is updated in place");
  }
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

// One of the names a str argument may take, and what it means.
template <class Value>
struct choice {
  const char* name;
  Value value;
};

// The value of the choice a str argument names; rule, for the message, says
// which names there are ("\"outside\" or \"inside\"").
template <class Value, std::size_t N>
Value choice_argument(const py::handle& value, const char* name, const choice<Value> (&choices)[N],
                      const char* rule) {
  if (!PyUnicode_Check(value.ptr())) {
    throw py::type_error(std::string(name) + " must be a str, not " + type_name_of(value));
  }
  for (const choice<Value>& c : choices) {
    if (PyUnicode_CompareWithASCIIString(value.ptr(), c.name) == 0) return c.value;
  }
  throw py::value_error(std::string(name) + " must be " + rule + ", not " + repr_of(value));
}

inline adagrad_eps_mode eps_mode_argument(const py::handle& value) {
  static constexpr choice<adagrad_eps_mode> kModes[] = {{"outside", ADAGRAD_EPS_OUTSIDE_SQRT},
                                                        {"inside", ADAGRAD_EPS_INSIDE_SQRT}};
  return choice_argument(value, "eps_mode", kModes, "\"outside\" or \"inside\"");
}

// None: the dispatched ISA; a name: that ISA, by the library's names. Whether
// it is usable here is the library's to say (ADAGRAD_ERROR_UNSUPPORTED_ISA).
inline std::optional<adagrad_isa> isa_argument(const py::handle& value) {
  if (value.is_none()) return std::nullopt;
  if (!PyUnicode_Check(value.ptr())) {
    throw py::type_error("isa must be None or a str, not " + type_name_of(value));
  }
  adagrad_isa isa = ADAGRAD_ISA_SCALAR;
  if (adagrad_isa_from_name(PyUnicode_AsUTF8(value.ptr()), &isa) != ADAGRAD_OK) {
    PyErr_Clear();  // a str that UTF-8 cannot encode names no ISA either
    throw py::value_error("isa " + repr_of(value) + " is not the name of an ISA");
  }
  return isa;
}

// ---- The library's statuses as exceptions ---------------------------------

// The parameters a step was given, for the message that names the invalid
// one (the library's check says which).
struct parameter_values {
  const adagrad_params& params;
  const adagrad_regularization* regularization = nullptr;
  const adagrad_mixed_options* options = nullptr;
  bool dual_averaging = false;
};

template <class T>
std::string invalid_rate_message(const char* name, double value) {
  return std::string(name) + " = " + repr_of(py::float_(value)) +
         " is invalid: it must be finite, >= 0 and at most the largest " + library<T>::dtype;
}

// What is wrong with field, which the library's check named, in the terms
// of the Python arguments.
template <class T>
std::string field_message(adagrad_field field, const parameter_values& v) {
  const adagrad_params& p = v.params;
  const adagrad_regularization* r = v.regularization;
  const std::string t = std::to_string(p.step);
  switch (field) {
    case ADAGRAD_FIELD_LR: return invalid_rate_message<T>("lr", p.lr);
    case ADAGRAD_FIELD_EPS: return invalid_rate_message<T>("eps", p.eps);
    case ADAGRAD_FIELD_WEIGHT_DECAY: return invalid_rate_message<T>("weight_decay", p.weight_decay);
    case ADAGRAD_FIELD_LR_DECAY: return invalid_rate_message<T>("lr_decay", p.lr_decay);
    case ADAGRAD_FIELD_STEP:
      return v.dual_averaging
                 ? "step must be >= 1: it is the global step t of dual averaging, counted from 1"
                 : "step must be >= 1 when lr_decay != 0";
    case ADAGRAD_FIELD_L1: return invalid_rate_message<T>("l1", r->l1);
    case ADAGRAD_FIELD_L2: return invalid_rate_message<T>("l2", r->l2);
    case ADAGRAD_FIELD_DA_THRESHOLD:
      return "step * l1 = " + t + " * " + repr_of(py::float_(r->l1)) +
             " is too large: dual averaging's threshold must be finite in " + library<T>::dtype;
    case ADAGRAD_FIELD_DA_OFFSET:
      return "l2 * step * lr_t, with l2 = " + repr_of(py::float_(r->l2)) + ", step = " + t +
             ", lr = " + repr_of(py::float_(p.lr)) +
             " and lr_decay = " + repr_of(py::float_(p.lr_decay)) +
             ", is too large: dual averaging's offset must be finite in " + library<T>::dtype;
    case ADAGRAD_FIELD_GRAD_SCALE:
      return "grad_scale = " + repr_of(py::float_(v.options->grad_scale)) +
             " is invalid: it must be finite and > 0, at most the largest float32 and not so "
             "small that it rounds to 0 in float32";
    default:
      // The binding passes no other invalid value (it converts the enums
      // from their names); the library's name for what it refused.
      return std::string("invalid parameter ") + adagrad_field_name(field) + ": " +
             adagrad_status_string(ADAGRAD_ERROR_INVALID_PARAMS);
  }
}

// An array the library is given as a buffer: its argument name, whether the
// library writes it (for the checks and the messages about its statuses).
struct buffer {
  const py::array& array;
  const char* name;
  bool written;
  // False for an array the library does not check for overlap (a mixed
  // step's found_inf, read once before anything is written).
  bool overlap_checked = true;
};

// Which array a buffer status is about. The library has decided; the
// binding only asks NumPy, on this error path, which array is misaligned or
// which two share memory, to name them. Pairs are tried in the order of
// buffers.
[[noreturn]] inline void raise_buffer_status(adagrad_status status,
                                             const std::vector<buffer>& buffers) {
  if (status == ADAGRAD_ERROR_MISALIGNED) {
    for (const buffer& b : buffers) {
      if (!b.array.attr("flags").attr("aligned").cast<bool>()) {
        throw py::value_error(std::string(b.name) + " is not aligned to its element size (" +
                              std::to_string(b.array.itemsize()) + " bytes)");
      }
    }
  }
  if (status == ADAGRAD_ERROR_OVERLAP) {
    const py::object shares_memory = py::module_::import("numpy").attr("shares_memory");
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      for (std::size_t j = i + 1; j < buffers.size(); ++j) {
        const buffer& a = buffers[i];
        const buffer& b = buffers[j];
        if ((a.written || b.written) && a.overlap_checked && b.overlap_checked &&
            shares_memory(a.array, b.array).cast<bool>()) {
          throw py::value_error(std::string(a.name) + " and " + b.name +
                                " share memory; an array the step writes may not overlap "
                                "another");
        }
      }
    }
  }
  std::string names;
  for (const buffer& b : buffers) names += (names.empty() ? "" : ", ") + std::string(b.name);
  throw py::value_error(names + ": " + adagrad_status_string(status));
}

// Every status but ADAGRAD_ERROR_INVALID_PARAMS and
// ADAGRAD_ERROR_INDEX_OUT_OF_RANGE, which the families word.
[[noreturn]] inline void raise_status(adagrad_status status, const std::optional<adagrad_isa>& isa,
                                      const std::vector<buffer>& buffers) {
  if (status == ADAGRAD_ERROR_UNSUPPORTED_ISA && isa) {
    throw py::value_error(std::string("isa '") + adagrad_isa_name(*isa) +
                          "' is not built into this library or not usable on this CPU");
  }
  raise_buffer_status(status, buffers);
}

// A failed call of a step that takes only params (T: its element type).
template <class T>
[[noreturn]] void raise_step_status(adagrad_status status, const adagrad_params& params,
                                    const std::optional<adagrad_isa>& isa,
                                    const std::vector<buffer>& buffers) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(field_message<T>(library<T>::params_check(&params), {params}));
  }
  raise_status(status, isa, buffers);
}

// A library call on the ISA the caller pinned (isa=), through pinned (the
// _isa entry point), else through dispatched: the arguments written once.
template <class Pinned, class Dispatched, class... Args>
adagrad_status on_isa(const std::optional<adagrad_isa>& isa, Pinned pinned, Dispatched dispatched,
                      const Args&... args) {
  return isa ? pinned(*isa, args...) : dispatched(args...);
}

// The hyperparameters every step takes, converted in this order; whether
// their values are valid is the library's to say.
inline adagrad_params params_argument(py::handle lr, py::handle eps, py::handle weight_decay,
                                      py::handle lr_decay, py::handle step, py::handle maximize,
                                      py::handle eps_mode, py::handle fma) {
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

// "two", "three", "four": how many arrays must agree, for the messages.
inline const char* count_word(std::size_t count) {
  static const char* const kCounts[] = {"", "", "two", "three", "four"};
  return count < sizeof kCounts / sizeof kCounts[0] ? kCounts[count] : "";
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
inline void check_same_shape(const buffer& first, const buffer& a, std::size_t count) {
  if (!same_shape(a.array, first.array)) {
    throw py::value_error(
        std::string(a.name) + " has shape " + repr_of(a.array.attr("shape")) + " but " +
        first.name + " has " + repr_of(first.array.attr("shape")) +
        (count == 2 ? std::string("; both") : "; all " + std::string(count_word(count))) +
        " must have the same shape");
  }
}

// The checks of the dense steps' arrays, in this order: the first array's
// dtype, each other's dtype and shape against the first's, then the layout
// of each. True for float64, false for float32.
inline bool check_dense_arrays(std::initializer_list<buffer> arrays) {
  const std::size_t count = arrays.size();
  const buffer& first = *arrays.begin();
  const bool f64 = is_float64(first.array, first.name);
  for (const buffer& a : arrays) {
    if (&a == &first) continue;
    if (is_float64(a.array, a.name) != f64) {
      throw py::type_error(std::string(a.name) + " has dtype " + dtype_name(a.array) + " but " +
                           first.name + " has " + dtype_name(first.array) + "; all " +
                           count_word(count) + " must have the same dtype");
    }
    check_same_shape(first, a, count);
  }
  for (const buffer& a : arrays) check_layout(a.array, a.name, a.written);
  return f64;
}

inline adagrad_regularization regularization_argument(py::handle l1, py::handle l2) {
  return {real_argument(l1, "l1"), real_argument(l2, "l2")};
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

inline adagrad_duplicates duplicates_argument(const py::handle& value) {
  static constexpr choice<adagrad_duplicates> kModes[] = {
      {"sum", ADAGRAD_DUPLICATES_SUM},
      {"sequential", ADAGRAD_DUPLICATES_SEQUENTIAL},
      {"torch", ADAGRAD_DUPLICATES_TORCH}};
  return choice_argument(value, "duplicates", kModes, "\"sum\", \"sequential\" or \"torch\"");
}

// The library's limit: more threads than this is a mistake, not a request.
constexpr long long kMaxThreads = ADAGRAD_POOL_MAX_THREADS;

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

struct pool_deleter {
  void operator()(adagrad_pool* pool) const { adagrad_pool_destroy(pool); }
};
using pool_pointer = std::unique_ptr<adagrad_pool, pool_deleter>;

// adagrad_pool_create fails when it cannot allocate the pool or start its
// threads.
inline pool_pointer make_pool(std::size_t threads) {
  pool_pointer pool(adagrad_pool_create(threads));
  if (pool == nullptr) throw std::runtime_error("cannot start " + std::to_string(threads) + " threads");
  return pool;
}

// adagrad.ThreadPool: an adagrad_pool that lives as long as the Python
// object, for callers that step often enough that starting threads for every
// call would cost more than the step.
class thread_pool {
 public:
  explicit thread_pool(std::size_t threads) : creator_(getpid()), pool_(make_pool(threads)) {}

  std::size_t threads() const { return adagrad_pool_threads(pool_.get()); }

  // The pool for a call. Its threads exist only in the process that created
  // it: a forked child has none.
  adagrad_pool* get() const {
    if (getpid() != creator_) {
      throw py::value_error(
          "pool was created in another process (before a fork); create one in this process");
    }
    return pool_.get();
  }

 private:
  pid_t creator_;
  pool_pointer pool_;
};

// Where a step runs: on pool when one is given, else on `threads` threads.
struct threading {
  std::size_t threads;
  adagrad_pool* pool;  // an adagrad.ThreadPool's, or NULL
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
// this call and joined after it; else (one thread) with NULL.
// Call with the GIL released.
template <class Call>
adagrad_status run_threaded(const threading& where, const Call& call) {
  if (where.pool != nullptr) return call(where.pool);
  if (where.threads > 1) {
    const pool_pointer pool = make_pool(where.threads);
    return call(pool.get());
  }
  return call(nullptr);
}

// Each family file defines the Python functions of its family.
void register_dense(py::module_& m);
void register_sparse(py::module_& m);
void register_mixed(py::module_& m);
void register_embedding(py::module_& m);

}  // namespace adagrad_python

#endif  // ADAGRAD_PYTHON_BINDING_COMMON_H_
