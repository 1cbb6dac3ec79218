// SPDX-License-Identifier: BSD-3-Clause
// _adagrad: the Python binding of the C API in include/adagrad/adagrad.h.
//
// The binding converts each argument (TypeError for a wrong type or dtype,
// naming the argument) and checks what only NumPy knows (shapes, C order,
// writability); the library checks everything else before its first write
// and the binding maps its status to an exception naming the argument (the
// library's checks say which parameter it refused), so a call that raises
// has changed nothing. Arrays are taken as they are, never converted: a
// float64 array passed where float32 was meant must fail rather than have a
// converted copy updated while the caller's array stays as it was. Every
// function is defined from its py::arg list (function.h), which gives it
// its Python signature.
//
// The embedding-table steps and the mixed-precision steps run on threads=N
// threads (an adagrad_pool created for the call and joined after it) or on
// pool=adagrad.ThreadPool(N), which the caller keeps for many calls; the
// binding keeps no pool of its own. The table steps' workspace is the
// binding's: allocated per call, never cached. The only arrays the binding
// allocates are the results of to_half and from_half when no out= is given.
#include "binding_common.h"

namespace adagrad_python {
void register_multi(py::module_& m);  // multi.cpp
namespace {

// The names of the enum's ISAs, every one or the supported ones only.
std::vector<std::string> isa_names(bool supported_only) {
  std::vector<std::string> names;
  for (int i = 0; i < ADAGRAD_ISA_COUNT; ++i) {
    const auto isa = static_cast<adagrad_isa>(i);
    if (!supported_only || adagrad_isa_supported(isa)) names.emplace_back(adagrad_isa_name(isa));
  }
  return names;
}

std::vector<std::string> supported_isas() { return isa_names(true); }
std::vector<std::string> isas() { return isa_names(false); }

}  // namespace
}  // namespace adagrad_python

PYBIND11_MODULE(_adagrad, m) {
  using namespace adagrad_python;
  m.doc() = "Binding of the adagrad C library; use the adagrad package, which re-exports it.";
  // The running library's version (adagrad_version), not the header's.
  m.attr("__version__") = adagrad_version();

  register_dense(m);
  register_multi(m);

  py::class_<thread_pool> pool(
      m, "ThreadPool",
      R"doc(A pool of threads (the library's adagrad_pool) for the steps' pool=
argument, kept for as many calls as the caller likes: threads=N instead
starts N - 1 threads for every call, which costs more than a small step.
threads is an int in [1, 1024]; the calling thread is one of them. A step
never waits for a worker the OS has not scheduled: the calling thread takes
the chunks no worker has begun. While one step uses a pool, a concurrent step
given the same pool runs on its own thread. A pool is used only in the
process that created it.)doc");
  {
    // pybind11 defines the constructor; its docstring starts with the
    // signature from the same py::arg, as def_function's do.
    py::options options;
    options.disable_function_signatures();
    const auto threads = py::arg("threads");
    const std::string doc =
        init_docstring("Starts the pool: threads - 1 threads besides the calling one.", threads);
    pool.def(py::init([](argument threads_object) {
               const std::size_t count = threads_argument(threads_object);
               py::gil_scoped_release release;
               return std::make_unique<thread_pool>(count);
             }),
             threads, doc.c_str());
  }
  pool.def_property_readonly("threads", &thread_pool::threads,
                             "The number of threads steps on this pool run on.")
      .def("__repr__", [](const thread_pool& p) {
        return "adagrad.ThreadPool(" + std::to_string(p.threads()) + ")";
      });

  register_sparse(m);
  register_mixed(m);
  register_embedding(m);

  def_function(
      m, "active_isa", [] { return std::string(adagrad_isa_name(adagrad_active_isa())); },
      "The ISA that step() runs on float32 arrays when isa is None (the dense f32 family of "
      "dispatch(); every family's choice is there).");

  def_function(
      m, "active_wide_isa", [] { return std::string(adagrad_isa_name(adagrad_active_wide_isa())); },
      "The ISA that sparse_step() runs on when isa is None (the sparse family of dispatch()).");

  def_function(
      m, "dispatch",
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

  def_function(
      m, "supported_isas", &supported_isas,
      "Names of every ISA this library was built with and this CPU can run, \"scalar\" first.");
  def_function(m, "isas", &isas,
               "Names of every ISA the library knows, of every CPU architecture, \"scalar\" "
               "first: the values isa= accepts (those not in supported_isas() raise).");
}
