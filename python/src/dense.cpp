// SPDX-License-Identifier: BSD-3-Clause
// The dense steps (step, proximal_step, da_step) and state_init.
#include "binding_common.h"

namespace adagrad_python {
namespace {

template <class T>
void run_step(py::array& w, const py::array& g, py::array& G, const adagrad_params& params,
              const std::optional<adagrad_isa>& isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    // The arrays stay alive (the caller holds them) and nothing here touches
    // a Python object, so other threads may run meanwhile.
    py::gil_scoped_release release;
    status =
        on_isa(isa, library<T>::step_isa, library<T>::step, w_data, g_data, G_data, n, &params);
  }
  if (status != ADAGRAD_OK) {
    raise_step_status<T>(status, params, isa, {{w, "w", true}, {g, "g", false}, {G, "G", true}});
  }
}

void step(argument w_object, argument g_object, argument G_object, argument lr, argument eps,
          argument weight_decay, argument lr_decay, argument step, argument maximize,
          argument eps_mode, argument fma, argument isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const bool f64 = check_dense_arrays({{w, "w", true}, {g, "g", false}, {G, "G", true}});

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
  if (status != ADAGRAD_OK) raise_status(status, std::nullopt, {{G, "G", true}});
}

void state_init(argument G_object, argument value_object) {
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

// A failed composite step: the library's check names the invalid parameter.
template <class T>
[[noreturn]] void raise_composite_status(adagrad_status status, const adagrad_params& params,
                                         const adagrad_regularization& regularization,
                                         bool dual_averaging, const std::optional<adagrad_isa>& isa,
                                         const std::vector<buffer>& buffers) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    const adagrad_field field = dual_averaging
                                    ? library<T>::da_check(&params, &regularization)
                                    : library<T>::proximal_check(&params, &regularization);
    throw py::value_error(
        field_message<T>(field, {params, &regularization, nullptr, dual_averaging}));
  }
  raise_status(status, isa, buffers);
}

template <class T>
void run_proximal_step(py::array& w, const py::array& g, py::array& G, const adagrad_params& params,
                       const adagrad_regularization& regularization,
                       const std::optional<adagrad_isa>& isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = on_isa(isa, library<T>::proximal_isa, library<T>::proximal, w_data, g_data, G_data, n,
                    &params, &regularization);
  }
  if (status != ADAGRAD_OK) {
    raise_composite_status<T>(status, params, regularization, false, isa,
                              {{w, "w", true}, {g, "g", false}, {G, "G", true}});
  }
}

void proximal_step(argument w_object, argument g_object, argument G_object, argument l1,
                   argument l2, argument lr, argument eps, argument weight_decay, argument lr_decay,
                   argument step, argument maximize, argument eps_mode, argument fma,
                   argument isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const bool f64 = check_dense_arrays({{w, "w", true}, {g, "g", false}, {G, "G", true}});

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_regularization regularization = regularization_argument(l1, l2);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  if (f64) {
    run_proximal_step<double>(w, g, G, params, regularization, isa);
  } else {
    run_proximal_step<float>(w, g, G, params, regularization, isa);
  }
}

template <class T>
void run_da_step(py::array& w, const py::array& g, py::array& z, py::array& G,
                 const adagrad_params& params, const adagrad_regularization& regularization,
                 const std::optional<adagrad_isa>& isa) {
  T* w_data = static_cast<T*>(w.mutable_data());
  const T* g_data = static_cast<const T*>(g.data());
  T* z_data = static_cast<T*>(z.mutable_data());
  T* G_data = static_cast<T*>(G.mutable_data());
  const auto n = static_cast<std::size_t>(w.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = on_isa(isa, library<T>::da_isa, library<T>::da, w_data, g_data, z_data, G_data, n,
                    &params, &regularization);
  }
  if (status != ADAGRAD_OK) {
    raise_composite_status<T>(status, params, regularization, true, isa,
                              {{w, "w", true}, {g, "g", false}, {z, "z", true}, {G, "G", true}});
  }
}

void da_step(argument w_object, argument g_object, argument z_object, argument G_object,
             argument step, argument l1, argument l2, argument lr, argument eps,
             argument weight_decay, argument lr_decay, argument maximize, argument eps_mode,
             argument fma, argument isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array z = as_array(z_object, "z");
  py::array G = as_array(G_object, "G");
  // w is written (and read by weight decay), z and G are updated.
  const bool f64 =
      check_dense_arrays({{w, "w", true}, {g, "g", false}, {z, "z", true}, {G, "G", true}});

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const adagrad_regularization regularization = regularization_argument(l1, l2);
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  if (f64) {
    run_da_step<double>(w, g, z, G, params, regularization, isa);
  } else {
    run_da_step<float>(w, g, z, G, params, regularization, isa);
  }
}

}  // namespace

void register_dense(py::module_& m) {
  def_function(m, "state_init", &state_init,
               R"doc(Fills the accumulator G (a writable, C-contiguous float32 or float64
array) with value rounded to its dtype, as the frameworks' initial
accumulator values start it. value must be finite and >= 0.)doc",
               py::arg("G"), py::arg("value"));

  def_function(m, "step", &step,
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
while the step runs.)doc",
               py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(), py::arg("lr") = 0.01,
               py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("step") = 1, py::arg("maximize") = false, py::arg("eps_mode") = "outside",
               py::arg("fma") = false, py::arg("isa") = py::none());

  def_function(m, "proximal_step", &proximal_step,
               R"doc(One proximal AdaGrad step (composite mirror descent) for a loss plus
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
step runs.)doc",
               py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(), py::arg("l1") = 0.0,
               py::arg("l2") = 0.0, py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
               py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0, py::arg("step") = 1,
               py::arg("maximize") = false, py::arg("eps_mode") = "outside", py::arg("fma") = false,
               py::arg("isa") = py::none());

  // step is the global step t: no default.
  def_function(m, "da_step", &da_step,
               R"doc(One AdaGrad dual-averaging step (regularized dual averaging) for a loss
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
step runs.)doc",
               py::arg("w"), py::arg("g"), py::arg("z"), py::arg("G"), py::kw_only(),
               py::arg("step"), py::arg("l1") = 0.0, py::arg("l2") = 0.0, py::arg("lr") = 0.01,
               py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("maximize") = false, py::arg("eps_mode") = "outside", py::arg("fma") = false,
               py::arg("isa") = py::none());
}

}  // namespace adagrad_python
