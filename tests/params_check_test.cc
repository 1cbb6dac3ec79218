// SPDX-License-Identifier: BSD-3-Clause
// The parameter checks (adagrad_params_check and its kin) against the steps
// they describe, on one table of cases: each check names the field the case
// expects, and every step refuses its parameters (ADAGRAD_ERROR_INVALID_PARAMS,
// with n = 0, where the parameters are still validated) exactly when its
// check names a field. Also adagrad_field_name and adagrad_isa_from_name.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include "adagrad/adagrad.h"
#include "enums_as_int.h"
#include "adagrad/adagrad.hpp"

namespace adagrad_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Every parameter argument a step takes; NULL pointers where asked.
struct inputs {
  adagrad_params params = adagrad_params_default();
  adagrad_regularization regularization{0.0, 0.0};
  int dup = ADAGRAD_DUPLICATES_SUM;  // an int: tests/enums_as_int.c says why
  adagrad_mixed_options options = adagrad_mixed_options_default();
  bool null_params = false;
  bool null_regularization = false;
  bool null_options = false;

  const adagrad_params* p() const { return null_params ? nullptr : &params; }
  const adagrad_regularization* r() const {
    return null_regularization ? nullptr : &regularization;
  }
  const adagrad_mixed_options* o() const { return null_options ? nullptr : &options; }
};

// A C caller may store any int in an enum; in C++ only its bytes can be.
template <class Enum>
void store_int(Enum* e, int value) {
  static_assert(sizeof(Enum) == sizeof(int), "the enums are int-sized");
  std::memcpy(e, &value, sizeof value);
}

// The checks, in the order of the expectations below.
enum check_index {
  kParams,
  kParamsF64,
  kProximal,
  kProximalF64,
  kDa,
  kDaF64,
  kSparse,
  kMixed,
  kChecks
};

adagrad_field run_check(check_index check, const inputs& in) {
  switch (check) {
    case kParams: return adagrad_params_check(in.p());
    case kParamsF64: return adagrad_params_check_f64(in.p());
    case kProximal: return adagrad_proximal_params_check(in.p(), in.r());
    case kProximalF64: return adagrad_proximal_params_check_f64(in.p(), in.r());
    case kDa: return adagrad_da_params_check(in.p(), in.r());
    case kDaF64: return adagrad_da_params_check_f64(in.p(), in.r());
    case kSparse: return sparse_params_check_as_int(in.p(), in.dup);
    case kMixed: return adagrad_mixed_params_check(in.p(), in.o());
    case kChecks: break;
  }
  return ADAGRAD_FIELD_NONE;
}

// The sparse composite steps: their composite check, then dup as
// adagrad_sparse_params_check checks it (the header's rule).
adagrad_field sparse_composite_check(adagrad_field composite, const inputs& in) {
  return composite != ADAGRAD_FIELD_NONE ? composite : sparse_params_check_as_int(in.p(), in.dup);
}

// A step with nothing to update, and the check that describes it.
struct step_case {
  const char* name;
  adagrad_field (*check)(const inputs&);
  adagrad_status (*step)(const inputs&);
};

const step_case kSteps[] = {
    {"adagrad_step", [](const inputs& in) { return run_check(kParams, in); },
     [](const inputs& in) { return adagrad_step(nullptr, nullptr, nullptr, 0, in.p()); }},
    {"adagrad_step_isa", [](const inputs& in) { return run_check(kParams, in); },
     [](const inputs& in) {
       return adagrad_step_isa(ADAGRAD_ISA_SCALAR, nullptr, nullptr, nullptr, 0, in.p());
     }},
    {"adagrad_step_multi", [](const inputs& in) { return run_check(kParams, in); },
     [](const inputs& in) { return adagrad_step_multi(nullptr, 0, in.p(), nullptr); }},
    {"adagrad_rowwise_step", [](const inputs& in) { return run_check(kParams, in); },
     [](const inputs& in) {
       return adagrad_rowwise_step(nullptr, nullptr, nullptr, 0, 0, in.p(), nullptr);
     }},
    {"adagrad_step_f64", [](const inputs& in) { return run_check(kParamsF64, in); },
     [](const inputs& in) { return adagrad_step_f64(nullptr, nullptr, nullptr, 0, in.p()); }},
    {"adagrad_step_multi_f64", [](const inputs& in) { return run_check(kParamsF64, in); },
     [](const inputs& in) { return adagrad_step_multi_f64(nullptr, 0, in.p(), nullptr); }},
    {"adagrad_proximal_step", [](const inputs& in) { return run_check(kProximal, in); },
     [](const inputs& in) {
       return adagrad_proximal_step(nullptr, nullptr, nullptr, 0, in.p(), in.r());
     }},
    {"adagrad_proximal_step_f64", [](const inputs& in) { return run_check(kProximalF64, in); },
     [](const inputs& in) {
       return adagrad_proximal_step_f64(nullptr, nullptr, nullptr, 0, in.p(), in.r());
     }},
    {"adagrad_da_step", [](const inputs& in) { return run_check(kDa, in); },
     [](const inputs& in) {
       return adagrad_da_step(nullptr, nullptr, nullptr, nullptr, 0, in.p(), in.r());
     }},
    {"adagrad_da_step_f64", [](const inputs& in) { return run_check(kDaF64, in); },
     [](const inputs& in) {
       return adagrad_da_step_f64(nullptr, nullptr, nullptr, nullptr, 0, in.p(), in.r());
     }},
    {"adagrad_sparse_step", [](const inputs& in) { return run_check(kSparse, in); },
     [](const inputs& in) { return empty_sparse_step_as_int(in.p(), in.dup); }},
    {"adagrad_rowwise_sparse_step_i32", [](const inputs& in) { return run_check(kSparse, in); },
     [](const inputs& in) { return empty_rowwise_sparse_step_i32_as_int(in.p(), in.dup); }},
    {"adagrad_sparse_proximal_step",
     [](const inputs& in) { return sparse_composite_check(run_check(kProximal, in), in); },
     [](const inputs& in) { return empty_sparse_proximal_step_as_int(in.p(), in.r(), in.dup); }},
    {"adagrad_sparse_da_step",
     [](const inputs& in) { return sparse_composite_check(run_check(kDa, in), in); },
     [](const inputs& in) { return empty_sparse_da_step_as_int(in.p(), in.r(), in.dup); }},
    {"adagrad_step_mixed", [](const inputs& in) { return run_check(kMixed, in); },
     [](const inputs& in) {
       return adagrad_step_mixed(nullptr, ADAGRAD_DTYPE_BF16, nullptr, ADAGRAD_DTYPE_F16, nullptr,
                                 0, in.p(), in.o(), nullptr);
     }},
    {"adagrad_step_master", [](const inputs& in) { return run_check(kMixed, in); },
     [](const inputs& in) {
       return adagrad_step_master(nullptr, nullptr, ADAGRAD_DTYPE_F32, nullptr, nullptr,
                                  ADAGRAD_DTYPE_BF16, 0, in.p(), in.o(), nullptr);
     }},
};

// What each check should name for a case.
struct expected {
  adagrad_field field[kChecks];
};

// The same field from every check.
expected every(adagrad_field f) { return {{f, f, f, f, f, f, f, f}}; }
// From the float checks only: a value double holds but float does not.
expected float_only(adagrad_field f) {
  return {{f, ADAGRAD_FIELD_NONE, f, ADAGRAD_FIELD_NONE, f, ADAGRAD_FIELD_NONE, f, f}};
}
expected only(std::initializer_list<check_index> checks, adagrad_field f) {
  expected e = every(ADAGRAD_FIELD_NONE);
  for (check_index c : checks) e.field[c] = f;
  return e;
}
const std::initializer_list<check_index> kComposite = {kProximal, kProximalF64, kDa, kDaF64};

struct check_case {
  const char* what;
  void (*modify)(inputs&);
  expected want;
};

const check_case kCases[] = {
    {"defaults", [](inputs&) {}, every(ADAGRAD_FIELD_NONE)},
    {"params NULL", [](inputs& in) { in.null_params = true; }, every(ADAGRAD_FIELD_PARAMS)},
    {"lr -0.1", [](inputs& in) { in.params.lr = -0.1; }, every(ADAGRAD_FIELD_LR)},
    {"lr NaN", [](inputs& in) { in.params.lr = kNan; }, every(ADAGRAD_FIELD_LR)},
    {"lr +inf", [](inputs& in) { in.params.lr = kInf; }, every(ADAGRAD_FIELD_LR)},
    {"lr -inf", [](inputs& in) { in.params.lr = -kInf; }, every(ADAGRAD_FIELD_LR)},
    {"lr 1e39", [](inputs& in) { in.params.lr = 1e39; }, float_only(ADAGRAD_FIELD_LR)},
    {"lr DBL_MAX", [](inputs& in) { in.params.lr = DBL_MAX; }, float_only(ADAGRAD_FIELD_LR)},
    {"lr FLT_MAX", [](inputs& in) { in.params.lr = FLT_MAX; }, every(ADAGRAD_FIELD_NONE)},
    {"lr -0.0", [](inputs& in) { in.params.lr = -0.0; }, every(ADAGRAD_FIELD_NONE)},
    {"lr subnormal", [](inputs& in) { in.params.lr = 1e-320; }, every(ADAGRAD_FIELD_NONE)},
    {"eps -1e-8", [](inputs& in) { in.params.eps = -1e-8; }, every(ADAGRAD_FIELD_EPS)},
    {"eps 1e39", [](inputs& in) { in.params.eps = 1e39; }, float_only(ADAGRAD_FIELD_EPS)},
    {"eps 0", [](inputs& in) { in.params.eps = 0.0; }, every(ADAGRAD_FIELD_NONE)},
    {"weight_decay NaN", [](inputs& in) { in.params.weight_decay = kNan; },
     every(ADAGRAD_FIELD_WEIGHT_DECAY)},
    {"weight_decay -0.01", [](inputs& in) { in.params.weight_decay = -0.01; },
     every(ADAGRAD_FIELD_WEIGHT_DECAY)},
    {"weight_decay 1e300", [](inputs& in) { in.params.weight_decay = 1e300; },
     float_only(ADAGRAD_FIELD_WEIGHT_DECAY)},
    {"lr_decay -0.5", [](inputs& in) { in.params.lr_decay = -0.5; }, every(ADAGRAD_FIELD_LR_DECAY)},
    {"lr_decay -inf", [](inputs& in) { in.params.lr_decay = -kInf; },
     every(ADAGRAD_FIELD_LR_DECAY)},
    {"step 0 with lr_decay 0.1",
     [](inputs& in) {
       in.params.lr_decay = 0.1;
       in.params.step = 0;
     },
     every(ADAGRAD_FIELD_STEP)},
    // Without decay only dual averaging reads the step.
    {"step 0 without lr_decay", [](inputs& in) { in.params.step = 0; },
     only({kDa, kDaF64}, ADAGRAD_FIELD_STEP)},
    {"step 0 with lr_decay -0.0",
     [](inputs& in) {
       in.params.lr_decay = -0.0;
       in.params.step = 0;
     },
     only({kDa, kDaF64}, ADAGRAD_FIELD_STEP)},
    {"eps_mode 2", [](inputs& in) { store_int(&in.params.eps_mode, 2); },
     every(ADAGRAD_FIELD_EPS_MODE)},
    {"eps_mode -1", [](inputs& in) { store_int(&in.params.eps_mode, -1); },
     every(ADAGRAD_FIELD_EPS_MODE)},
    {"eps_mode inside", [](inputs& in) { in.params.eps_mode = ADAGRAD_EPS_INSIDE_SQRT; },
     every(ADAGRAD_FIELD_NONE)},
    {"maximize, fma and step take any value",
     [](inputs& in) {
       in.params.maximize = -7;
       in.params.fma = 12345;
       in.params.step = UINT64_MAX;
     },
     every(ADAGRAD_FIELD_NONE)},
    // Several invalid: the first in the header's order.
    {"lr NaN and eps -1",
     [](inputs& in) {
       in.params.lr = kNan;
       in.params.eps = -1.0;
     },
     every(ADAGRAD_FIELD_LR)},
    {"weight_decay inf and eps_mode 9",
     [](inputs& in) {
       in.params.weight_decay = kInf;
       store_int(&in.params.eps_mode, 9);
     },
     every(ADAGRAD_FIELD_WEIGHT_DECAY)},
    {"step 0 with decay, and eps_mode 9",
     [](inputs& in) {
       in.params.lr_decay = 1.0;
       in.params.step = 0;
       store_int(&in.params.eps_mode, 9);
     },
     every(ADAGRAD_FIELD_STEP)},
    {"lr -1 and l1 -1 and dup 7 and grad_scale 0",
     [](inputs& in) {
       in.params.lr = -1.0;
       in.regularization.l1 = -1.0;
       in.dup = 7;
       in.options.grad_scale = 0.0;
     },
     every(ADAGRAD_FIELD_LR)},
    // Composite steps.
    {"regularization NULL", [](inputs& in) { in.null_regularization = true; },
     only(kComposite, ADAGRAD_FIELD_REGULARIZATION)},
    {"l1 -0.1", [](inputs& in) { in.regularization.l1 = -0.1; },
     only(kComposite, ADAGRAD_FIELD_L1)},
    {"l1 NaN", [](inputs& in) { in.regularization.l1 = kNan; }, only(kComposite, ADAGRAD_FIELD_L1)},
    {"l1 1e39", [](inputs& in) { in.regularization.l1 = 1e39; },
     only({kProximal, kDa}, ADAGRAD_FIELD_L1)},
    {"l2 +inf", [](inputs& in) { in.regularization.l2 = kInf; },
     only(kComposite, ADAGRAD_FIELD_L2)},
    {"l1 and l2 invalid",
     [](inputs& in) {
       in.regularization.l1 = -1.0;
       in.regularization.l2 = -1.0;
     },
     only(kComposite, ADAGRAD_FIELD_L1)},
    {"params before regularization",
     [](inputs& in) {
       in.params.eps = kNan;
       in.null_regularization = true;
     },
     every(ADAGRAD_FIELD_EPS)},
    // Dual averaging's derived constants: finite in double, not in float.
    {"step * l1 beyond float",
     [](inputs& in) {
       in.params.step = 1000000;
       in.regularization.l1 = 1e33;
     },
     only({kDa}, ADAGRAD_FIELD_DA_THRESHOLD)},
    {"l2 * step * lr_t beyond float",
     [](inputs& in) {
       in.params.step = 1000000;
       in.params.lr = 10.0;
       in.regularization.l2 = 1e33;
     },
     only({kDa}, ADAGRAD_FIELD_DA_OFFSET)},
    {"l2 * step * lr_t with the decayed lr",
     [](inputs& in) {
       // lr_t = 10 / (1 + 999999 * 1e6): the offset is finite again.
       in.params.step = 1000000;
       in.params.lr = 10.0;
       in.params.lr_decay = 1e6;
       in.regularization.l2 = 1e33;
     },
     every(ADAGRAD_FIELD_NONE)},
    {"step * l1 beyond double",
     [](inputs& in) {
       in.params.step = UINT64_MAX;
       in.regularization.l1 = 1e300;
     },
     // l1 alone is beyond float already.
     {{ADAGRAD_FIELD_NONE, ADAGRAD_FIELD_NONE, ADAGRAD_FIELD_L1, ADAGRAD_FIELD_NONE,
       ADAGRAD_FIELD_L1, ADAGRAD_FIELD_DA_THRESHOLD, ADAGRAD_FIELD_NONE, ADAGRAD_FIELD_NONE}}},
    {"l1 before step 0 in dual averaging",
     [](inputs& in) {
       in.params.step = 0;
       in.regularization.l1 = -1.0;
     },
     only(kComposite, ADAGRAD_FIELD_L1)},
    // Sparse steps.
    {"dup 3", [](inputs& in) { in.dup = 3; }, only({kSparse}, ADAGRAD_FIELD_DUPLICATES)},
    {"dup -1", [](inputs& in) { in.dup = -1; },
     only({kSparse}, ADAGRAD_FIELD_DUPLICATES)},
    {"dup sequential", [](inputs& in) { in.dup = ADAGRAD_DUPLICATES_SEQUENTIAL; },
     every(ADAGRAD_FIELD_NONE)},
    {"dup torch", [](inputs& in) { in.dup = ADAGRAD_DUPLICATES_TORCH; }, every(ADAGRAD_FIELD_NONE)},
    // Mixed precision.
    {"options NULL", [](inputs& in) { in.null_options = true; }, every(ADAGRAD_FIELD_NONE)},
    {"rounding 2", [](inputs& in) { store_int(&in.options.rounding, 2); },
     only({kMixed}, ADAGRAD_FIELD_ROUNDING)},
    {"rounding stochastic", [](inputs& in) { in.options.rounding = ADAGRAD_ROUND_STOCHASTIC; },
     every(ADAGRAD_FIELD_NONE)},
    {"grad_scale 0", [](inputs& in) { in.options.grad_scale = 0.0; },
     only({kMixed}, ADAGRAD_FIELD_GRAD_SCALE)},
    {"grad_scale -1", [](inputs& in) { in.options.grad_scale = -1.0; },
     only({kMixed}, ADAGRAD_FIELD_GRAD_SCALE)},
    {"grad_scale NaN", [](inputs& in) { in.options.grad_scale = kNan; },
     only({kMixed}, ADAGRAD_FIELD_GRAD_SCALE)},
    {"grad_scale 1e39", [](inputs& in) { in.options.grad_scale = 1e39; },
     only({kMixed}, ADAGRAD_FIELD_GRAD_SCALE)},
    {"grad_scale 1e-50 (0 in float)", [](inputs& in) { in.options.grad_scale = 1e-50; },
     only({kMixed}, ADAGRAD_FIELD_GRAD_SCALE)},
    {"grad_scale 1e-40 (subnormal in float)", [](inputs& in) { in.options.grad_scale = 1e-40; },
     every(ADAGRAD_FIELD_NONE)},
    {"rounding before grad_scale",
     [](inputs& in) {
       store_int(&in.options.rounding, 3);
       in.options.grad_scale = kNan;
     },
     only({kMixed}, ADAGRAD_FIELD_ROUNDING)},
};

const char* check_name(check_index c) {
  static const char* const kNames[] = {
      "adagrad_params_check",          "adagrad_params_check_f64",
      "adagrad_proximal_params_check", "adagrad_proximal_params_check_f64",
      "adagrad_da_params_check",       "adagrad_da_params_check_f64",
      "adagrad_sparse_params_check",   "adagrad_mixed_params_check"};
  return kNames[c];
}

TEST(ParamsCheck, NamesTheExpectedField) {
  for (const check_case& c : kCases) {
    inputs in;
    c.modify(in);
    for (int i = 0; i < kChecks; ++i) {
      const auto check = static_cast<check_index>(i);
      EXPECT_STREQ(adagrad_field_name(c.want.field[i]), adagrad_field_name(run_check(check, in)))
          << c.what << ": " << check_name(check);
    }
  }
}

TEST(ParamsCheck, StepsRefuseExactlyWhatTheirCheckNames) {
  for (const check_case& c : kCases) {
    inputs in;
    c.modify(in);
    for (const step_case& s : kSteps) {
      const adagrad_field field = s.check(in);
      const adagrad_status status = s.step(in);
      EXPECT_EQ(field != ADAGRAD_FIELD_NONE ? ADAGRAD_ERROR_INVALID_PARAMS : ADAGRAD_OK, status)
          << c.what << ": " << s.name << ", check says " << adagrad_field_name(field);
    }
  }
}

TEST(ParamsCheck, ChecksReadNothingButTheirArguments) {
  // The same answers twice, and the arguments unchanged.
  inputs in;
  in.params.lr = -1.0;
  const inputs before = in;
  EXPECT_EQ(ADAGRAD_FIELD_LR, adagrad_params_check(in.p()));
  EXPECT_EQ(ADAGRAD_FIELD_LR, adagrad_params_check(in.p()));
  // Every field's bytes; not the struct's trailing padding, which no one
  // initialized (valgrind reports comparing it).
  constexpr std::size_t field_bytes = offsetof(adagrad_params, fma) + sizeof in.params.fma;
  EXPECT_EQ(0, std::memcmp(&before.params, &in.params, field_bytes));
}

TEST(ParamsCheck, FieldNames) {
  std::set<std::string> names;
  for (int f = ADAGRAD_FIELD_NONE; f <= ADAGRAD_FIELD_GRAD_SCALE; ++f) {
    adagrad_field field;
    store_int(&field, f);
    const std::string name = adagrad_field_name(field);
    EXPECT_NE("unknown", name) << f;
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
  }
  EXPECT_STREQ("none", adagrad_field_name(ADAGRAD_FIELD_NONE));
  EXPECT_STREQ("lr", adagrad_field_name(ADAGRAD_FIELD_LR));
  EXPECT_STREQ("step * l1", adagrad_field_name(ADAGRAD_FIELD_DA_THRESHOLD));
  EXPECT_STREQ("grad_scale", adagrad_field_name(ADAGRAD_FIELD_GRAD_SCALE));
  for (int outside : {-1, ADAGRAD_FIELD_GRAD_SCALE + 1, 1000}) {
    EXPECT_STREQ("unknown", field_name_as_int(outside)) << outside;
  }
}

TEST(ParamsCheck, CppWrappers) {
  adagrad::params p;
  EXPECT_EQ(ADAGRAD_FIELD_NONE, adagrad::params_check(p));
  p.eps = 1e39;
  EXPECT_EQ(ADAGRAD_FIELD_EPS, adagrad::params_check(p));
  EXPECT_EQ(ADAGRAD_FIELD_NONE, adagrad::params_check_f64(p));
  EXPECT_STREQ("eps", adagrad::field_name(adagrad::params_check(p)));
}

TEST(IsaFromName, EveryIsaByItsName) {
  for (int i = 0; i < ADAGRAD_ISA_COUNT; ++i) {
    const auto isa = static_cast<adagrad_isa>(i);
    const char* name = adagrad_isa_name(isa);
    EXPECT_STRNE("unknown", name) << i;
    adagrad_isa found = ADAGRAD_ISA_SCALAR;
    ASSERT_EQ(ADAGRAD_OK, adagrad_isa_from_name(name, &found)) << name;
    EXPECT_EQ(isa, found) << name;
  }
  // The enum is dense: one past the last value has no name.
  EXPECT_STREQ("unknown", isa_name_as_int(ADAGRAD_ISA_COUNT));
}

TEST(IsaFromName, NamesOfIsasThisCpuLacksToo) {
  // The name maps to the enum whatever the CPU; usability is a separate question.
  adagrad_isa found = ADAGRAD_ISA_SCALAR;
  ASSERT_EQ(ADAGRAD_OK, adagrad_isa_from_name("neon64", &found));
  EXPECT_EQ(ADAGRAD_ISA_NEON64, found);
  ASSERT_EQ(ADAGRAD_OK, adagrad_isa_from_name("avx512bf16", &found));
  EXPECT_EQ(ADAGRAD_ISA_AVX512BF16, found);
}

TEST(IsaFromName, UnknownNamesAndNullPointers) {
  for (const char* name : {"unknown", "", "AVX", "avx ", " avx", "mmx", "avx512", "sse"}) {
    adagrad_isa untouched = ADAGRAD_ISA_AVX2;
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA, adagrad_isa_from_name(name, &untouched))
        << '"' << name << '"';
    EXPECT_EQ(ADAGRAD_ISA_AVX2, untouched) << '"' << name << '"';
  }
  adagrad_isa isa = ADAGRAD_ISA_AVX2;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_isa_from_name(nullptr, &isa));
  EXPECT_EQ(ADAGRAD_ISA_AVX2, isa);
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_isa_from_name("avx", nullptr));
  adagrad::isa cpp = ADAGRAD_ISA_SCALAR;
  EXPECT_EQ(ADAGRAD_OK, adagrad::isa_from_name("sse2", &cpp));
  EXPECT_EQ(ADAGRAD_ISA_SSE2, cpp);
}

}  // namespace
}  // namespace adagrad_test
