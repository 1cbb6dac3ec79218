// SPDX-License-Identifier: BSD-3-Clause
// _torch_replay: the per-tensor work of adagrad.torch.Adagrad's replayed
// step (python/adagrad/torch/_optimizer.py, _replayed_plan), read from the
// tensors through libtorch's C++ API instead of a Python call per property.
//
// Why: a replayed step of 200 tensors of 1,000 elements (bench/torch_bench.py,
// case 200x1000) spent most of its time in Python asking each parameter,
// gradient and sum for data_ptr(), shape and stride(), and in
// torch._foreach_zero_ on the empty views that bump the parameters'
// version counters; here the same checks read the TensorImpl's fields and
// the bump is the counter's own increment.
//
// The module is built only where libtorch's headers are installed (Debian's
// libtorch-dev); without it adagrad.torch makes the same checks in Python,
// with the same results (tests/python/test_torch.py runs both).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/autograd/variable.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

// The tensor a Python object holds; TypeError for anything else.
const at::Tensor& tensor_of(PyObject* object, const char* what) {
  if (!THPVariable_Check(object)) {
    throw py::type_error(std::string(what) + " must be a torch.Tensor, not " +
                         Py_TYPE(object)->tp_name);
  }
  return THPVariable_Unpack(object);
}

// What the plan's NumPy views of a tensor were made from: its object (kept
// alive here, so that its address cannot be reused by another), dtype,
// layout, device, negation and conjugation bits, and where its memory is
// and how it is laid out. The Python key (_entries._entry_key) holds the
// parameter's dtype and every tensor's data_ptr(), shape and stride(); this
// holds those and the rest, which a tensor could change in place too.
struct tensor_record {
  py::object object;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  c10::Layout layout = c10::kStrided;
  c10::DeviceType device = c10::DeviceType::CPU;
  bool negative = false;
  bool conjugate = false;
  const void* data = nullptr;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;

  tensor_record() = default;
  explicit tensor_record(py::handle handle) : object(py::reinterpret_borrow<py::object>(handle)) {
    const at::Tensor& tensor = tensor_of(handle.ptr(), "a recorded tensor");
    dtype = tensor.scalar_type();
    layout = tensor.layout();
    device = tensor.device().type();
    negative = tensor.is_neg();
    conjugate = tensor.is_conj();
    if (layout == c10::kStrided) {
      data = tensor.data_ptr();
      sizes.assign(tensor.sizes().begin(), tensor.sizes().end());
      strides.assign(tensor.strides().begin(), tensor.strides().end());
    }
  }

  // Whether the object's tensor is still laid out as recorded (a tensor
  // that was not strided when recorded never is: the plan has none).
  bool unchanged() const {
    const at::Tensor& tensor = THPVariable_Unpack(object.ptr());
    return layout == c10::kStrided && tensor.layout() == c10::kStrided &&
           tensor.scalar_type() == dtype && tensor.device().type() == device &&
           tensor.is_neg() == negative && tensor.is_conj() == conjugate &&
           tensor.data_ptr() == data && tensor.sizes() == c10::IntArrayRef(sizes) &&
           tensor.strides() == c10::IntArrayRef(strides);
  }
};

// One param group of a replayable plan: per parameter its object, and, for
// one that had a gradient, the gradient's and the sum's records.
class group_record {
 public:
  // items: a sequence of (param, grad, sum), grad and sum None for a
  // parameter without a gradient.
  explicit group_record(const py::sequence& items) {
    entries_.reserve(items.size());
    for (const py::handle item : items) {
      const auto triple = py::reinterpret_borrow<py::sequence>(item);
      if (triple.size() != 3) throw py::value_error("each item must be (param, grad, sum)");
      entry e;
      e.param = tensor_record(triple[0]);
      e.has_gradient = !triple[1].is_none();
      if (e.has_gradient) {
        e.grad = tensor_record(triple[1]);
        e.sum = tensor_record(triple[2]);
      }
      entries_.push_back(std::move(e));
    }
  }

  // What _replayed_plan's loop over a group's parameters decides: None when
  // the plan cannot be replayed for this group (another list length, another
  // parameter object, a gradient that appeared or vanished, or any recorded
  // tensor laid out otherwise), else the indices of the parameters whose
  // gradient is another tensor object than recorded (the caller checks
  // those and then calls set_gradient).
  py::object changed_gradients(const py::handle params) const {
    if (!PyList_Check(params.ptr()) ||
        static_cast<std::size_t>(PyList_GET_SIZE(params.ptr())) != entries_.size()) {
      return py::none();
    }
    py::list changed;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const entry& e = entries_[i];
      PyObject* param = PyList_GET_ITEM(params.ptr(), static_cast<Py_ssize_t>(i));
      if (param != e.param.object.ptr()) return py::none();
      // param.grad as Python reads it (a subclass may define it).
      const py::object grad = py::reinterpret_steal<py::object>(PyObject_GetAttrString(param, "grad"));
      if (!grad) throw py::error_already_set();
      if (!e.has_gradient) {
        if (!grad.is_none()) return py::none();
        continue;
      }
      if (grad.is_none()) return py::none();
      if (grad.ptr() != e.grad.object.ptr()) {
        changed.append(i);
      } else if (!e.grad.unchanged()) {
        return py::none();
      }
      if (!e.param.unchanged() || !e.sum.unchanged()) return py::none();
    }
    return std::move(changed);
  }

  // The gradient of parameter `index` is now `grad` (checked by the caller).
  void set_gradient(std::size_t index, const py::handle grad) {
    entry& e = entries_.at(index);
    if (!e.has_gradient) throw py::value_error("this parameter had no gradient");
    e.grad = tensor_record(grad);
  }

 private:
  struct entry {
    tensor_record param;
    bool has_gradient = false;
    tensor_record grad;
    tensor_record sum;
  };
  std::vector<entry> entries_;
};

// Whether the optimizer's state mapping holds, in its order, the same
// parameters and state dicts, each with the same "sum" and "step" objects,
// as kept (a list of (param, state, sum, step), None for a missing value):
// the first loop of _replayed_plan.
bool same_states(const py::dict& state, const py::list& kept) {
  if (PyDict_Size(state.ptr()) != PyList_GET_SIZE(kept.ptr())) return false;
  // Interned once and never freed: a static py::str would be released after
  // the interpreter is gone.
  static PyObject* const sum_key = PyUnicode_InternFromString("sum");
  static PyObject* const step_key = PyUnicode_InternFromString("step");
  Py_ssize_t position = 0;
  Py_ssize_t index = 0;
  PyObject* param = nullptr;
  PyObject* value = nullptr;
  while (PyDict_Next(state.ptr(), &position, &param, &value)) {
    PyObject* item = PyList_GET_ITEM(kept.ptr(), index++);
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
      throw py::value_error("kept must hold (param, state, sum, step) tuples");
    }
    if (param != PyTuple_GET_ITEM(item, 0) || value != PyTuple_GET_ITEM(item, 1) ||
        !PyDict_CheckExact(value)) {
      return false;
    }
    for (const auto& [key, position_in_item] :
         {std::pair<PyObject*, Py_ssize_t>{sum_key, 2}, {step_key, 3}}) {
      PyObject* current = PyDict_GetItemWithError(value, key);
      if (current == nullptr) {
        if (PyErr_Occurred()) throw py::error_already_set();
        current = Py_None;
      }
      if (current != PyTuple_GET_ITEM(item, position_in_item)) return false;
    }
  }
  return true;
}

// Bumps each tensor's version counter once, as an in-place update does (the
// tensors are the parameters' empty views, which share their counters).
void bump_versions(const py::list& tensors) {
  for (const py::handle tensor : tensors) {
    torch::autograd::impl::bump_version(tensor_of(tensor.ptr(), "each of tensors"));
  }
}

}  // namespace

PYBIND11_MODULE(_torch_replay, m) {
  m.doc() = "adagrad.torch's replayed step read through libtorch (internal).";
  py::class_<group_record>(m, "GroupRecord")
      .def(py::init<const py::sequence&>(), py::arg("items"))
      .def("changed_gradients", &group_record::changed_gradients, py::arg("params"))
      .def("set_gradient", &group_record::set_gradient, py::arg("index"), py::arg("grad"));
  m.def("same_states", &same_states, py::arg("state"), py::arg("kept"));
  m.def("bump_versions", &bump_versions, py::arg("tensors"));
}
