// SPDX-License-Identifier: BSD-3-Clause
// Differential fuzzing of the fused embedding-bag steps,
// adagrad_embedding_bag_step and adagrad_rowwise_embedding_bag_step (and
// their _isa forms), with the optimizer options (libFuzzer, with ASan and
// UBSan).
//
// The input chooses one to three tables (rows, dim (0, odd, past the 256
// columns of a chunk), pooling (sometimes not a pooling), per-sample
// weights, a strided grad_output, hyperparameters of their own or the
// call's), the bags (empty ones included; sometimes offsets that are not
// valid, an index out of range), the index type, the state kind, the
// options (every weight decay mode, max_norm, max_gradient, the counter's
// state; sometimes values outside the contract) and every value (special
// ones included). The step runs on the scalar path, on every ISA this CPU
// has, on the dispatched entry and through a pool of two threads; the
// target aborts when
//   - two paths return different statuses,
//   - a failed call changed any byte of any buffer,
//   - a successful call differs in any bit from the scalar path (any NaN
//     equals any NaN, fuzz_util.h says why),
//   - with the default options and the call valid, the scalar path differs
//     from the materialised gradient through adagrad_sparse_step (or
//     adagrad_rowwise_sparse_step) with ADAGRAD_DUPLICATES_SUM,
// and ASan aborts on any access outside the buffers (each its own
// exactly-sized heap block).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"
#include "fuzz_util.h"

namespace fuzz {
namespace {

constexpr char kName[] = "fuzz_embedding_bag";

// One table's buffers, owned; copied for every path.
struct Table {
  std::size_t rows = 0, dim = 0, stride = 0;
  int pooling = ADAGRAD_POOLING_SUM;  // any int: stored into the enum's bytes
  bool own_params = false;
  adagrad_params params{};
  bool has_options = false;
  adagrad_embedding_options options{};
  int decay_mode = ADAGRAD_WEIGHT_DECAY_L2;
  std::vector<float> weights, state, per_sample_weights, grad_output, counter;
  std::vector<std::int64_t> indices, offsets, counter_step;
  std::vector<std::int32_t> indices32, offsets32;
};

struct Batch {
  std::vector<Table> tables;
  std::size_t num_bags = 0;
  bool int32 = false;
  bool rowwise = false;
  adagrad_params p{};
};

ADAGRAD_FUZZ_UNCOVERED Batch decode(Input& in) {
  Batch b;
  const std::uint8_t shape = in.byte();
  b.int32 = shape & 1;
  b.rowwise = shape & 2;
  b.num_bags = in.byte() % 21;
  const std::size_t num_tables = 1 + in.byte() % 3;
  const Hyper h = decode_hyper(in);
  b.p = h.p;
  const unsigned special = in.byte() % 32;
  for (std::size_t t = 0; t < num_tables; ++t) {
    Table x;
    const std::uint8_t flags = in.byte();
    x.rows = 1 + in.byte() % 40;
    x.dim = (flags & 0x80) ? 250 + in.byte() % 60 : in.byte() % 70;
    x.stride = (flags & 1) ? x.dim + in.byte() % 5 : 0;
    x.pooling = (flags & 2) ? ADAGRAD_POOLING_MEAN : ADAGRAD_POOLING_SUM;
    if ((flags & 0x60) == 0x60) x.pooling = in.take<std::int8_t>();
    const bool weighted = flags & 4;
    if (flags & 8) {
      x.own_params = true;
      x.params = b.p;
      x.params.lr = 0.001 * (1 + in.byte());
    }
    const std::uint8_t bags = in.byte();
    x.offsets.push_back(0);
    for (std::size_t bag = 0; bag < b.num_bags; ++bag) {
      const std::size_t len = in.byte() % (bags % 9 + 1);
      for (std::size_t k = 0; k < len; ++k) {
        std::int64_t row = static_cast<std::int64_t>(in.byte() % x.rows);
        if (in.byte() == 255) row = (in.byte() & 1) ? -1 : static_cast<std::int64_t>(x.rows);
        x.indices.push_back(row);
      }
      x.offsets.push_back(static_cast<std::int64_t>(x.indices.size()));
    }
    if (in.byte() == 254 && x.offsets.size() > 1) {
      x.offsets[in.byte() % x.offsets.size()] += (in.byte() & 1) ? 1 : -1;  // not valid
    }
    x.weights.resize(x.rows * x.dim);
    for (float& v : x.weights) v = data_value<float>(in, special, false);
    x.state.resize(b.rowwise ? x.rows : x.rows * x.dim);
    for (float& v : x.state) v = data_value<float>(in, special, true);
    if (weighted) {
      x.per_sample_weights.resize(x.indices.size());
      for (float& v : x.per_sample_weights) v = data_value<float>(in, special, false);
    }
    const std::size_t stride = x.stride != 0 ? x.stride : x.dim;
    x.grad_output.resize(b.num_bags == 0 || x.dim == 0 ? 0 : (b.num_bags - 1) * stride + x.dim);
    for (float& v : x.grad_output) v = data_value<float>(in, special, false);
    // The options: a quarter of the tables keep the defaults (NULL).
    const std::uint8_t o = in.byte();
    x.has_options = (o & 3) != 0;
    x.options = adagrad_embedding_options_default();
    x.decay_mode = (o >> 2) % 3;
    if ((o & 0xe0) == 0xe0) x.decay_mode = in.take<std::int8_t>();
    std::memcpy(&x.options.weight_decay_mode, &x.decay_mode, sizeof x.decay_mode);
    if (o & 0x20) x.options.max_norm = (in.byte() < 8) ? raw_hyperparameter(in) : in.byte() / 16.0;
    if (o & 0x40) {
      x.options.max_gradient = (in.byte() < 8) ? raw_hyperparameter(in) : in.byte() / 32.0;
    }
    x.options.counter_halflife = (in.byte() < 8) ? raw_hyperparameter(in) : 1 + in.byte() % 8;
    x.options.counter_decay = (in.byte() < 8) ? raw_hyperparameter(in) : in.byte() / 255.0;
    if (x.has_options && x.decay_mode == ADAGRAD_WEIGHT_DECAY_COUNTER) {
      x.counter.resize(x.rows);
      x.counter_step.resize(x.rows);
      for (float& v : x.counter) v = data_value<float>(in, special, true);
      for (std::int64_t& s : x.counter_step) s = static_cast<std::int64_t>(in.byte() % 16) - 2;
    }
    x.indices32.assign(x.indices.begin(), x.indices.end());
    x.offsets32.assign(x.offsets.begin(), x.offsets.end());
    b.tables.push_back(std::move(x));
  }
  return b;
}

ADAGRAD_FUZZ_UNCOVERED std::vector<adagrad_embedding_table> descriptors(Batch& b) {
  std::vector<adagrad_embedding_table> d;
  for (Table& x : b.tables) {
    adagrad_embedding_table e{};
    e.weights = x.weights.empty() ? nullptr : x.weights.data();
    e.state = x.state.empty() ? nullptr : x.state.data();
    e.num_rows = x.rows;
    e.dim = x.dim;
    e.params = x.own_params ? &x.params : nullptr;
    std::memcpy(&e.pooling, &x.pooling, sizeof x.pooling);
    e.indices = b.int32 ? static_cast<const void*>(x.indices32.data()) : x.indices.data();
    e.offsets = b.int32 ? static_cast<const void*>(x.offsets32.data()) : x.offsets.data();
    e.num_indices = x.indices.size();
    e.per_sample_weights = x.per_sample_weights.empty() ? nullptr : x.per_sample_weights.data();
    e.grad_output = x.grad_output.empty() ? nullptr : x.grad_output.data();
    e.grad_output_stride = x.stride;
    e.options = x.has_options ? &x.options : nullptr;
    e.counter = x.counter.empty() ? nullptr : x.counter.data();
    e.counter_step = x.counter_step.empty() ? nullptr : x.counter_step.data();
    d.push_back(e);
  }
  return d;
}

// One path: its status, and the batch after it.
struct Run {
  adagrad_status status;
  Batch after;
};

ADAGRAD_FUZZ_UNCOVERED Run run(const Batch& before, bool use_isa, adagrad_isa isa,
                               adagrad_pool* pool) {
  Run r{ADAGRAD_OK, before};
  std::vector<adagrad_embedding_table> d = descriptors(r.after);
  std::size_t most = 0;
  for (const Table& x : before.tables) most = x.indices.size() > most ? x.indices.size() : most;
  const std::size_t bytes = adagrad_embedding_bag_workspace_size(most, before.num_bags);
  std::vector<unsigned char> workspace(bytes);
  const adagrad_index_type type = before.int32 ? ADAGRAD_INDEX_INT32 : ADAGRAD_INDEX_INT64;
  void* ws = workspace.empty() ? nullptr : workspace.data();
  if (use_isa) {
    auto* step = before.rowwise ? adagrad_rowwise_embedding_bag_step_isa
                                : adagrad_embedding_bag_step_isa;
    r.status = step(isa, d.data(), d.size(), before.num_bags, type, &before.p, ws, bytes, pool);
  } else {
    auto* step =
        before.rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step;
    r.status = step(d.data(), d.size(), before.num_bags, type, &before.p, ws, bytes, pool);
  }
  return r;
}

template <class T>
ADAGRAD_FUZZ_UNCOVERED void compare(const std::vector<T>& got, const std::vector<T>& want,
                                    bool exact, const std::string& what) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool same = exact ? to_bits(got[i]) == to_bits(want[i])
                            : adagrad_test::same_value(got[i], want[i]);
    if (!same) {
      fail(kName, what + "[" + std::to_string(i) + "]: " + hex(got[i]) + ", expected " +
                      hex(want[i]));
    }
  }
}

// exact: bit for bit (a failed call must not change a byte); otherwise any
// NaN equals any NaN.
ADAGRAD_FUZZ_UNCOVERED void compare_batches(const Batch& got, const Batch& want, bool exact,
                                            const std::string& what) {
  for (std::size_t t = 0; t < got.tables.size(); ++t) {
    const Table& a = got.tables[t];
    const Table& b = want.tables[t];
    const std::string where = what + ", table " + std::to_string(t);
    compare(a.weights, b.weights, exact, where + " weights");
    compare(a.state, b.state, exact, where + " state");
    compare(a.counter, b.counter, exact, where + " counter");
    if (a.counter_step != b.counter_step) fail(kName, where + ": counter_step differs");
  }
}

// The definition with the default options: g_q written out, then the sparse
// step of the scalar path with duplicates summed.
ADAGRAD_FUZZ_UNCOVERED void materialised(Batch& b) {
  for (Table& x : b.tables) {
    const std::size_t n = x.indices.size();
    if (n == 0 || x.dim == 0) continue;
    std::vector<float> grads(n * x.dim);
    const std::size_t stride = x.stride != 0 ? x.stride : x.dim;
    for (std::size_t bag = 0; bag < b.num_bags; ++bag) {
      const auto first = static_cast<std::size_t>(x.offsets[bag]);
      const auto last = static_cast<std::size_t>(x.offsets[bag + 1]);
      for (std::size_t q = first; q < last; ++q) {
        const float* go = x.grad_output.data() + bag * stride;
        const bool unit = x.pooling == ADAGRAD_POOLING_SUM && x.per_sample_weights.empty();
        float s = x.per_sample_weights.empty() ? 1.0f : x.per_sample_weights[q];
        if (x.pooling == ADAGRAD_POOLING_MEAN) {
          s = static_cast<float>(static_cast<double>(s) / static_cast<double>(last - first));
        }
        for (std::size_t j = 0; j < x.dim; ++j) grads[q * x.dim + j] = unit ? go[j] : s * go[j];
      }
    }
    std::vector<unsigned char> ws(adagrad_sparse_workspace_size(n, x.dim, ADAGRAD_DUPLICATES_SUM));
    auto* step = b.rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa;
    const adagrad_status status =
        step(ADAGRAD_ISA_SCALAR, x.weights.data(), x.state.data(), x.rows, x.dim,
             x.indices.data(), n, grads.data(), x.own_params ? &x.params : &b.p,
             ADAGRAD_DUPLICATES_SUM, ws.data(), ws.size(), nullptr);
    if (status != ADAGRAD_OK) fail(kName, "the materialised sparse step failed");
  }
}

}  // namespace
}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fuzz;
  Input in(data, size);
  const Batch batch = decode(in);
  const Run scalar = run(batch, true, ADAGRAD_ISA_SCALAR, nullptr);
  auto check = [&](const Run& r, const std::string& what) {
    if (r.status != scalar.status) {
      fail(kName, what + ": status " + std::to_string(r.status) + ", the scalar path's " +
                      std::to_string(scalar.status));
    }
    compare_batches(r.after, scalar.after, false, what);
  };
  if (scalar.status != ADAGRAD_OK) {
    compare_batches(scalar.after, batch, true, "scalar path, failed call");
  }
  for (int isa = 1; isa < ADAGRAD_ISA_COUNT; ++isa) {
    const auto which = static_cast<adagrad_isa>(isa);
    if (!adagrad_isa_supported(which)) continue;
    check(run(batch, true, which, nullptr), adagrad_isa_name(which));
  }
  check(run(batch, false, ADAGRAD_ISA_SCALAR, nullptr), "dispatched");
  check(run(batch, false, ADAGRAD_ISA_SCALAR, two_threads()), "two threads");
  bool plain = true;
  for (const Table& x : batch.tables) {
    if (x.has_options && (x.decay_mode != ADAGRAD_WEIGHT_DECAY_L2 || x.options.max_norm != 0.0 ||
                          x.options.max_gradient != 0.0)) {
      plain = false;
    }
  }
  if (scalar.status == ADAGRAD_OK && plain) {
    Batch want = batch;
    materialised(want);
    compare_batches(scalar.after, want, false, "against the materialised sparse step");
  }
  return 0;
}
