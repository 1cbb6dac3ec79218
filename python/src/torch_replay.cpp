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
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
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
// one that had a gradient, the gradient's and the sum's records and where a
// new gradient tensor's array goes (its regrad target, below).
class group_record {
 public:
  // items: a sequence of (param, grad, sum, target), grad, sum and target
  // None for a parameter without a gradient; target (entry, gradient
  // arrays, index) for a parameter whose gradient array is a flat view that
  // a new gradient of the same layout may replace (_Entry.regrad's
  // conditions on the entry: flat, neither 16-bit nor folded), else None.
  // written_starts and written_ends: the sorted, disjoint byte spans the
  // step writes (every group's parameters and sums).
  group_record(const py::sequence& items, const std::vector<std::uintptr_t>& written_starts,
               const std::vector<std::uintptr_t>& written_ends)
      : written_starts_(written_starts), written_ends_(written_ends) {
    if (written_starts_.size() != written_ends_.size()) {
      throw py::value_error("written_starts and written_ends must have the same length");
    }
    entries_.reserve(items.size());
    for (const py::handle item : items) {
      const auto fields = py::reinterpret_borrow<py::sequence>(item);
      if (fields.size() != 4) throw py::value_error("each item must be (param, grad, sum, target)");
      entry e;
      e.param = tensor_record(fields[0]);
      e.has_gradient = !fields[1].is_none();
      if (e.has_gradient) {
        e.grad = tensor_record(fields[1]);
        e.sum = tensor_record(fields[2]);
      }
      if (e.has_gradient && !fields[3].is_none()) {
        const auto target = py::reinterpret_borrow<py::sequence>(fields[3]);
        e.target_entry = target[0];
        e.target_arrays = target[1];
        e.target_index = target[2].cast<Py_ssize_t>();
        if (!PyList_Check(e.target_arrays.ptr()) || e.target_index < 0 ||
            e.target_index >= PyList_GET_SIZE(e.target_arrays.ptr())) {
          throw py::value_error("a target's arrays must be a list that has its index");
        }
      }
      entries_.push_back(std::move(e));
    }
  }

  // What _replayed_plan's loop over a group's parameters and
  // _Program.regrad decide, changing nothing: false when the plan cannot be
  // replayed for this group (another list length, another parameter object,
  // a gradient that appeared or vanished, a recorded tensor laid out
  // otherwise, or a new gradient tensor that cannot take the old one's
  // place), else true, with each new gradient's array kept for apply().
  // A new gradient takes the old one's place as _Entry.regrad and
  // _Program.regrad let it: dense, on the CPU, not requiring grad, without
  // a negative bit, of the parameter's dtype (float32 or float64) and the
  // old gradient's shape and strides, aligned, and reaching no memory the
  // step writes. Anything else makes _plan check it as a first gradient
  // (and raise what is wrong).
  bool check(const py::handle params) {
    pending_.clear();
    if (!PyList_Check(params.ptr()) ||
        static_cast<std::size_t>(PyList_GET_SIZE(params.ptr())) != entries_.size()) {
      return false;
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const entry& e = entries_[i];
      PyObject* param = PyList_GET_ITEM(params.ptr(), static_cast<Py_ssize_t>(i));
      if (param != e.param.object.ptr()) return false;
      // param.grad as Python reads it (a subclass may define it).
      py::object grad = py::reinterpret_steal<py::object>(PyObject_GetAttrString(param, "grad"));
      if (!grad) throw py::error_already_set();
      if (!e.has_gradient) {
        if (!grad.is_none()) return false;
        continue;
      }
      if (grad.is_none() || !e.param.unchanged() || !e.sum.unchanged()) return false;
      if (grad.ptr() == e.grad.object.ptr()) {
        if (!e.grad.unchanged()) return false;
        continue;
      }
      py::object array = replacing_array(e, grad);
      if (!array) return false;
      pending_.push_back({i, std::move(grad), std::move(array)});
    }
    return true;
  }

  // Puts the new gradients check() accepted in the old ones' places: in the
  // plan's list of gradient arrays, in the record, and in the entry (its
  // key set to None, so that a plan made later makes the entry anew).
  void apply() {
    for (const replacement& r : pending_) {
      entry& e = entries_[r.index];
      Py_INCREF(r.array.ptr());
      PyList_SetItem(e.target_arrays.ptr(), e.target_index, r.array.ptr());  // steals
      e.target_entry.attr("grad") = r.grad;
      e.target_entry.attr("g") = r.array;
      e.target_entry.attr("key") = py::none();
      e.grad = tensor_record(r.grad);
    }
    pending_.clear();
  }

 private:
  struct entry {
    tensor_record param;
    bool has_gradient = false;
    tensor_record grad;
    tensor_record sum;
    py::object target_entry;  // None: a new gradient makes a new plan
    py::object target_arrays;
    Py_ssize_t target_index = 0;
  };
  struct replacement {
    std::size_t index;
    py::object grad;
    py::object array;
  };

  // The flat array of a new gradient that can take e's gradient's place,
  // or a null object.
  py::object replacing_array(const entry& e, const py::handle grad_object) const {
    if (!e.target_entry || !THPVariable_Check(grad_object.ptr())) return py::object();
    const at::Tensor& grad = THPVariable_Unpack(grad_object.ptr());
    const c10::ScalarType dtype = e.param.dtype;
    if ((dtype != c10::ScalarType::Float && dtype != c10::ScalarType::Double) ||
        grad.layout() != c10::kStrided || grad.device().type() != c10::DeviceType::CPU ||
        grad.requires_grad() || grad.is_neg() || grad.is_conj() || grad.scalar_type() != dtype ||
        grad.sizes() != c10::IntArrayRef(e.grad.sizes) ||
        grad.strides() != c10::IntArrayRef(e.grad.strides)) {
      return py::object();
    }
    const auto element_size = static_cast<std::uintptr_t>(grad.element_size());
    const auto start = reinterpret_cast<std::uintptr_t>(grad.data_ptr());
    if (start % element_size != 0) return py::object();
    const std::int64_t count = grad.numel();
    if (count > 0) {
      // The bytes it reaches (strides >= 0, as the old gradient's), against
      // the written spans: the one that starts last at or before it, and
      // the next.
      std::int64_t last = 0;
      for (std::size_t axis = 0; axis < e.grad.sizes.size(); ++axis) {
        last += (e.grad.sizes[axis] - 1) * e.grad.strides[axis];
      }
      const std::uintptr_t end = start + static_cast<std::uintptr_t>(last + 1) * element_size;
      const auto next = std::upper_bound(written_starts_.begin(), written_starts_.end(), start);
      const auto index = static_cast<std::size_t>(next - written_starts_.begin());
      if ((index > 0 && written_ends_[index - 1] > start) ||
          (next != written_starts_.end() && *next < end)) {
        return py::object();
      }
    }
    // A flat view of its memory, which the old gradient's array was too (the
    // same dtype, shape and strides: dense, non-overlapping), keeping the
    // tensor alive.
    const py::dtype array_dtype =
        dtype == c10::ScalarType::Float ? py::dtype::of<float>() : py::dtype::of<double>();
    return py::array(array_dtype, {static_cast<py::ssize_t>(count)},
                     {static_cast<py::ssize_t>(element_size)}, grad.data_ptr(), grad_object);
  }

  std::vector<entry> entries_;
  std::vector<std::uintptr_t> written_starts_;
  std::vector<std::uintptr_t> written_ends_;
  std::vector<replacement> pending_;
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
      .def(py::init<const py::sequence&, const std::vector<std::uintptr_t>&,
                    const std::vector<std::uintptr_t>&>(),
           py::arg("items"), py::arg("written_starts"), py::arg("written_ends"))
      .def("check", &group_record::check, py::arg("params"))
      .def("apply", &group_record::apply);
  m.def("same_states", &same_states, py::arg("state"), py::arg("kept"));
  m.def("bump_versions", &bump_versions, py::arg("tensors"));
}
