// _adagrad: the Python binding of the C API in include/adagrad/adagrad.h.
//
// Every argument is checked here before the library is called, so that a
// mistake raises TypeError (wrong type or dtype) or ValueError (anything else)
// naming the argument, and changes nothing; the library's statuses are mapped
// as well, as the last line of defence. Arrays are taken as they are, never
// converted: a float64 array passed where float32 was meant must fail rather
// than have a converted copy updated while the caller's array stays as it was.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"

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

template <class T>
[[noreturn]] void raise_status(adagrad_status status, const adagrad_params& params) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(invalid_params_message<T>(params));
  }
  throw py::value_error(std::string("w, g, G: ") + adagrad_status_string(status));
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
  if (status != ADAGRAD_OK) raise_status<T>(status, params);
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

  adagrad_params params = adagrad_params_default();
  params.lr = real_argument(lr, "lr");
  params.eps = real_argument(eps, "eps");
  params.weight_decay = real_argument(weight_decay, "weight_decay");
  params.lr_decay = real_argument(lr_decay, "lr_decay");
  params.step = step_argument(step);
  params.maximize = flag_argument(maximize, "maximize") ? 1 : 0;
  params.eps_mode = eps_mode_argument(eps_mode);
  params.fma = flag_argument(fma, "fma") ? 1 : 0;
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

  m.def(
      "active_isa", [] { return std::string(adagrad_isa_name(adagrad_active_isa())); },
      "The ISA that step() runs on when isa is None: the best this CPU has, unless the "
      "environment variable ADAGRAD_ISA named a usable one before the first step.");

  m.def("supported_isas", &supported_isas,
        "Names of every ISA this library was built with and this CPU can run, \"scalar\" first.");
}
