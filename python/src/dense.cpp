// SPDX-License-Identifier: BSD-3-Clause
// The dense steps (step, proximal_step, da_step) and state_init.
#include "binding_common.h"

namespace adagrad_python {
namespace {

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

}  // namespace

void register_dense(py::module_& m) {
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
}

}  // namespace adagrad_python
