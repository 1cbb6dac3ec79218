// SPDX-License-Identifier: BSD-3-Clause
// Which parameter a step refuses: adagrad_params_check and its kin. The
// steps validate on every call with as few branches as possible
// (validate.h's make_constants, mixed.cpp's read_options, sparse.cpp's
// validate_sparse) and say only ADAGRAD_ERROR_INVALID_PARAMS; these apply
// the same rules (validate.h's valid_hyperparameter and decayed_lr) one
// parameter at a time, in the header's order, for a caller that wants to
// name it. tests/params_check_test.cc holds the two to each other on a table
// of cases: a step refuses exactly what its check names. And
// adagrad_isa_from_name, the reverse of adagrad_isa_name.
#include <cstring>

#include "adagrad/adagrad.h"
#include "dispatch.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

template <class T>
adagrad_field params_field(const adagrad_params* p) {
  if (p == nullptr) return ADAGRAD_FIELD_PARAMS;
  if (!valid_hyperparameter<T>(p->lr)) return ADAGRAD_FIELD_LR;
  if (!valid_hyperparameter<T>(p->eps)) return ADAGRAD_FIELD_EPS;
  if (!valid_hyperparameter<T>(p->weight_decay)) return ADAGRAD_FIELD_WEIGHT_DECAY;
  if (!valid_hyperparameter<T>(p->lr_decay)) return ADAGRAD_FIELD_LR_DECAY;
  // lr_decay is valid here, so "> 0" means "!= 0" (-0.0 is 0).
  if (p->lr_decay > 0.0 && p->step == 0) return ADAGRAD_FIELD_STEP;
  // Read as the integer: a C caller may have stored any int (enum_int).
  const int eps_mode = enum_int(p->eps_mode);
  if (eps_mode != ADAGRAD_EPS_OUTSIDE_SQRT && eps_mode != ADAGRAD_EPS_INSIDE_SQRT) {
    return ADAGRAD_FIELD_EPS_MODE;
  }
  return ADAGRAD_FIELD_NONE;
}

// make_composite_constants' rules, with the same double expressions for
// dual averaging's derived constants.
template <class T>
adagrad_field composite_field(const adagrad_params* p, const adagrad_regularization* r,
                              bool dual_averaging) {
  const adagrad_field field = params_field<T>(p);
  if (field != ADAGRAD_FIELD_NONE) return field;
  if (r == nullptr) return ADAGRAD_FIELD_REGULARIZATION;
  if (!valid_hyperparameter<T>(r->l1)) return ADAGRAD_FIELD_L1;
  if (!valid_hyperparameter<T>(r->l2)) return ADAGRAD_FIELD_L2;
  if (dual_averaging) {
    if (p->step == 0) return ADAGRAD_FIELD_STEP;
    const auto t = static_cast<double>(p->step);
    if (!valid_hyperparameter<T>(t * r->l1)) return ADAGRAD_FIELD_DA_THRESHOLD;
    if (!valid_hyperparameter<T>(r->l2 * t * decayed_lr(*p))) return ADAGRAD_FIELD_DA_OFFSET;
  }
  return ADAGRAD_FIELD_NONE;
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

const char* adagrad_field_name(adagrad_field field) {
  switch (adagrad::detail::enum_int(field)) {
    case ADAGRAD_FIELD_NONE: return "none";
    case ADAGRAD_FIELD_PARAMS: return "params";
    case ADAGRAD_FIELD_LR: return "lr";
    case ADAGRAD_FIELD_EPS: return "eps";
    case ADAGRAD_FIELD_WEIGHT_DECAY: return "weight_decay";
    case ADAGRAD_FIELD_LR_DECAY: return "lr_decay";
    case ADAGRAD_FIELD_STEP: return "step";
    case ADAGRAD_FIELD_EPS_MODE: return "eps_mode";
    case ADAGRAD_FIELD_REGULARIZATION: return "regularization";
    case ADAGRAD_FIELD_L1: return "l1";
    case ADAGRAD_FIELD_L2: return "l2";
    case ADAGRAD_FIELD_DA_THRESHOLD: return "step * l1";
    case ADAGRAD_FIELD_DA_OFFSET: return "l2 * step * lr_t";
    case ADAGRAD_FIELD_DUPLICATES: return "dup";
    case ADAGRAD_FIELD_ROUNDING: return "rounding";
    case ADAGRAD_FIELD_GRAD_SCALE: return "grad_scale";
  }
  return "unknown";
}

adagrad_field adagrad_params_check(const adagrad_params* p) {
  return adagrad::detail::params_field<float>(p);
}

adagrad_field adagrad_params_check_f64(const adagrad_params* p) {
  return adagrad::detail::params_field<double>(p);
}

adagrad_field adagrad_proximal_params_check(const adagrad_params* p,
                                            const adagrad_regularization* r) {
  return adagrad::detail::composite_field<float>(p, r, false);
}

adagrad_field adagrad_proximal_params_check_f64(const adagrad_params* p,
                                                const adagrad_regularization* r) {
  return adagrad::detail::composite_field<double>(p, r, false);
}

adagrad_field adagrad_da_params_check(const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad::detail::composite_field<float>(p, r, true);
}

adagrad_field adagrad_da_params_check_f64(const adagrad_params* p,
                                          const adagrad_regularization* r) {
  return adagrad::detail::composite_field<double>(p, r, true);
}

adagrad_field adagrad_sparse_params_check(const adagrad_params* p, adagrad_duplicates dup) {
  const adagrad_field field = adagrad::detail::params_field<float>(p);
  if (field != ADAGRAD_FIELD_NONE) return field;
  const int mode = adagrad::detail::enum_int(dup);
  if (mode != ADAGRAD_DUPLICATES_SUM && mode != ADAGRAD_DUPLICATES_SEQUENTIAL &&
      mode != ADAGRAD_DUPLICATES_TORCH) {
    return ADAGRAD_FIELD_DUPLICATES;
  }
  return ADAGRAD_FIELD_NONE;
}

// read_options' rules (src/mixed.cpp).
adagrad_field adagrad_mixed_params_check(const adagrad_params* p, const adagrad_mixed_options* o) {
  const adagrad_field field = adagrad::detail::params_field<float>(p);
  if (field != ADAGRAD_FIELD_NONE || o == nullptr) return field;
  const int rounding = adagrad::detail::enum_int(o->rounding);
  if (rounding != ADAGRAD_ROUND_NEAREST_EVEN && rounding != ADAGRAD_ROUND_STOCHASTIC) {
    return ADAGRAD_FIELD_ROUNDING;
  }
  // Finite, > 0, and still > 0 once rounded to float.
  if (!adagrad::detail::valid_hyperparameter<float>(o->grad_scale) ||
      !(static_cast<float>(o->grad_scale) > 0.0f)) {
    return ADAGRAD_FIELD_GRAD_SCALE;
  }
  return ADAGRAD_FIELD_NONE;
}

// By name, over every value of the enum: the names stay adagrad_isa_name's.
adagrad_status adagrad_isa_from_name(const char* name, adagrad_isa* isa) {
  if (name == nullptr || isa == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  for (int i = 0; i < ADAGRAD_ISA_COUNT; ++i) {
    const auto candidate = static_cast<adagrad_isa>(i);
    if (std::strcmp(name, adagrad_isa_name(candidate)) == 0) {
      *isa = candidate;
      return ADAGRAD_OK;
    }
  }
  return ADAGRAD_ERROR_UNSUPPORTED_ISA;
}

}  // extern "C"
