// SPDX-License-Identifier: BSD-3-Clause
// step_multi: one dense step of many tensors in one library call
// (adagrad_step_multi), on a pool's threads, with the GIL released. A model's
// optimizer (adagrad.torch.Adagrad) steps each parameter group this way: the
// Python cost of a call per tensor is what made 200 tensors of 1,000
// elements slower than torch.optim.Adagrad.
#include "binding_common.h"

namespace adagrad_python {
namespace {

template <class T>
struct multi_library;

template <>
struct multi_library<float> {
  using tensor = adagrad_tensor;
  static constexpr auto step = &adagrad_step_multi;
};

template <>
struct multi_library<double> {
  using tensor = adagrad_tensor_f64;
  static constexpr auto step = &adagrad_step_multi_f64;
};

// "w[3]"
std::string element_name(const char* list, std::size_t index) {
  return std::string(list) + "[" + std::to_string(index) + "]";
}

// The arrays of one list, each an ndarray taken as it is (never converted).
std::vector<py::array> array_list(argument object, const char* name) {
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object)) {
    throw py::type_error(std::string(name) + " must be a sequence of numpy.ndarrays, not " +
                         type_name_of(object));
  }
  const auto list = py::reinterpret_borrow<py::sequence>(object);
  std::vector<py::array> arrays;
  arrays.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    py::object item = list[i];
    if (!py::isinstance<py::array>(item)) {
      throw py::type_error(element_name(name, i) + " must be a numpy.ndarray, not " +
                           type_name_of(item));
    }
    arrays.push_back(py::reinterpret_steal<py::array>(item.release()));
  }
  return arrays;
}

// What the library cannot know about NumPy arrays: dtype, shape, C order,
// writability. Alignment and overlap are the library's to check (and to
// name, below, when it refuses). True for float64.
bool check_lists(const std::vector<py::array>& w, const std::vector<py::array>& g,
                 const std::vector<py::array>& G) {
  if (g.size() != w.size() || G.size() != w.size()) {
    throw py::value_error("w, g and G must have the same length, not " + std::to_string(w.size()) +
                          ", " + std::to_string(g.size()) + " and " + std::to_string(G.size()));
  }
  if (w.empty()) return false;
  const bool f64 = is_float64(w[0], "w[0]");
  const struct {
    const std::vector<py::array>& arrays;
    const char* name;
    bool written;
  } lists[] = {{w, "w", true}, {g, "g", false}, {G, "G", true}};
  for (std::size_t i = 0; i < w.size(); ++i) {
    for (const auto& list : lists) {
      const py::array& a = list.arrays[i];
      const int bits = native_float_bits(a);
      if (bits != (f64 ? 64 : 32) &&
          (bits != 0 || py::isinstance<py::array_t<double>>(a) != f64 ||
           !(py::isinstance<py::array_t<double>>(a) || py::isinstance<py::array_t<float>>(a)))) {
        throw py::type_error(element_name(list.name, i) + " has dtype " + dtype_name(a) +
                             " but w[0] has " + dtype_name(w[0]) +
                             "; every array must have the same dtype, float32 or float64");
      }
      if (!same_shape(a, w[i])) {
        throw py::value_error(element_name(list.name, i) + " has shape " + shape_of(a) + " but " +
                              element_name("w", i) + " has " + shape_of(w[i]) +
                              "; each tensor's w, g and G must have the same shape");
      }
      if (!(a.flags() & py::array::c_style)) {
        throw py::value_error(element_name(list.name, i) + " must be C-contiguous");
      }
      if (list.written && !a.writeable()) {
        throw py::value_error(element_name(list.name, i) + " is read-only; it is updated in place");
      }
    }
  }
  return f64;
}

// A buffer status of the library, naming the arrays it is about (found only
// now, on the error path: raise_buffer_status).
[[noreturn]] void raise_multi_status(adagrad_status status, const std::vector<py::array>& w,
                                     const std::vector<py::array>& g,
                                     const std::vector<py::array>& G) {
  std::vector<std::string> names;
  names.reserve(3 * w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    names.push_back(element_name("w", i));
    names.push_back(element_name("g", i));
    names.push_back(element_name("G", i));
  }
  std::vector<buffer> buffers;
  buffers.reserve(names.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    buffers.push_back({w[i], names[3 * i].c_str(), true});
    buffers.push_back({g[i], names[3 * i + 1].c_str(), false});
    buffers.push_back({G[i], names[3 * i + 2].c_str(), true});
  }
  raise_buffer_status(status, buffers);
}

template <class T>
void run_multi(const std::vector<py::array>& w, const std::vector<py::array>& g,
               const std::vector<py::array>& G, const adagrad_params& params,
               const threading& where) {
  std::vector<typename multi_library<T>::tensor> tensors(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    // mutable_data() would throw for a read-only array; check_lists refused those.
    tensors[i] = {
        static_cast<T*>(const_cast<void*>(w[i].data())), static_cast<const T*>(g[i].data()),
        static_cast<T*>(const_cast<void*>(G[i].data())), static_cast<std::size_t>(w[i].size())};
  }
  adagrad_status status;
  {
    // The arrays stay alive (the lists hold them) and nothing here touches
    // a Python object.
    py::gil_scoped_release release;
    status = run_threaded(where, [&](adagrad_pool* pool) {
      return multi_library<T>::step(tensors.data(), tensors.size(), &params, pool);
    });
  }
  if (status == ADAGRAD_ERROR_INVALID_PARAMS) {
    throw py::value_error(field_message<T>(library<T>::params_check(&params), {params}));
  }
  if (status != ADAGRAD_OK) raise_multi_status(status, w, g, G);
}

void step_multi(argument w_list, argument g_list, argument G_list, argument lr, argument eps,
                argument weight_decay, argument lr_decay, argument step, argument maximize,
                argument eps_mode, argument fma, argument threads, argument pool) {
  const std::vector<py::array> w = array_list(w_list, "w");
  const std::vector<py::array> g = array_list(g_list, "g");
  const std::vector<py::array> G = array_list(G_list, "G");
  const bool f64 = check_lists(w, g, G);

  const adagrad_params params =
      params_argument(lr, eps, weight_decay, lr_decay, step, maximize, eps_mode, fma);
  const threading where = threading_argument(threads, pool);

  if (f64) {
    run_multi<double>(w, g, G, params, where);
  } else {
    run_multi<float>(w, g, G, params, where);
  }
}

}  // namespace

void register_multi(py::module_& m) {
  def_function(m, "step_multi", &step_multi,
               R"doc(One step of many tensors in one library call (adagrad_step_multi).

w, g and G are sequences of the same length of numpy.ndarrays: tensor i is
(w[i], g[i], G[i]), updated as adagrad.step(w[i], g[i], G[i], ...) updates
it, bit for bit, with the same hyperparameters for every tensor. Every array
float32, or every one float64; each tensor's three of one shape,
C-contiguous, aligned to the element size; no w or G may share memory with
any other array (gradients may be shared). The work is balanced over the
threads by elements, not by tensor: threads=N starts a pool for the call,
pool=adagrad.ThreadPool(N) reuses one; the results are the same bits for
any number of threads. The GIL is released during the step. Everything is
checked before anything is written: on an error (TypeError for a type or
dtype, ValueError for the rest, naming the array, e.g. "w[3]") no array
changes.)doc",
               py::arg("w"), py::arg("g"), py::arg("G"), py::kw_only(), py::arg("lr") = 0.01,
               py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("lr_decay") = 0.0,
               py::arg("step") = 1, py::arg("maximize") = false, py::arg("eps_mode") = "outside",
               py::arg("fma") = false, py::arg("threads") = 1, py::arg("pool") = py::none());
}

}  // namespace adagrad_python
