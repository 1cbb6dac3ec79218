// SPDX-License-Identifier: BSD-3-Clause
// _adagrad: the Python binding of the C API in include/adagrad/adagrad.h.
//
// Every argument is checked here before the library is called, so that a
// mistake raises TypeError (wrong type or dtype) or ValueError (anything else)
// naming the argument, and changes nothing; the library's statuses are mapped
// as well, as the last line of defence. Arrays are taken as they are, never
// converted: a float64 array passed where float32 was meant must fail rather
// than have a converted copy updated while the caller's array stays as it was.
//
// The embedding-table steps and the mixed-precision steps run on threads=N
// threads (a pthreadpool created for the call and joined after it) or on
// pool=adagrad.ThreadPool(N), which the caller keeps for many calls; the
// binding keeps no pool of its own. The table steps' workspace is the
// binding's: allocated per call, never cached. The only arrays the binding
// allocates are the results of to_half and from_half when no out= is given.

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

namespace {

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

// An integer in [0, 2**64): step, and the mixed steps' seed.
std::uint64_t uint64_argument(const py::handle& value, const char* name) {
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

std::uint64_t step_argument(const py::handle& value) { return uint64_argument(value, "step"); }

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
adagrad_params params_argument(py::handle lr, py::handle eps, py::handle weight_decay,
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
const char* count_word(std::size_t count) {
  static const char* const kCounts[] = {"", "", "two", "three", "four"};
  return count < sizeof kCounts / sizeof kCounts[0] ? kCounts[count] : "";
}

// The last checks of a dense step's arrays: the layout of each, then each
// pair for overlap.
void check_layouts_and_overlap(std::initializer_list<dense_array> arrays) {
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
bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t axis = 0; axis < a.ndim(); ++axis) {
    if (a.shape(axis) != b.shape(axis)) return false;
  }
  return true;
}

// Each array's shape against the first's.
void check_same_shape(const dense_array& first, const dense_array& a, std::size_t count) {
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
bool check_dense_arrays(std::initializer_list<dense_array> arrays) {
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

// The dense steps' keywords (step, proximal_step, da_step): params_argument's
// eight, in its order, first; the step's own next; isa last. One not given
// keeps its default (adagrad_params_default()'s, l1 = l2 = 0, isa None).
constexpr const char* kStepKeywords[] = {"lr",       "eps",      "weight_decay", "lr_decay", "step",
                                         "maximize", "eps_mode", "fma",          "isa"};
constexpr const char* kCompositeKeywords[] = {"lr",   "eps",      "weight_decay", "lr_decay",
                                              "step", "maximize", "eps_mode",     "fma",
                                              "l1",   "l2",       "isa"};
// Positions in both lists.
constexpr std::size_t kStepPosition = 4;
constexpr std::size_t kL1Position = 8;
constexpr std::size_t kL2Position = 9;

// The values of the keyword arguments a call gave, by position in names;
// null where one was not given. The dense steps' own keyword matching (a
// model calls them once per tensor and step): pybind11's looks up every
// declared keyword in the call's dict through a new Python string, which
// made adagrad.step(w, g, G, lr=0.1) cost twice as much as
// adagrad.step(w, g, G) at n = 1 (777 against 385 ns); this walks only the
// keywords given. The values are borrowed from kwargs, which the caller
// holds for the call.
template <std::size_t N>
std::array<py::handle, N> keyword_values(const char* function, const py::kwargs& kwargs,
                                         const char* const (&names)[N]) {
  std::array<py::handle, N> values{};
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(kwargs.ptr(), &position, &key, &value)) {
    std::size_t i = 0;
    while (i < N &&
           !(PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, names[i]) == 0)) {
      ++i;
    }
    if (i == N) {
      throw py::type_error(std::string(function) + "() got an unexpected keyword argument " +
                           repr_of(key));
    }
    values[i] = value;
  }
  return values;
}

// The hyperparameters and the isa of a dense step's keyword values, laid out
// as kStepKeywords and kCompositeKeywords are.
template <std::size_t N>
adagrad_params keyword_params(const std::array<py::handle, N>& given) {
  return params_argument(given[0], given[1], given[2], given[3], given[4], given[5], given[6],
                         given[7]);
}

template <std::size_t N>
std::optional<adagrad_isa> keyword_isa(const std::array<py::handle, N>& given) {
  return given[N - 1] ? isa_argument(given[N - 1]) : std::optional<adagrad_isa>();
}

void step(const py::object& w_object, const py::object& g_object, const py::object& G_object,
          const py::kwargs& kwargs) {
  const auto given = keyword_values("step", kwargs, kStepKeywords);
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const bool f64 = check_dense_arrays({{w, "w", true}, {g, "g", false}, {G, "G", true}});

  const adagrad_params params = keyword_params(given);
  const std::optional<adagrad_isa> isa = keyword_isa(given);

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

// ---- Composite objectives: proximal AdaGrad and dual averaging ------------

// A null handle (a keyword a dense step was not given) is 0.
adagrad_regularization regularization_argument(py::handle l1, py::handle l2) {
  return {l1 ? real_argument(l1, "l1") : 0.0, l2 ? real_argument(l2, "l2") : 0.0};
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

template <class T>
void run_proximal_step(py::array& w, const py::array& g, py::array& G, const adagrad_params& params,
                       const adagrad_regularization& regularization,
                       std::optional<adagrad_isa> isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status =
        isa ? library<T>::proximal_isa(*isa, w_data, g_data, G_data, n, &params, &regularization)
            : library<T>::proximal(w_data, g_data, G_data, n, &params, &regularization);
  }
  if (status != ADAGRAD_OK) {
    raise_composite_status<T>(status, params, regularization, false, "w, g, G");
  }
}

void proximal_step(const py::object& w_object, const py::object& g_object,
                   const py::object& G_object, const py::kwargs& kwargs) {
  const auto given = keyword_values("proximal_step", kwargs, kCompositeKeywords);
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const bool f64 = check_dense_arrays({{w, "w", true}, {g, "g", false}, {G, "G", true}});

  const adagrad_params params = keyword_params(given);
  const adagrad_regularization regularization =
      regularization_argument(given[kL1Position], given[kL2Position]);
  const std::optional<adagrad_isa> isa = keyword_isa(given);

  if (f64) {
    run_proximal_step<double>(w, g, G, params, regularization, isa);
  } else {
    run_proximal_step<float>(w, g, G, params, regularization, isa);
  }
}

template <class T>
void run_da_step(py::array& w, const py::array& g, py::array& z, py::array& G,
                 const adagrad_params& params, const adagrad_regularization& regularization,
                 std::optional<adagrad_isa> isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* z_data = static_cast<T*>(z.mutable_data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status =
        isa ? library<T>::da_isa(*isa, w_data, g_data, z_data, G_data, n, &params, &regularization)
            : library<T>::da(w_data, g_data, z_data, G_data, n, &params, &regularization);
  }
  if (status != ADAGRAD_OK) {
    raise_composite_status<T>(status, params, regularization, true, "w, g, z, G");
  }
}

void da_step(const py::object& w_object, const py::object& g_object, const py::object& z_object,
             const py::object& G_object, const py::kwargs& kwargs) {
  const auto given = keyword_values("da_step", kwargs, kCompositeKeywords);
  // step is the global step t: no default.
  if (!given[kStepPosition]) {
    throw py::type_error("da_step() missing required keyword argument: 'step'");
  }
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array z = as_array(z_object, "z");
  py::array G = as_array(G_object, "G");
  // w is written (and read by weight decay), z and G are updated.
  const bool f64 =
      check_dense_arrays({{w, "w", true}, {g, "g", false}, {z, "z", true}, {G, "G", true}});

  const adagrad_params params = keyword_params(given);
  const adagrad_regularization regularization =
      regularization_argument(given[kL1Position], given[kL2Position]);
  const std::optional<adagrad_isa> isa = keyword_isa(given);

  if (f64) {
    run_da_step<double>(w, g, z, G, params, regularization, isa);
  } else {
    run_da_step<float>(w, g, z, G, params, regularization, isa);
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

// A state argument of a sparse step: (num_rows,) or (num_rows, dim) floats,
// written. rule says, in the shape message, what it holds.
struct sparse_state_argument {
  const py::object& object;
  const char* name;
  bool per_row;
  const char* rule;
};

// The arrays of a sparse step, checked.
struct sparse_arrays {
  py::array table;
  std::vector<py::array> states;  // in the order of the arguments
  py::array indices;
  py::array grads;
  bool i32;  // int32 indices (else int64)
  std::size_t num_rows;
  std::size_t dim;
  std::size_t num_indices;
};

// Every check of a sparse step's arrays, in this order: the dtypes (table,
// the states, indices, grads), the shapes, the layouts, then the written
// arrays (table and the states) against every other for overlap.
sparse_arrays sparse_arrays_argument(const py::object& table_object,
                                     std::initializer_list<sparse_state_argument> states,
                                     const py::object& indices_object,
                                     const py::object& grads_object) {
  sparse_arrays a;
  a.table = float32_argument(table_object, "table");
  for (const sparse_state_argument& s : states) {
    a.states.push_back(float32_argument(s.object, s.name));
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

  // "the written arrays (table, state) must not overlap any other"
  std::vector<std::pair<const py::array*, const char*>> written{{&a.table, "table"}};
  k = 0;
  for (const sparse_state_argument& s : states) written.emplace_back(&a.states[k++], s.name);
  std::string rule = "the written arrays (";
  for (const auto& [array, name] : written) {
    rule += std::string(array == &a.table ? "" : ", ") + name;
  }
  rule += ") must not overlap any other";
  for (std::size_t i = 0; i < written.size(); ++i) {
    std::vector<std::pair<const py::array*, const char*>> others(written.begin() + i + 1,
                                                                 written.end());
    others.emplace_back(&a.indices, "indices");
    others.emplace_back(&a.grads, "grads");
    for (const auto& [other, other_name] : others) {
      if (overlap(*written[i].first, *other)) {
        throw py::value_error(std::string(written[i].second) + " and " + other_name +
                              " share memory; " + rule);
      }
    }
  }

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
    const auto* narrow = static_cast<const std::int32_t*>(a.indices.data());
    s.widened.assign(narrow, narrow + a.num_indices);
  }
  s.indices = s.widened.empty() ? a.indices.data() : s.widened.data();
  return s;
}

[[noreturn]] void raise_sparse_index_error(const sparse_arrays& a) {
  if (a.i32) raise_index_error<std::int32_t>(a.indices, a.num_rows);
  raise_index_error<std::int64_t>(a.indices, a.num_rows);
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
    status = run_threaded(where, [&](pthreadpool* pool) {
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
  if (status == ADAGRAD_OK) return;
  if (status == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE) raise_sparse_index_error(a);
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

// ---- Composite objectives on embedding tables (float32, lazy) ------------
//
// The library has no int32 entry points for these: int32 indices are widened
// to int64 here (exactly), as sparse_step does on its _isa path, so both
// index dtypes are accepted as by every other sparse step.

template <class Call>
void run_sparse_composite(sparse_arrays& a, const adagrad_params& params,
                          const adagrad_regularization& regularization, adagrad_duplicates dup,
                          const threading& where, bool dual_averaging, const char* buffers,
                          const Call& call) {
  const sparse_scratch scratch = sparse_scratch_for(a, dup, /*widen=*/true);
  const auto* indices = static_cast<const std::int64_t*>(scratch.indices);
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](pthreadpool* pool) {
      return call(indices, scratch.workspace.get(), scratch.workspace_size, pool);
    });
  }
  if (status == ADAGRAD_OK) return;
  if (status == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE) raise_sparse_index_error(a);
  raise_composite_status<float>(status, params, regularization, dual_averaging, buffers);
}

void sparse_proximal_step(const py::object& table_object, const py::object& state_object,
                          const py::object& indices_object, const py::object& grads_object,
                          const py::object& l1, const py::object& l2, const py::object& lr,
                          const py::object& eps, const py::object& weight_decay,
                          const py::object& lr_decay, const py::object& step,
                          const py::object& maximize, const py::object& eps_mode,
                          const py::object& fma, const py::object& duplicates,
                          const py::object& threads_object, const py::object& pool_object,
                          const py::object& isa_name) {
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
  run_sparse_composite(a, params, regularization, dup, where, /*dual_averaging=*/false,
                       "table, state, indices, grads",
                       [&](const std::int64_t* indices, void* workspace, std::size_t workspace_size,
                           pthreadpool* pool) {
                         return isa ? adagrad_sparse_proximal_step_isa(
                                          *isa, table_data, state_data, a.num_rows, a.dim, indices,
                                          a.num_indices, grads_data, &params, &regularization, dup,
                                          workspace, workspace_size, pool)
                                    : adagrad_sparse_proximal_step(
                                          table_data, state_data, a.num_rows, a.dim, indices,
                                          a.num_indices, grads_data, &params, &regularization, dup,
                                          workspace, workspace_size, pool);
                       });
}

void sparse_da_step(const py::object& table_object, const py::object& z_object,
                    const py::object& G_object, const py::object& indices_object,
                    const py::object& grads_object, const py::object& step, const py::object& l1,
                    const py::object& l2, const py::object& lr, const py::object& eps,
                    const py::object& weight_decay, const py::object& lr_decay,
                    const py::object& maximize, const py::object& eps_mode, const py::object& fma,
                    const py::object& duplicates, const py::object& threads_object,
                    const py::object& pool_object, const py::object& isa_name) {
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
  run_sparse_composite(
      a, params, regularization, dup, where, /*dual_averaging=*/true, "table, z, G, indices, grads",
      [&](const std::int64_t* indices, void* workspace, std::size_t workspace_size,
          pthreadpool* pool) {
        return isa ? adagrad_sparse_da_step_isa(*isa, table_data, z_data, G_data, a.num_rows, a.dim,
                                                indices, a.num_indices, grads_data, &params,
                                                &regularization, dup, workspace, workspace_size,
                                                pool)
                   : adagrad_sparse_da_step(table_data, z_data, G_data, a.num_rows, a.dim, indices,
                                            a.num_indices, grads_data, &params, &regularization,
                                            dup, workspace, workspace_size, pool);
      });
}

// ---- Mixed precision: bf16 and fp16 weights and gradients, f32 state -----
//
// NumPy has no bfloat16, so every 16-bit array is a uint16 array of bit
// patterns and a dtype string says what they are: the uint16 alone cannot
// tell bfloat16 from binary16, so the string has no default.

const char* dtype_string(adagrad_dtype type) {
  switch (type) {
    case ADAGRAD_DTYPE_BF16: return "bf16";
    case ADAGRAD_DTYPE_F16: return "fp16";
    default: return "f32";
  }
}

// "f32" (when allowed), "bf16" or "fp16".
adagrad_dtype dtype_argument(const py::handle& value, const char* name, bool allow_f32) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error(std::string(name) + " must be a str, not " + type_name_of(value));
  }
  const auto type = value.cast<std::string>();
  if (allow_f32 && type == "f32") return ADAGRAD_DTYPE_F32;
  if (type == "bf16") return ADAGRAD_DTYPE_BF16;
  if (type == "fp16") return ADAGRAD_DTYPE_F16;
  throw py::value_error(std::string(name) + " must be " +
                        (allow_f32 ? "\"f32\", \"bf16\" or \"fp16\"" : "\"bf16\" or \"fp16\"") +
                        ", not " + repr_of(value));
}

// array must hold values of type: float32 for "f32", uint16 bit patterns for
// "bf16" and "fp16" (type_name: the argument that says which).
void check_array_dtype(const py::array& array, const char* name, adagrad_dtype type,
                       const char* type_name) {
  const std::string said = std::string(type_name) + "=\"" + dtype_string(type) + "\"";
  if (type == ADAGRAD_DTYPE_F32) {
    if (!py::isinstance<py::array_t<float>>(array)) {
      throw py::type_error(std::string(name) + " must have dtype float32 for " + said + ", not " +
                           dtype_name(array));
    }
    return;
  }
  if (!py::isinstance<py::array_t<std::uint16_t>>(array)) {
    // NumPy's float16 holds binary16 values already; its bits are the ones
    // to pass, without a conversion.
    const bool float16 = type == ADAGRAD_DTYPE_F16 && array.dtype().kind() == 'f' &&
                         array.itemsize() == 2 && array.dtype().attr("isnative").cast<bool>();
    throw py::type_error(std::string(name) + " must have dtype uint16 (the bit patterns of " +
                         said + "), not " + dtype_name(array) +
                         (float16 ? std::string("; pass ") + name + ".view(numpy.uint16)" : ""));
  }
}

// found_inf: a float32 array of one element (0-d, (1,), ...). The steps
// only read it; unscale_check writes it.
py::array found_inf_array(const py::handle& value, bool written) {
  py::array array = float32_argument(value, "found_inf");
  if (array.size() != 1) {
    throw py::value_error("found_inf must hold exactly one element, not " +
                          std::to_string(array.size()) + " (shape " + shape_of(array) + ")");
  }
  check_layout(array, "found_inf", written);
  return array;
}

adagrad_rounding rounding_argument(const py::handle& value) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("rounding must be a str, not " + type_name_of(value));
  }
  const auto mode = value.cast<std::string>();
  if (mode == "nearest") return ADAGRAD_ROUND_NEAREST_EVEN;
  if (mode == "stochastic") return ADAGRAD_ROUND_STOCHASTIC;
  throw py::value_error("rounding must be \"nearest\" or \"stochastic\", not " + repr_of(value));
}

// A mixed step's step: None (not given) means 1, as step()'s default, for
// nearest-even rounding; stochastic rounding refuses it (see below).
py::object step_or_default(const py::object& step) { return step.is_none() ? py::int_(1) : step; }

// The options of a mixed step, checked in the order of the arguments. The
// found_inf array stays alive as the caller's argument.
adagrad_mixed_options mixed_options_argument(const py::object& rounding, const py::object& seed,
                                             const py::object& grad_scale,
                                             const py::object& found_inf, const py::object& step) {
  adagrad_mixed_options options = adagrad_mixed_options_default();
  options.rounding = rounding_argument(rounding);
  // The random bits are keyed by (seed, step, index): a forgotten step= would
  // round every step of a training loop with the same bits, and a weight
  // whose updates are below its ulp would then move at every step or never,
  // instead of by the update on average. As da_step's step, it has no
  // default then.
  if (options.rounding == ADAGRAD_ROUND_STOCHASTIC && step.is_none()) {
    throw py::value_error(
        "step must be given with rounding=\"stochastic\": with seed it keys the random bits, "
        "which must change from one step to the next");
  }
  options.seed = uint64_argument(seed, "seed");
  options.grad_scale = real_argument(grad_scale, "grad_scale");
  if (!found_inf.is_none()) {
    options.found_inf = static_cast<const float*>(found_inf_array(found_inf, false).data());
  }
  return options;
}

// The library says only that some parameter is invalid: the rates and step
// as for step(), else grad_scale, again asked about alone through a no-op
// call (n = 0) so that the rule stays the library's.
[[noreturn]] void raise_mixed_status(adagrad_status status, const adagrad_params& params,
                                     double grad_scale, const char* buffers) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    if (auto message = invalid_rate<float>(params)) throw py::value_error(*message);
    const adagrad_params defaults = adagrad_params_default();
    adagrad_mixed_options alone = adagrad_mixed_options_default();
    alone.grad_scale = grad_scale;
    if (adagrad_step_master(nullptr, nullptr, ADAGRAD_DTYPE_F32, nullptr, nullptr,
                            ADAGRAD_DTYPE_F32, 0, &defaults, &alone,
                            nullptr) == ADAGRAD_ERROR_INVALID_PARAMS) {
      throw py::value_error("grad_scale = " + repr_of(py::float_(grad_scale)) +
                            " is invalid: it must be finite and > 0, at most the largest "
                            "float32 and not so small that it rounds to 0 in float32");
    }
    throw py::value_error("step must be >= 1 when lr_decay != 0");
  }
  throw py::value_error(std::string(buffers) + ": " + adagrad_status_string(status));
}

void step_mixed(const py::object& w_object, const py::object& g_object, const py::object& G_object,
                const py::object& w_dtype, const py::object& g_dtype, const py::object& lr,
                const py::object& eps, const py::object& weight_decay, const py::object& lr_decay,
                const py::object& step, const py::object& maximize, const py::object& eps_mode,
                const py::object& fma, const py::object& rounding, const py::object& seed,
                const py::object& grad_scale, const py::object& found_inf,
                const py::object& threads_object, const py::object& pool_object,
                const py::object& isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const adagrad_dtype w_type = dtype_argument(w_dtype, "w_dtype", /*allow_f32=*/false);
  const adagrad_dtype g_type = dtype_argument(g_dtype, "g_dtype", /*allow_f32=*/true);
  check_array_dtype(w, "w", w_type, "w_dtype");
  check_array_dtype(g, "g", g_type, "g_dtype");
  float32_argument(G, "G");
  const dense_array first{w, "w", true};
  check_same_shape(first, {g, "g", false}, 3);
  check_same_shape(first, {G, "G", true}, 3);
  check_layouts_and_overlap({first, {g, "g", false}, {G, "G", true}});

  const adagrad_params params = params_argument(lr, eps, weight_decay, lr_decay,
                                                step_or_default(step), maximize, eps_mode, fma);
  const adagrad_mixed_options options =
      mixed_options_argument(rounding, seed, grad_scale, found_inf, step);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  void* w_data = w.mutable_data();
  const void* g_data = g.data();
  float* G_data = static_cast<float*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](pthreadpool* pool) {
      return isa ? adagrad_step_mixed_isa(*isa, w_data, w_type, g_data, g_type, G_data, n, &params,
                                          &options, pool)
                 : adagrad_step_mixed(w_data, w_type, g_data, g_type, G_data, n, &params, &options,
                                      pool);
    });
  }
  if (status != ADAGRAD_OK) raise_mixed_status(status, params, options.grad_scale, "w, g, G");
}

void step_master(const py::object& w_object, const py::object& g_object, const py::object& G_object,
                 const py::object& g_dtype, const py::object& copy_object,
                 const py::object& copy_dtype, const py::object& lr, const py::object& eps,
                 const py::object& weight_decay, const py::object& lr_decay, const py::object& step,
                 const py::object& maximize, const py::object& eps_mode, const py::object& fma,
                 const py::object& rounding, const py::object& seed, const py::object& grad_scale,
                 const py::object& found_inf, const py::object& threads_object,
                 const py::object& pool_object, const py::object& isa_name) {
  py::array w = float32_argument(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  std::optional<py::array> copy;
  if (!copy_object.is_none()) copy = as_array(copy_object, "copy");
  const bool has_copy = copy.has_value();
  const adagrad_dtype g_type = dtype_argument(g_dtype, "g_dtype", /*allow_f32=*/true);
  // copy_dtype without copy is accepted (a copy that is sometimes None), as
  // the library ignores copy_type without w_copy; it must still be a name.
  adagrad_dtype copy_type = ADAGRAD_DTYPE_F32;
  if (!copy_dtype.is_none()) {
    copy_type = dtype_argument(copy_dtype, "copy_dtype", /*allow_f32=*/false);
  } else if (has_copy) {
    throw py::value_error(
        "copy_dtype must be given with copy: \"bf16\" or \"fp16\" (a uint16 array can hold "
        "either)");
  }
  check_array_dtype(g, "g", g_type, "g_dtype");
  float32_argument(G, "G");
  if (has_copy) check_array_dtype(*copy, "copy", copy_type, "copy_dtype");
  const dense_array first{w, "w", true};
  const std::size_t count = has_copy ? 4 : 3;
  check_same_shape(first, {g, "g", false}, count);
  check_same_shape(first, {G, "G", true}, count);
  if (has_copy) {
    check_same_shape(first, {*copy, "copy", true}, count);
    check_layouts_and_overlap({first, {g, "g", false}, {G, "G", true}, {*copy, "copy", true}});
  } else {
    check_layouts_and_overlap({first, {g, "g", false}, {G, "G", true}});
  }

  const adagrad_params params = params_argument(lr, eps, weight_decay, lr_decay,
                                                step_or_default(step), maximize, eps_mode, fma);
  const adagrad_mixed_options options =
      mixed_options_argument(rounding, seed, grad_scale, found_inf, step);
  const threading where = threading_argument(threads_object, pool_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  float* w_data = static_cast<float*>(w.mutable_data());
  const void* g_data = g.data();
  float* G_data = static_cast<float*>(G.mutable_data());
  void* copy_data = has_copy ? copy->mutable_data() : nullptr;
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = run_threaded(where, [&](pthreadpool* pool) {
      return isa ? adagrad_step_master_isa(*isa, w_data, g_data, g_type, G_data, copy_data,
                                           copy_type, n, &params, &options, pool)
                 : adagrad_step_master(w_data, g_data, g_type, G_data, copy_data, copy_type, n,
                                       &params, &options, pool);
    });
  }
  if (status != ADAGRAD_OK) {
    raise_mixed_status(status, params, options.grad_scale, has_copy ? "w, g, G, copy" : "w, g, G");
  }
}

void unscale_check(const py::object& g_object, const py::object& found_inf_object,
                   const py::object& dtype, const py::object& inv_scale_object,
                   const py::object& isa_name) {
  py::array g = as_array(g_object, "g");
  const adagrad_dtype type = dtype_argument(dtype, "dtype", /*allow_f32=*/true);
  check_array_dtype(g, "g", type, "dtype");
  check_layout(g, "g", /*written=*/true);
  py::array found_inf = found_inf_array(found_inf_object, /*written=*/true);
  if (overlap(g, found_inf)) {
    throw py::value_error("g and found_inf share memory; they must not overlap");
  }
  const double inv_scale = real_argument(inv_scale_object, "inv_scale");
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  void* g_data = g.mutable_data();
  float* found_inf_data = static_cast<float*>(found_inf.mutable_data());
  const auto n = static_cast<std::size_t>(g.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = isa ? adagrad_unscale_check_isa(*isa, g_data, type, n, inv_scale, found_inf_data)
                 : adagrad_unscale_check(g_data, type, n, inv_scale, found_inf_data);
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error("inv_scale = " + repr_of(py::float_(inv_scale)) +
                          " is invalid: it must be finite, >= 0 and at most the largest float32");
  }
  if (status != ADAGRAD_OK) {
    throw py::value_error(std::string("g, found_inf: ") + adagrad_status_string(status));
  }
}

// The output of a conversion: out when given (dtype checked, same shape as
// the input, writable, not overlapping it), else a new C-contiguous array.
template <class Out>
py::array conversion_output(const py::array& in, const char* in_name,
                            const py::object& out_object) {
  if (out_object.is_none()) {
    check_layout(in, in_name, /*written=*/false);
    const std::vector<py::ssize_t> shape(in.shape(), in.shape() + in.ndim());
    return py::array(py::dtype::of<Out>(), shape);
  }
  py::array out = as_array(out_object, "out");
  if (!py::isinstance<py::array_t<Out>>(out)) {
    throw py::type_error(std::string("out must have dtype ") +
                         py::str(py::dtype::of<Out>()).cast<std::string>() + ", not " +
                         dtype_name(out));
  }
  const dense_array first{in, in_name, false};
  check_same_shape(first, {out, "out", true}, 2);
  check_layouts_and_overlap({first, {out, "out", true}});
  return out;
}

py::array to_half(const py::object& x_object, const py::object& dtype, const py::object& out_object,
                  const py::object& isa_name) {
  const py::array x = float32_argument(x_object, "x");
  const adagrad_dtype type = dtype_argument(dtype, "dtype", /*allow_f32=*/false);
  py::array out = conversion_output<std::uint16_t>(x, "x", out_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  const float* in_data = static_cast<const float*>(x.data());
  auto* out_data = static_cast<std::uint16_t*>(out.mutable_data());
  const auto n = static_cast<std::size_t>(x.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = isa ? adagrad_convert_to_half_isa(*isa, in_data, out_data, n, type)
                 : adagrad_convert_to_half(in_data, out_data, n, type);
  }
  if (status != ADAGRAD_OK) {
    throw py::value_error(std::string("x, out: ") + adagrad_status_string(status));
  }
  return out;
}

py::array from_half(const py::object& h_object, const py::object& dtype,
                    const py::object& out_object, const py::object& isa_name) {
  const py::array h = as_array(h_object, "h");
  const adagrad_dtype type = dtype_argument(dtype, "dtype", /*allow_f32=*/false);
  check_array_dtype(h, "h", type, "dtype");
  py::array out = conversion_output<float>(h, "h", out_object);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  const auto* in_data = static_cast<const std::uint16_t*>(h.data());
  float* out_data = static_cast<float*>(out.mutable_data());
  const auto n = static_cast<std::size_t>(h.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = isa ? adagrad_convert_from_half_isa(*isa, in_data, out_data, n, type)
                 : adagrad_convert_from_half(in_data, out_data, n, type);
  }
  if (status != ADAGRAD_OK) {
    throw py::value_error(std::string("h, out: ") + adagrad_status_string(status));
  }
  return out;
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
  // The running library's version (adagrad_version), not the header's.
  m.attr("__version__") = adagrad_version();

  m.def("state_init", &state_init, py::arg("G"), py::arg("value"),
        R"doc(Fills the accumulator G (a writable, C-contiguous float32 or float64
array) with value rounded to its dtype, as the frameworks' initial
accumulator values start it. value must be finite and >= 0.)doc");

  {
    // The dense steps match their keywords themselves (keyword_values), so
    // the signatures pybind11 would print say only **kwargs: each docstring
    // gives the real one, in the form inspect.signature() reads.
    py::options options;
    options.disable_function_signatures();
    m.def(
        "step", &step, py::arg("w"), py::arg("g"), py::arg("G"),
        R"doc(step(w, g, G, *, lr=0.01, eps=1e-08, weight_decay=0.0, lr_decay=0.0, step=1, maximize=False, eps_mode='outside', fma=False, isa=None)
--

One AdaGrad step, in place: updates w and G from the gradient g.

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

    m.def(
        "proximal_step", &proximal_step, py::arg("w"), py::arg("g"), py::arg("G"),
        R"doc(proximal_step(w, g, G, *, l1=0.0, l2=0.0, lr=0.01, eps=1e-08, weight_decay=0.0, lr_decay=0.0, step=1, maximize=False, eps_mode='outside', fma=False, isa=None)
--

One proximal AdaGrad step (composite mirror descent) for a loss plus
l1 * |w| + l2/2 * w^2, in place: updates w and G from the gradient g.

The arrays, dtypes (float32 or float64), lr_t, weight_decay, maximize, fma,
eps_mode and isa are those of step(). Per element, with g' the gradient after
maximize and weight decay and d = sqrt(G) + eps (eps_mode "inside":
sqrt(G + eps)):

    G = G + g' * g'
    r = lr_t / d
    v = w - r * g'
    u = copysign(max(|v| - r * l1, 0), v)      if l1 != 0, else u = v
    w = u / (1 + r * l2)                       if l2 != 0, else w = u

every operation one IEEE-754 operation in the dtype, l1 and l2 rounded once
to it; every ISA gives the same bits. l1 > 0 sets small weights to exactly
0 (-0.0 when v was negative). With eps=0 this is TensorFlow's
ApplyProximalAdagrad, except that r is lr / sqrt(G) (one division) where
TensorFlow multiplies by rsqrt(G).

Raises TypeError for a wrong type or dtype and ValueError for anything else
invalid (l1 and l2 must be finite, >= 0 and representable in the dtype),
naming the argument; nothing is changed then. The GIL is released while the
step runs.)doc");

    m.def(
        "da_step", &da_step, py::arg("w"), py::arg("g"), py::arg("z"), py::arg("G"),
        R"doc(da_step(w, g, z, G, *, step, l1=0.0, l2=0.0, lr=0.01, eps=1e-08, weight_decay=0.0, lr_decay=0.0, maximize=False, eps_mode='outside', fma=False, isa=None)
--

One AdaGrad dual-averaging step (regularized dual averaging) for a loss
plus l1 * |w| + l2/2 * w^2, in place: updates z (the sum of the gradients),
G and w.

w, g, z and G are arrays of one dtype (float32 or float64) and one shape,
C-contiguous, not overlapping; w, z and G writable. step is the global step
t, counted from 1, and must be passed (keyword only): the thresholds grow
with it. Per element, with g' and d as for proximal_step():

    z = z + g'
    G = G + g' * g'
    u = copysign(max(|z| - c1, 0), z)          if l1 != 0, else u = z
    w = ((-lr_t) * u) / (c2 + d)

where c1 = t * l1 and c2 = l2 * t * lr_t are computed in double and rounded
once to the dtype (lr_t as for step(), with the same t). w's old value is
read only by weight decay. With eps=0 this is TensorFlow's ApplyAdagradDA.

Raises TypeError for a wrong type or dtype and ValueError for anything else
invalid (also step 0, and t * l1 or l2 * t * lr_t too large for the dtype),
naming the argument; nothing is changed then. The GIL is released while the
step runs.)doc");
  }

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

  m.def("sparse_proximal_step", &sparse_proximal_step, py::arg("table"), py::arg("state"),
        py::arg("indices"), py::arg("grads"), py::kw_only(), py::arg("l1") = 0.0,
        py::arg("l2") = 0.0, py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("step") = 1,
        py::arg("maximize") = false, py::arg("eps_mode") = "outside", py::arg("fma") = false,
        py::arg("duplicates") = "sum", py::arg("threads") = 1, py::arg("pool") = py::none(),
        py::arg("isa") = py::none(),
        R"doc(proximal_step() on the rows of an embedding table named by indices, lazily
(TensorFlow's SparseApplyProximalAdagrad): updates table and state in place.

The arrays are those of sparse_step(): table and state float32 (num_rows,
dim), indices int64 or int32 (1-D), grads float32 (len(indices), dim). Each
named row goes through exactly the dense step of proximal_step() (l1, l2 and
the other hyperparameters as there); rows not named are not touched.
duplicates, threads, pool, isa and the errors are those of sparse_step().
int32 indices are widened to int64 by the binding (the library takes int64).)doc");

  m.def("sparse_da_step", &sparse_da_step, py::arg("table"), py::arg("z"), py::arg("G"),
        py::arg("indices"), py::arg("grads"), py::kw_only(), py::arg("step"), py::arg("l1") = 0.0,
        py::arg("l2") = 0.0, py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("maximize") = false,
        py::arg("eps_mode") = "outside", py::arg("fma") = false, py::arg("duplicates") = "sum",
        py::arg("threads") = 1, py::arg("pool") = py::none(), py::arg("isa") = py::none(),
        R"doc(da_step() on the rows of an embedding table named by indices, lazily
(TensorFlow's SparseApplyAdagradDA): updates table, z and G in place.

table, z and G are float32 arrays of shape (num_rows, dim); indices, grads,
duplicates, threads, pool, isa and the errors are those of sparse_step().
Each named row goes through exactly the dense step of da_step(), with step
(required, >= 1) as the global step t of every row; rows not named are not
touched. int32 indices are widened to int64 by the binding (the library
takes int64).)doc");

  m.def("step_mixed", &step_mixed, py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(),
        py::arg("w_dtype"), py::arg("g_dtype"), py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("step") = py::none(),
        py::arg("maximize") = false, py::arg("eps_mode") = "outside", py::arg("fma") = false,
        py::arg("rounding") = "nearest", py::arg("seed") = 0, py::arg("grad_scale") = 1.0,
        py::arg("found_inf") = py::none(), py::arg("threads") = 1, py::arg("pool") = py::none(),
        py::arg("isa") = py::none(),
        R"doc(One AdaGrad step with 16-bit weights and float32 state, in place: updates
w and G from the gradient g.

NumPy has no bfloat16, so 16-bit values travel as uint16 bit patterns and a
dtype string, required, says which format they are in:

    w         uint16, w_dtype "bf16" (bfloat16) or "fp16" (IEEE binary16)
    g         g_dtype "f32" (a float32 array), "bf16" or "fp16" (uint16)
    G         float32, the accumulator

all of one shape, C-contiguous, not overlapping; w and G writable (a float16
array holds fp16 bits already: pass w.view(numpy.uint16)). Per element, all
arithmetic in float32:

    g = float32(g)                 exact
    g = g / grad_scale             if grad_scale != 1 (AMP's unscaling)
    w = float32(w)                 exact
    the dense step of step() on (w, g, G), same order, same bits
    w = round16(w)                 rounding "nearest" (to nearest-even) or
                                   "stochastic"

Nearest-even keeps subnormals, overflows to infinity and makes a NaN quiet
keeping its sign and upper payload. Stochastic rounding rounds away from zero
with probability (|w| - |truncated|) / ulp, its random bits drawn from a
counter-based generator keyed by (seed, step, element index): the same bits
for every ISA and number of threads. step therefore has no default with
rounding="stochastic" (pass the training step, 1, 2, ...: the same step and
seed at every call would round every step with the same bits); with
"nearest" it defaults to 1, as for step().

found_inf (AMP): None, or a float32 array of one element; when it holds a
nonzero value (NaN included), the step changes nothing (the arguments are
still checked). threads and pool as for sparse_step(); isa as for step().

Raises TypeError for a wrong type or dtype and ValueError for anything else
invalid (also grad_scale not finite and > 0 in float32), naming the argument;
nothing is changed then. The GIL is released while the step runs.)doc");

  m.def("step_master", &step_master, py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(),
        py::arg("g_dtype"), py::arg("copy") = py::none(), py::arg("copy_dtype") = py::none(),
        py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("lr_decay") = 0.0, py::arg("step") = py::none(), py::arg("maximize") = false,
        py::arg("eps_mode") = "outside", py::arg("fma") = false, py::arg("rounding") = "nearest",
        py::arg("seed") = 0, py::arg("grad_scale") = 1.0, py::arg("found_inf") = py::none(),
        py::arg("threads") = 1, py::arg("pool") = py::none(), py::arg("isa") = py::none(),
        R"doc(One AdaGrad step of float32 master weights with a 16-bit (or float32)
gradient, in place, optionally writing the new weights rounded to 16 bits
into copy in the same pass (DeepSpeed's pattern: one pass instead of a step
and a conversion).

w and G are float32, g is float32 (g_dtype "f32") or uint16 ("bf16",
"fp16"), copy None or uint16 with copy_dtype "bf16" or "fp16" (required with
copy; ignored without one); all of one shape, C-contiguous, not overlapping;
w, G and copy writable. w and G are updated exactly as step() updates them
after the gradient's conversion and unscaling (g / grad_scale); copy gets
round16(w) as in step_mixed(), by rounding. step (required with
rounding="stochastic"), seed, grad_scale, found_inf, threads, pool, isa and
the errors are those of step_mixed().)doc");

  m.def("unscale_check", &unscale_check, py::arg("g"), py::arg("found_inf"), py::kw_only(),
        py::arg("dtype"), py::arg("inv_scale"), py::arg("isa") = py::none(),
        R"doc(AMP's unscale-and-check pass, in place, as PyTorch's
_amp_foreach_non_finite_check_and_unscale_: every gradient becomes
g * inv_scale (a float32 product, rounded back to 16 bits to nearest-even
for "bf16" and "fp16"), and if any was not finite found_inf is set to 1.0
(it is never cleared: one found_inf can collect many gradients).

g is float32 (dtype "f32") or uint16 ("bf16", "fp16"), writable and
C-contiguous; found_inf a writable float32 array of one element, not
overlapping g. inv_scale must be finite, >= 0 and at most the largest
float32. isa as for step(). Errors as for step(); nothing is changed then.
The GIL is released while it runs.)doc");

  m.def("to_half", &to_half, py::arg("x"), py::kw_only(), py::arg("dtype"),
        py::arg("out") = py::none(), py::arg("isa") = py::none(),
        R"doc(x (a float32 array) rounded to dtype "bf16" or "fp16" to nearest-even, as
the mixed steps round: returns their bit patterns as a uint16 array of x's
shape, newly allocated, or out (a writable, C-contiguous uint16 array of
x's shape, not overlapping x) when given. Subnormals are kept, overflow gives
infinity, a NaN becomes quiet with its sign and upper payload. isa as for
step(); errors as for step().)doc");

  m.def("from_half", &from_half, py::arg("h"), py::kw_only(), py::arg("dtype"),
        py::arg("out") = py::none(), py::arg("isa") = py::none(),
        R"doc(The values whose dtype ("bf16" or "fp16") bit patterns the uint16 array h
holds, widened exactly to float32: a new float32 array of h's shape, or out
(a writable, C-contiguous float32 array of h's shape, not overlapping h) when
given. An fp16 NaN comes out quiet with its sign and payload (as IEEE
conversion does); bf16 widening is a plain shift and keeps a signalling NaN
signalling. isa as for step(); errors as for step().)doc");

  m.def(
      "active_isa", [] { return std::string(adagrad_isa_name(adagrad_active_isa())); },
      "The ISA that step() runs on float32 arrays when isa is None (the dense f32 family of "
      "dispatch(); every family's choice is there).");

  m.def(
      "active_wide_isa", [] { return std::string(adagrad_isa_name(adagrad_active_wide_isa())); },
      "The ISA that sparse_step() runs on when isa is None (the sparse family of dispatch()).");

  m.def(
      "dispatch",
      [] {
        py::dict families;
        for (int f = 0; f < ADAGRAD_FAMILY_COUNT; ++f) {
          const auto family = static_cast<adagrad_family>(f);
          adagrad_isa isa = ADAGRAD_ISA_SCALAR;
          adagrad_dispatch_source source = ADAGRAD_DISPATCH_WIDEST;
          if (adagrad_dispatch_query(family, &isa, &source) != ADAGRAD_OK) {
            throw std::logic_error("adagrad_dispatch_query refused a family it defines");
          }
          families[adagrad_family_name(family)] =
              py::make_tuple(adagrad_isa_name(isa), adagrad_dispatch_source_name(source));
        }
        py::dict info;
        info["families"] = families;
        info["cpu"] = adagrad_dispatch_cpu();
        info["calibration_ns"] = adagrad_dispatch_calibration_ns();
        return info;
      },
      R"doc(What dispatch chose, once, at the first call: {"families": {family: (isa,
how)}, "cpu": the CPU table row matched or "unknown", "calibration_ns": the
time spent measuring}. Families: "dense_f32", "dense_f64", "fma" (fma=True),
"composite", "sparse", "rowwise", "mixed"; how: "table" (the library's table
of CPU models), "measured" (timed at first use, the fastest kept), "widest"
(the widest usable ISA) or "forced" (the environment variable ADAGRAD_ISA).
ADAGRAD_DISPATCH=table turns measuring off, =calibrate measures every family.
The choice never changes a result, only the time.)doc");

  m.def("supported_isas", &supported_isas,
        "Names of every ISA this library was built with and this CPU can run, \"scalar\" first.");
}
