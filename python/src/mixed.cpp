// SPDX-License-Identifier: BSD-3-Clause
// Mixed precision: 16-bit weights and gradients, f32 state, the conversions.
#include "binding_common.h"

namespace adagrad_python {
namespace {

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
  static constexpr choice<adagrad_dtype> kAny[] = {
      {"f32", ADAGRAD_DTYPE_F32}, {"bf16", ADAGRAD_DTYPE_BF16}, {"fp16", ADAGRAD_DTYPE_F16}};
  static constexpr choice<adagrad_dtype> kHalf[] = {{"bf16", ADAGRAD_DTYPE_BF16},
                                                    {"fp16", ADAGRAD_DTYPE_F16}};
  return allow_f32 ? choice_argument(value, name, kAny, "\"f32\", \"bf16\" or \"fp16\"")
                   : choice_argument(value, name, kHalf, "\"bf16\" or \"fp16\"");
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
  static constexpr choice<adagrad_rounding> kModes[] = {{"nearest", ADAGRAD_ROUND_NEAREST_EVEN},
                                                        {"stochastic", ADAGRAD_ROUND_STOCHASTIC}};
  return choice_argument(value, "rounding", kModes, "\"nearest\" or \"stochastic\"");
}

// A mixed step's step: None (not given) means 1, as step()'s default, for
// nearest-even rounding; stochastic rounding refuses it (see below).
py::object step_or_default(const py::object& step) { return step.is_none() ? py::int_(1) : step; }

// The options of a mixed step, checked in the order of the arguments. The
// found_inf array stays alive as the caller's argument.
adagrad_mixed_options mixed_options_argument(argument rounding, argument seed, argument grad_scale,
                                             argument found_inf, argument step) {
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

// A failed mixed step. buffers: w, g, G and the copy when there is one;
// found_inf (None or an array) is added, as the library checks its
// alignment but not its overlap.
[[noreturn]] void raise_mixed_status(adagrad_status status, const adagrad_params& params,
                                     const adagrad_mixed_options& options,
                                     const std::optional<adagrad_isa>& isa,
                                     std::vector<buffer> buffers, argument found_inf) {
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(field_message<float>(adagrad_mixed_params_check(&params, &options),
                                               {params, nullptr, &options}));
  }
  // An array by now: mixed_options_argument checked it.
  const auto flag = found_inf.is_none()
                        ? std::optional<py::array>()
                        : std::optional<py::array>(py::reinterpret_borrow<py::array>(found_inf));
  if (flag) buffers.push_back({*flag, "found_inf", false, /*overlap_checked=*/false});
  raise_status(status, isa, buffers);
}

void step_mixed(argument w_object, argument g_object, argument G_object, argument w_dtype,
                argument g_dtype, argument lr, argument eps, argument weight_decay,
                argument lr_decay, argument step, argument maximize, argument eps_mode,
                argument fma, argument rounding, argument seed, argument grad_scale,
                argument found_inf, argument threads_object, argument pool_object,
                argument isa_name) {
  py::array w = as_array(w_object, "w");
  const py::array g = as_array(g_object, "g");
  py::array G = as_array(G_object, "G");
  const adagrad_dtype w_type = dtype_argument(w_dtype, "w_dtype", /*allow_f32=*/false);
  const adagrad_dtype g_type = dtype_argument(g_dtype, "g_dtype", /*allow_f32=*/true);
  check_array_dtype(w, "w", w_type, "w_dtype");
  check_array_dtype(g, "g", g_type, "g_dtype");
  float32_argument(G, "G");
  const buffer first{w, "w", true};
  check_same_shape(first, {g, "g", false}, 3);
  check_same_shape(first, {G, "G", true}, 3);
  check_layout(w, "w", /*written=*/true);
  check_layout(g, "g", /*written=*/false);
  check_layout(G, "G", /*written=*/true);

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
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return on_isa(isa, adagrad_step_mixed_isa, adagrad_step_mixed, w_data, w_type, g_data, g_type,
                    G_data, n, &params, &options, pool);
    });
  }
  if (status != ADAGRAD_OK) {
    raise_mixed_status(status, params, options, isa,
                       {{w, "w", true}, {g, "g", false}, {G, "G", true}}, found_inf);
  }
}

void step_master(argument w_object, argument g_object, argument G_object, argument g_dtype,
                 argument copy_object, argument copy_dtype, argument lr, argument eps,
                 argument weight_decay, argument lr_decay, argument step, argument maximize,
                 argument eps_mode, argument fma, argument rounding, argument seed,
                 argument grad_scale, argument found_inf, argument threads_object,
                 argument pool_object, argument isa_name) {
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
  const buffer first{w, "w", true};
  const std::size_t count = has_copy ? 4 : 3;
  check_same_shape(first, {g, "g", false}, count);
  check_same_shape(first, {G, "G", true}, count);
  if (has_copy) check_same_shape(first, {*copy, "copy", true}, count);
  check_layout(w, "w", /*written=*/true);
  check_layout(g, "g", /*written=*/false);
  check_layout(G, "G", /*written=*/true);
  if (has_copy) check_layout(*copy, "copy", /*written=*/true);

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
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return on_isa(isa, adagrad_step_master_isa, adagrad_step_master, w_data, g_data, g_type,
                    G_data, copy_data, copy_type, n, &params, &options, pool);
    });
  }
  if (status != ADAGRAD_OK) {
    std::vector<buffer> buffers{{w, "w", true}, {g, "g", false}, {G, "G", true}};
    if (has_copy) buffers.push_back({*copy, "copy", true});
    raise_mixed_status(status, params, options, isa, std::move(buffers), found_inf);
  }
}

void unscale_check(argument g_object, argument found_inf_object, argument dtype,
                   argument inv_scale_object, argument isa_name) {
  py::array g = as_array(g_object, "g");
  const adagrad_dtype type = dtype_argument(dtype, "dtype", /*allow_f32=*/true);
  check_array_dtype(g, "g", type, "dtype");
  check_layout(g, "g", /*written=*/true);
  py::array found_inf = found_inf_array(found_inf_object, /*written=*/true);
  const double inv_scale = real_argument(inv_scale_object, "inv_scale");
  const std::optional<adagrad_isa> isa = isa_argument(isa_name);

  void* g_data = g.mutable_data();
  float* found_inf_data = static_cast<float*>(found_inf.mutable_data());
  const auto n = static_cast<std::size_t>(g.size());
  adagrad_status status;
  {
    py::gil_scoped_release release;
    status = on_isa(isa, adagrad_unscale_check_isa, adagrad_unscale_check, g_data, type, n,
                    inv_scale, found_inf_data);
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error("inv_scale = " + repr_of(py::float_(inv_scale)) +
                          " is invalid: it must be finite, >= 0 and at most the largest float32");
  }
  if (status != ADAGRAD_OK) {
    raise_status(status, isa, {{g, "g", true}, {found_inf, "found_inf", true}});
  }
}

// The output of a conversion: out when given (dtype checked, same shape as
// the input, writable; the library checks that it does not overlap the
// input), else a new C-contiguous array.
template <class Out>
py::array conversion_output(const py::array& in, const char* in_name, argument out_object) {
  check_layout(in, in_name, /*written=*/false);
  if (out_object.is_none()) {
    const std::vector<py::ssize_t> shape(in.shape(), in.shape() + in.ndim());
    return py::array(py::dtype::of<Out>(), shape);
  }
  py::array out = as_array(out_object, "out");
  if (!py::isinstance<py::array_t<Out>>(out)) {
    throw py::type_error(std::string("out must have dtype ") +
                         py::str(py::dtype::of<Out>()).cast<std::string>() + ", not " +
                         dtype_name(out));
  }
  check_same_shape({in, in_name, false}, {out, "out", true}, 2);
  check_layout(out, "out", /*written=*/true);
  return out;
}

py::array to_half(argument x_object, argument dtype, argument out_object, argument isa_name) {
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
    status = on_isa(isa, adagrad_convert_to_half_isa, adagrad_convert_to_half, in_data, out_data, n,
                    type);
  }
  if (status != ADAGRAD_OK) raise_status(status, isa, {{x, "x", false}, {out, "out", true}});
  return out;
}

py::array from_half(argument h_object, argument dtype, argument out_object, argument isa_name) {
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
    status = on_isa(isa, adagrad_convert_from_half_isa, adagrad_convert_from_half, in_data,
                    out_data, n, type);
  }
  if (status != ADAGRAD_OK) raise_status(status, isa, {{h, "h", false}, {out, "out", true}});
  return out;
}

}  // namespace

void register_mixed(py::module_& m) {
  def_function(m, "step_mixed", &step_mixed,
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
nothing is changed then. The GIL is released while the step runs.)doc",
               py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(), py::arg("w_dtype"),
               py::arg("g_dtype"), py::arg("lr") = 0.01, py::arg("eps") = 1e-8,
               py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("step") = py::none(), py::arg("maximize") = false,
               py::arg("eps_mode") = "outside", py::arg("fma") = false,
               py::arg("rounding") = "nearest", py::arg("seed") = 0, py::arg("grad_scale") = 1.0,
               py::arg("found_inf") = py::none(), py::arg("threads") = 1,
               py::arg("pool") = py::none(), py::arg("isa") = py::none());

  def_function(m, "step_master", &step_master,
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
the errors are those of step_mixed().)doc",
               py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(), py::arg("g_dtype"),
               py::arg("copy") = py::none(), py::arg("copy_dtype") = py::none(),
               py::arg("lr") = 0.01, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
               py::arg("lr_decay") = 0.0, py::arg("step") = py::none(), py::arg("maximize") = false,
               py::arg("eps_mode") = "outside", py::arg("fma") = false,
               py::arg("rounding") = "nearest", py::arg("seed") = 0, py::arg("grad_scale") = 1.0,
               py::arg("found_inf") = py::none(), py::arg("threads") = 1,
               py::arg("pool") = py::none(), py::arg("isa") = py::none());

  def_function(m, "unscale_check", &unscale_check,
               R"doc(AMP's unscale-and-check pass, in place, as PyTorch's
_amp_foreach_non_finite_check_and_unscale_: every gradient becomes
g * inv_scale (a float32 product, rounded back to 16 bits to nearest-even
for "bf16" and "fp16"), and if any was not finite found_inf is set to 1.0
(it is never cleared: one found_inf can collect many gradients).

g is float32 (dtype "f32") or uint16 ("bf16", "fp16"), writable and
C-contiguous; found_inf a writable float32 array of one element, not
overlapping g. inv_scale must be finite, >= 0 and at most the largest
float32. isa as for step(). Errors as for step(); nothing is changed then.
The GIL is released while it runs.)doc",
               py::arg("g"), py::arg("found_inf"), py::kw_only(), py::arg("dtype"),
               py::arg("inv_scale"), py::arg("isa") = py::none());

  def_function(m, "to_half", &to_half,
               R"doc(x (a float32 array) rounded to dtype "bf16" or "fp16" to nearest-even, as
the mixed steps round: returns their bit patterns as a uint16 array of x's
shape, newly allocated, or out (a writable, C-contiguous uint16 array of
x's shape, not overlapping x) when given. Subnormals are kept, overflow gives
infinity, a NaN becomes quiet with its sign and upper payload. isa as for
step(); errors as for step().)doc",
               py::arg("x"), py::kw_only(), py::arg("dtype"), py::arg("out") = py::none(),
               py::arg("isa") = py::none());

  def_function(m, "from_half", &from_half,
               R"doc(The values whose dtype ("bf16" or "fp16") bit patterns the uint16 array h
holds, widened exactly to float32: a new float32 array of h's shape, or out
(a writable, C-contiguous float32 array of h's shape, not overlapping h) when
given. An fp16 NaN comes out quiet with its sign and payload (as IEEE
conversion does); bf16 widening is a plain shift and keeps a signalling NaN
signalling. isa as for step(); errors as for step().)doc",
               py::arg("h"), py::kw_only(), py::arg("dtype"), py::arg("out") = py::none(),
               py::arg("isa") = py::none());
}

}  // namespace adagrad_python
