// SPDX-License-Identifier: BSD-3-Clause
// Drops a C++ wrapper's status (a negative lr: the step refuses and changes
// nothing): must not compile with -Werror=unused-result, since
// adagrad::step is [[nodiscard]] (the ctest discarded_status_cxx).
#include <adagrad/adagrad.hpp>

void drop(float* w, const float* g, float* G, std::size_t n) {
  adagrad::params p;
  p.lr = -0.1;
  adagrad::step(w, g, G, n, p);
}
