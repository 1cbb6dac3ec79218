// SPDX-License-Identifier: BSD-3-Clause
// How the module defines its functions: def_function(m, name, impl, doc,
// py::arg("w"), ..., py::kw_only(), py::arg("lr") = 0.01, ...). The py::arg
// list is the one place a function's signature is written: names, order,
// defaults and where the keyword-only arguments start. From it come
//  - the signature Python sees: the docstring starts with the text signature
//    CPython reads (`step(w, g, G, *, lr=0.01, ...)` and a `--` line), so
//    inspect.signature(), help() and __text_signature__ work, which
//    pybind11 2.10's own docstrings (`step(w: object, ...) -> None`) do not
//    give;
//  - the binding of each call: positional and keyword arguments matched to
//    the list as Python matches them, with Python's TypeErrors (unexpected or
//    repeated keyword, too many positional arguments, missing required
//    ones), then impl called with one py::object per parameter, in order.
//
// Why not pybind11's dispatcher: with keywords it looks every declared
// argument up in the call's keyword dict through a new Python string, which
// for step()'s twelve arguments cost more than the whole call does here; and
// a Python wrapper with the real signature in front of a positional pybind11
// call adds a frame and still pays pybind11's dispatch. Here the function is
// a METH_FASTCALL builtin: CPython passes the arguments in place and the
// keywords as a tuple of (interned) names, matched by pointer first, and
// impl is called directly. bench/python_call.py times the calls against
// another build; docs/benchmarking.md has the figures.
#ifndef ADAGRAD_PYTHON_FUNCTION_H_
#define ADAGRAD_PYTHON_FUNCTION_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace py = pybind11;

namespace adagrad_python {

// A function's parameters, as its py::arg list declares them.
class signature {
 public:
  explicit signature(std::string name) : name_(std::move(name)) {}

  void add(const py::arg_v& a) {
    if (!a.value) throw std::logic_error(std::string("no default value for ") + a.name);
    parameters_.push_back({intern(a.name), a.value});
  }
  void add(const py::arg& a) { parameters_.push_back({intern(a.name), py::object()}); }
  void add(const py::kw_only&) { positional_ = parameters_.size(); }

  std::size_t size() const { return parameters_.size(); }

  // "step(w, g, G, *, lr=0.01, ...)"; with self, "__init__(self, ...)".
  std::string text(bool self = false) const {
    std::string text = name_ + "(" + (self ? "self" : "");
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
      if (self || i > 0) text += ", ";
      if (i == positional_) text += "*, ";
      text += py::str(parameters_[i].name).cast<std::string>();
      if (parameters_[i].default_value) {
        text += "=" + py::repr(parameters_[i].default_value).cast<std::string>();
      }
    }
    return text + ")";
  }

  // Matches a vectorcall's arguments (args[0 .. nargs) positional, then one
  // per name in kwnames) to the parameters: values[i] is the argument of
  // parameter i, borrowed, or its default. False, with Python's TypeError
  // set, when the call does not fit.
  bool bind(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** values) const {
    const std::size_t count = parameters_.size();
    const auto given = static_cast<std::size_t>(nargs);
    const std::size_t positional = positional_ < count ? positional_ : count;
    if (given > positional) {
      PyErr_Format(PyExc_TypeError, "%s() takes %zu positional argument%s but %zd %s given",
                   name_.c_str(), positional, positional == 1 ? "" : "s", nargs,
                   nargs == 1 ? "was" : "were");
      return false;
    }
    for (std::size_t i = 0; i < count; ++i) values[i] = i < given ? args[i] : nullptr;
    const Py_ssize_t keywords = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < keywords; ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      const std::size_t i = find(key);
      if (i == count) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", name_.c_str(),
                     key);
        return false;
      }
      if (values[i] != nullptr) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'", name_.c_str(),
                     key);
        return false;
      }
      values[i] = args[nargs + k];
    }
    // Defaults; Python names the missing positional arguments first, alone.
    for (std::size_t i = 0; i < count; ++i) {
      if (values[i] == nullptr) values[i] = parameters_[i].default_value.ptr();
    }
    if (missing(values, 0, positional, "positional") ||
        missing(values, positional, count, "keyword-only")) {
      return false;
    }
    return true;
  }

 private:
  // Python's TypeError for the required parameters in [begin, end) that have
  // no argument, if any.
  bool missing(PyObject* const* values, std::size_t begin, std::size_t end,
               const char* kind) const {
    std::vector<std::string> names;
    for (std::size_t i = begin; i < end; ++i) {
      if (values[i] == nullptr) {
        names.push_back("'" + py::str(parameters_[i].name).cast<std::string>() + "'");
      }
    }
    if (names.empty()) return false;
    // 'a', 'a' and 'b', 'a', 'b', and 'c'
    std::string list = names[0];
    for (std::size_t i = 1; i < names.size(); ++i) {
      list += (i + 1 < names.size() ? ", " : names.size() > 2 ? ", and " : " and ") + names[i];
    }
    PyErr_Format(PyExc_TypeError, "%s() missing %zu required %s argument%s: %s", name_.c_str(),
                 names.size(), kind, names.size() == 1 ? "" : "s", list.c_str());
    return true;
  }

  struct parameter {
    py::object name;           // an interned str
    py::object default_value;  // null: required
  };

  static py::object intern(const char* name) {
    return py::reinterpret_steal<py::object>(PyUnicode_InternFromString(name));
  }

  // The parameter a keyword names, or size() when none: by identity (names
  // in Python source are interned), then by value.
  std::size_t find(PyObject* key) const {
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
      if (parameters_[i].name.ptr() == key) return i;
    }
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
      if (PyUnicode_Compare(parameters_[i].name.ptr(), key) == 0) return i;
    }
    return parameters_.size();
  }

  std::string name_;
  std::vector<parameter> parameters_;
  std::size_t positional_ = static_cast<std::size_t>(-1);  // where keyword-only starts
};

template <class... Extra>
signature signature_of(const char* name, const Extra&... extra) {
  signature s(name);
  (s.add(extra), ...);
  return s;
}

// A C++ exception out of impl as pybind11's dispatcher would raise it.
inline void set_python_error() {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
#if defined(__GLIBCXX__)
  } catch (abi::__forced_unwind&) {
    throw;
#endif
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_SystemError, "unknown C++ exception in the adagrad binding");
  }
}

// More than any function of the module has (def_function checks).
constexpr std::size_t kMaxParameters = 28;

// What the builtin's self points to: the method definition CPython keeps a
// pointer to, the signature and the implementation.
class function_base {
 public:
  // doc: the docstring, which starts with the text signature.
  function_base(const char* name, signature s, std::string doc)
      : signature_(std::move(s)), doc_(std::move(doc)), name_(name) {
    method_.ml_name = name_.c_str();
    method_.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&vectorcall));
    method_.ml_flags = METH_FASTCALL | METH_KEYWORDS;
    method_.ml_doc = doc_.c_str();
  }
  function_base(const function_base&) = delete;
  function_base& operator=(const function_base&) = delete;
  virtual ~function_base() = default;
  virtual PyObject* call(PyObject* const* values) const = 0;

  PyMethodDef* method() { return &method_; }

 private:
  static PyObject* vectorcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                              PyObject* kwnames) {
    const auto* f = static_cast<const function_base*>(PyCapsule_GetPointer(self, nullptr));
    PyObject* values[kMaxParameters];
    if (!f->signature_.bind(args, nargs, kwnames, values)) return nullptr;
    try {
      return f->call(values);
    } catch (...) {
      set_python_error();
      return nullptr;
    }
  }

  signature signature_;
  std::string doc_;
  std::string name_;
  PyMethodDef method_{};
};

template <class Impl, std::size_t... I>
PyObject* call_with(const Impl& impl, PyObject* const* values, std::index_sequence<I...>) {
  using result = decltype(impl(py::reinterpret_borrow<py::object>(values[I])...));
  if constexpr (std::is_void_v<result>) {
    impl(py::reinterpret_borrow<py::object>(values[I])...);
    Py_RETURN_NONE;
  } else if constexpr (std::is_base_of_v<py::handle, result>) {
    return impl(py::reinterpret_borrow<py::object>(values[I])...).release().ptr();
  } else {
    return py::cast(impl(py::reinterpret_borrow<py::object>(values[I])...)).release().ptr();
  }
}

template <class Impl, std::size_t N>
class function final : public function_base {
 public:
  function(const char* name, Impl impl, signature s, std::string doc)
      : function_base(name, std::move(s), std::move(doc)), impl_(std::move(impl)) {}
  PyObject* call(PyObject* const* values) const override {
    return call_with(impl_, values, std::make_index_sequence<N>());
  }

 private:
  Impl impl_;
};

template <class Extra>
constexpr bool is_parameter = std::is_base_of_v<py::arg, Extra>;

// Defines m.name: impl(const py::object&...) with one argument per py::arg
// in extra, in order; doc, the docstring, follows the generated signature.
template <class Impl, class... Extra>
void def_function(py::module_& m, const char* name, Impl impl, const char* doc,
                  const Extra&... extra) {
  constexpr std::size_t count = (std::size_t{0} + ... + (is_parameter<Extra> ? 1 : 0));
  static_assert(count <= kMaxParameters, "raise kMaxParameters");
  signature s = signature_of(name, extra...);
  std::string docstring = s.text() + "\n--\n\n" + doc;
  auto owned = std::make_unique<function<Impl, count>>(name, std::move(impl), std::move(s),
                                                       std::move(docstring));
  PyMethodDef* method = owned->method();
  // The capsule owns the definition; CPython's function holds the capsule.
  py::capsule self(static_cast<function_base*>(owned.get()),
                   [](void* p) { delete static_cast<function_base*>(p); });
  owned.release();
  py::object module_name = m.attr("__name__");
  auto f =
      py::reinterpret_steal<py::object>(PyCFunction_NewEx(method, self.ptr(), module_name.ptr()));
  if (!f) throw py::error_already_set();
  m.add_object(name, f);
}

// The docstring of a class's __init__ defined with these arguments (impl's
// py::arg list): the text signature, then doc. Pass it to .def(py::init(...),
// extra..., docstring) with pybind11's own signatures turned off.
template <class... Extra>
std::string init_docstring(const char* doc, const Extra&... extra) {
  return signature_of("__init__", extra...).text(/*self=*/true) + "\n--\n\n" + doc;
}

}  // namespace adagrad_python

#endif  // ADAGRAD_PYTHON_FUNCTION_H_
