// SPDX-License-Identifier: BSD-3-Clause
/*
 * adagrad.h: SIMD-accelerated, bit-reproducible AdaGrad optimizer kernels.
 *
 * The public C API. It compiles as C99 and as C++.
 *
 * Contract for every step function below:
 *  - Per element, in exactly this order (the order of the seed NumPy notebook):
 *      1. g = -g                          if maximize != 0
 *         g = g + (weight_decay * w)      if weight_decay != 0
 *                                         (fma mode: g = fma(weight_decay, w, g))
 *      2. G = G + g * g                   (fma mode: G = fma(g, g, G))
 *      3. d = sqrt(G) + eps               (ADAGRAD_EPS_OUTSIDE_SQRT)
 *         d = sqrt(G + eps)               (ADAGRAD_EPS_INSIDE_SQRT)
 *      4. w = w - (lr_t * g) / d
 *    where lr_t = lr / (1 + (step - 1) * lr_decay) is computed in double and
 *    then, like every hyperparameter, rounded once to the element type.
 *    Each operation is one IEEE-754 operation in the element type: no fused
 *    multiply-add (except the two of fma mode, which every path then performs
 *    as one correctly rounded fused operation), no reciprocal or square-root
 *    approximations. The result is
 *    therefore bitwise identical on every ISA (scalar, SSE2, AVX, AVX2,
 *    AVX-512F, AVX-512 BF16, NEON64, SVE at every vector length), for every length
 *    and alignment, and the double step
 * reproduces NumPy bit for bit.
 *  - n == 0 is a valid no-op; the buffer pointers may then be NULL (the
 *    parameters are still validated).
 *  - w, g and G must not overlap each other (not even partially), and each
 *    must be aligned to its element size (no further alignment is needed).
 *  - Checks run in this order, the first failure is returned: the ISA (for
 *    the _isa variants), the parameters, the size, the pointers, the
 *    alignment, the overlap.
 *  - All validation happens before the first write: when a function returns
 *    anything other than ADAGRAD_OK, not one byte of w, g or G has changed.
 *  - NaN and infinity inside the data are not errors: they propagate as
 *    IEEE-754 says, and every path has a NaN exactly where the reference
 *    has one. Which NaN (its sign and payload) is not specified, as IEEE-754
 *    leaves it open: where two NaNs meet, or a NaN is negated twice, paths
 *    and thread counts may return different NaNs. Every other value is
 *    bitwise identical.
 *  - The functions never allocate, print, abort or throw, keep no mutable
 *    global state besides the once-resolved ISA choice per kernel family
 *    (resolved thread-safely at first use: adagrad_dispatch_query), and are
 *    safe to call concurrently on disjoint buffers.
 *  - The caller's floating-point environment (rounding mode, FTZ/DAZ) is
 *    used as is and never changed; every path honours it identically.
 */
#ifndef ADAGRAD_ADAGRAD_H_
#define ADAGRAD_ADAGRAD_H_

#include <stddef.h>
#include <stdint.h>

#define ADAGRAD_VERSION_MAJOR 0
#define ADAGRAD_VERSION_MINOR 1
#define ADAGRAD_VERSION_PATCH 0

/* ADAGRAD_API marks the exported functions. The library is built with hidden
 * visibility; define ADAGRAD_STATIC_DEFINE when linking a static build. */
#if defined(ADAGRAD_STATIC_DEFINE)
#define ADAGRAD_API
#elif defined(_WIN32)
#if defined(ADAGRAD_BUILDING_LIBRARY)
#define ADAGRAD_API __declspec(dllexport)
#else
#define ADAGRAD_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define ADAGRAD_API __attribute__((visibility("default")))
#else
#define ADAGRAD_API
#endif

/* Every function that returns an adagrad_status (or, like the parameter
 * checks, an adagrad_field) warns (GCC, Clang) when the caller ignores it: a
 * step that refused its input changed nothing, which is easy to miss. Define
 * ADAGRAD_NO_WARN_UNUSED_RESULT before including this header to turn the warning off. */
#if defined(__GNUC__) && !defined(ADAGRAD_NO_WARN_UNUSED_RESULT)
#define ADAGRAD_MUST_CHECK __attribute__((warn_unused_result))
#else
#define ADAGRAD_MUST_CHECK
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Result of every call that can fail. The numeric values are stable. */
typedef enum adagrad_status {
  ADAGRAD_OK = 0,
  /* A buffer pointer is NULL while n > 0. */
  ADAGRAD_ERROR_NULL_POINTER = 1,
  /* A buffer is not aligned to its element size (4 bytes for float, 8 for
   * double). */
  ADAGRAD_ERROR_MISALIGNED = 2,
  /* Two of w, g and G share at least one byte. */
  ADAGRAD_ERROR_OVERLAP = 3,
  /* params is NULL, or lr, eps, weight_decay or lr_decay is NaN, infinite,
   * negative or not representable as a finite value of the element type; or
   * step is 0 while lr_decay != 0; or eps_mode (or a sparse step's
   * adagrad_duplicates) is unknown. adagrad_params_check and the other
   * checks below it say which. */
  ADAGRAD_ERROR_INVALID_PARAMS = 4,
  /* n elements of this type do not fit in the address space. */
  ADAGRAD_ERROR_SIZE_OVERFLOW = 5,
  /* The requested ISA is unknown, not built into this library, or not
   * usable on this CPU and operating system. */
  ADAGRAD_ERROR_UNSUPPORTED_ISA = 6,
  /* Arrays passed to a wrapper that takes sizes (C++ spans, Python arrays)
   * have different lengths. The C functions never return it. */
  ADAGRAD_ERROR_SIZE_MISMATCH = 7,
  /* A sparse step's index is negative or >= num_rows. */
  ADAGRAD_ERROR_INDEX_OUT_OF_RANGE = 8,
  /* A sparse step's workspace is smaller than adagrad_sparse_workspace_size()
   * asks for (or NULL while it asks for more than 0 bytes). */
  ADAGRAD_ERROR_WORKSPACE_TOO_SMALL = 9,
  /* An embedding-bag step's offsets do not describe its bags: offsets[0] is
   * not 0, an offset is smaller than the one before it, or the last one is
   * not the table's num_indices. */
  ADAGRAD_ERROR_INVALID_OFFSETS = 10,
  /* The operating system does not say what was asked
   * (adagrad_table_huge_page_bytes: /proc/self/smaps cannot be read). */
  ADAGRAD_ERROR_UNAVAILABLE = 11
} adagrad_status;

/* Where eps enters the denominator. */
typedef enum adagrad_eps_mode {
  /* sqrt(G) + eps: the seed notebook, PyTorch, TensorFlow ApplyAdagradV2. */
  ADAGRAD_EPS_OUTSIDE_SQRT = 0,
  /* sqrt(G + eps): Keras 3, optax. */
  ADAGRAD_EPS_INSIDE_SQRT = 1
} adagrad_eps_mode;

/* Instruction sets a step can run on: the scalar reference, then one
 * enumerator per entry of adagrad/isa_list.h (which says what each needs).
 * The numeric values are stable; an ISA of the other CPU architecture is
 * simply never supported. */
typedef enum adagrad_isa {
  ADAGRAD_ISA_SCALAR = 0, /* plain C++ reference, every CPU */
#define ADAGRAD_ISA_ENTRY(ENUM, value, name, cpu, features, xsimd_arch) ADAGRAD_ISA_##ENUM = value,
#include "adagrad/isa_list.h"
#undef ADAGRAD_ISA_ENTRY
} adagrad_isa;
/* The enumerators are dense: every value in [0, ADAGRAD_ISA_COUNT) names an
 * ISA (adagrad_isa_name), whether or not this library or CPU can run it.
 * An enumeration constant, counted from the list. */
enum {
  ADAGRAD_ISA_COUNT = 1 /* the scalar reference */
#define ADAGRAD_ISA_ENTRY(ENUM, value, name, cpu, features, xsimd_arch) +1
#include "adagrad/isa_list.h"
#undef ADAGRAD_ISA_ENTRY
};

/* Hyperparameters of one step. Start from adagrad_params_default(). */
typedef struct adagrad_params {
  /* Learning rate; finite, >= 0. Default 0.01. */
  double lr;
  /* Added to the denominator; finite, >= 0. Default 1e-8. */
  double eps;
  /* L2 coefficient: g += weight_decay * w before accumulating; finite, >= 0.
   * Default 0 (the term is then skipped, not multiplied by zero). */
  double weight_decay;
  /* lr_t = lr / (1 + (step - 1) * lr_decay), as torch.optim.Adagrad;
   * finite, >= 0. Default 0 (lr_t = lr). */
  double lr_decay;
  /* 1-based index of this step; read when lr_decay != 0, by dual averaging
   * (its global step t) and by stochastic rounding (part of its key); must
   * then be >= 1 (stochastic rounding takes any value). Default 1. */
  uint64_t step;
  /* Nonzero: ascend (the gradient is negated first). Default 0. */
  int maximize;
  /* Where eps enters the denominator. Default ADAGRAD_EPS_OUTSIDE_SQRT. */
  adagrad_eps_mode eps_mode;
  /* Nonzero: fma mode. G + g * g and g + weight_decay * w become fused
   * multiply-adds (one rounding each), as PyTorch's CPU kernels compute them
   * when its build contracts them; every path still gives the same bits (ISAs
   * without FMA run the scalar reference, which uses fma()). Default 0. */
  int fma;
} adagrad_params;

/* lr 0.01, eps 1e-8, weight_decay 0, lr_decay 0, step 1, maximize 0,
 * eps_mode ADAGRAD_EPS_OUTSIDE_SQRT, fma 0: the seed notebook's defaults. */
ADAGRAD_API adagrad_params adagrad_params_default(void);

/* ---- Which parameter is invalid ------------------------------------------
 *
 * A step says only ADAGRAD_ERROR_INVALID_PARAMS. The check functions below
 * name the parameter it refused: each takes the parameter arguments of a
 * group of steps, applies exactly the rules those steps apply (the element
 * type's range included), and returns the first invalid one in the order
 * listed for it, or ADAGRAD_FIELD_NONE when the steps accept them all. So,
 * its ISA usable, a step returns ADAGRAD_ERROR_INVALID_PARAMS exactly when
 * its check names a field (or, for the 16-bit steps, a dtype is invalid,
 * which no check takes). The checks read only their arguments: they never
 * allocate, print or resolve the ISA, and any thread may call them. */

/* A parameter, or a quantity a step derives from several. The numeric
 * values are stable. */
typedef enum adagrad_field {
  ADAGRAD_FIELD_NONE = 0,           /* every parameter is valid */
  ADAGRAD_FIELD_PARAMS = 1,         /* the adagrad_params pointer is NULL */
  ADAGRAD_FIELD_LR = 2,             /* params.lr */
  ADAGRAD_FIELD_EPS = 3,            /* params.eps */
  ADAGRAD_FIELD_WEIGHT_DECAY = 4,   /* params.weight_decay */
  ADAGRAD_FIELD_LR_DECAY = 5,       /* params.lr_decay */
  ADAGRAD_FIELD_STEP = 6,           /* params.step: 0 while lr_decay != 0, or 0 in dual averaging */
  ADAGRAD_FIELD_EPS_MODE = 7,       /* params.eps_mode: not an adagrad_eps_mode */
  ADAGRAD_FIELD_REGULARIZATION = 8, /* the adagrad_regularization pointer is NULL */
  ADAGRAD_FIELD_L1 = 9,             /* regularization.l1 */
  ADAGRAD_FIELD_L2 = 10,            /* regularization.l2 */
  ADAGRAD_FIELD_DA_THRESHOLD = 11,  /* dual averaging's step * l1: not finite in the type */
  ADAGRAD_FIELD_DA_OFFSET = 12,     /* dual averaging's l2 * step * lr_t: not finite in the type */
  ADAGRAD_FIELD_DUPLICATES = 13,    /* a sparse step's dup: not an adagrad_duplicates */
  ADAGRAD_FIELD_ROUNDING = 14,      /* mixed options' rounding: not an adagrad_rounding */
  ADAGRAD_FIELD_GRAD_SCALE = 15     /* mixed options' grad_scale */
} adagrad_field;

/* "none", "params", "lr", "eps", "weight_decay", "lr_decay", "step",
 * "eps_mode", "regularization", "l1", "l2", "step * l1",
 * "l2 * step * lr_t", "dup", "rounding", "grad_scale" (the C API's names);
 * "unknown" for any other value. The string is static. */
ADAGRAD_API const char* adagrad_field_name(adagrad_field field);

/* The parameters of adagrad_step and every other float step that takes only
 * p (its _isa, _parallel and _multi forms, adagrad_rowwise_step), in this
 * order: p NULL (ADAGRAD_FIELD_PARAMS), lr, eps, weight_decay, lr_decay
 * (each finite, >= 0 and at most FLT_MAX), step (0 while lr_decay != 0),
 * eps_mode. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field adagrad_params_check(const adagrad_params* p);
/* The same for the double steps (adagrad_step_f64 and its forms): the rates
 * at most DBL_MAX. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field adagrad_params_check_f64(const adagrad_params* p);

/* Frameworks' AdaGrad defaults. */
typedef enum adagrad_preset {
  /* The seed notebook: lr 0.01, eps 1e-8 outside the root, accumulator 0. */
  ADAGRAD_PRESET_SEED = 0,
  /* torch.optim.Adagrad: lr 0.01, eps 1e-10 outside the root, accumulator 0
   * (initial_accumulator_value), lr_decay 0. fma stays 0: whether PyTorch's
   * kernels fuse depends on its build (the Python optimizer probes it). */
  ADAGRAD_PRESET_PYTORCH = 1,
  /* Keras 3 (keras.optimizers.Adagrad) and optax.adagrad: eps 1e-7 inside the
   * root, accumulator 0.1, lr 0.001 (Keras's default; optax has none). */
  ADAGRAD_PRESET_KERAS = 2,
  /* TensorFlow's ApplyAdagradV2 (tf.keras.optimizers.legacy.Adagrad in TF 2):
   * lr 0.001, eps 1e-7 outside the root, accumulator 0.1. */
  ADAGRAD_PRESET_TENSORFLOW = 3
} adagrad_preset;

/* The hyperparameters of a preset; an unknown preset gives the seed's. */
ADAGRAD_API adagrad_params adagrad_params_preset(adagrad_preset preset);

/* The value a preset's framework starts the accumulator G at (0 for the seed
 * and PyTorch, 0.1 for Keras, optax and TensorFlow); -1 for an unknown
 * preset. Fill G with it through adagrad_state_init. */
ADAGRAD_API double adagrad_preset_initial_accumulator(adagrad_preset preset);

/* Sets G[0 .. n) to value rounded to the element type. value must be finite
 * and >= 0 (ADAGRAD_ERROR_INVALID_PARAMS otherwise); G NULL with n > 0,
 * misaligned G and size overflow get their usual statuses. Nothing is written
 * on error. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_state_init(float* G, size_t n, double value);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_state_init_f64(double* G, size_t n,
                                                                     double value);

/* One AdaGrad step on n floats, on the best ISA of this CPU (or the one forced
 * by the environment variable ADAGRAD_ISA, see adagrad_active_isa()).
 *   w: weights, updated in place (n floats)
 *   g: gradient, read only (n floats)
 *   G: accumulated squared gradients, updated in place (n floats)
 *   n: number of elements
 *   p: hyperparameters, read only */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step(float* w, const float* g, float* G,
                                                           size_t n, const adagrad_params* p);

/* The same step on doubles; reproduces the seed NumPy code bit for bit. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_f64(double* w, const double* g,
                                                               double* G, size_t n,
                                                               const adagrad_params* p);

/* The same steps on an explicitly chosen ISA (for tests, benchmarks and
 * callers that pin a path). Returns ADAGRAD_ERROR_UNSUPPORTED_ISA, before
 * anything else is checked or written, when isa is unknown, not built into
 * this library or not usable on this CPU. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_isa(adagrad_isa isa, float* w,
                                                               const float* g, float* G, size_t n,
                                                               const adagrad_params* p);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_f64_isa(adagrad_isa isa, double* w,
                                                                   const double* g, double* G,
                                                                   size_t n,
                                                                   const adagrad_params* p);

/* ---- Threads and many tensors -------------------------------------------
 *
 * adagrad_pool is the library's own thread pool. adagrad_pool_create starts
 * its threads and adagrad_pool_destroy joins them; no step ever creates or
 * joins a thread, allocates or sleeps the caller. Every threaded entry point
 * takes an adagrad_pool*: NULL (or a one-thread pool) runs on the calling
 * thread, and small steps (under about 64K elements in all) stay there too.
 *
 * How a step uses the pool, and why it is not pthreadpool: work is split into
 * a few chunks per thread, and the calling thread and the workers take chunks
 * from one counter. The caller never waits for a worker that has not begun:
 * when no chunk is left it waits only for chunks a running worker already
 * took. A worker the OS has descheduled (the machine busy with a data loader
 * or another job) therefore costs nothing; with pthreadpool, whose call waits
 * for every worker to check in, it cost the whole step
 * (bench: dense_step_bench's parallel_under_load rows). Two steps that share
 * a pool at the same time do not queue either: the second runs on its own
 * thread. Workers spin briefly after a step, then sleep until the next.
 *
 * Chunk boundaries fall on cache-line boundaries of w. Every worker runs with
 * the caller's floating-point environment (rounding mode, FTZ/DAZ), restored
 * afterwards, so the results are bitwise identical to the one-thread step for
 * any number of threads, whoever takes which chunk. */
typedef struct adagrad_pool adagrad_pool;

/* The most threads a pool may have. */
#define ADAGRAD_POOL_MAX_THREADS 1024

/* A pool of `threads` threads counting the caller (threads - 1 workers are
 * started; 0 means one per online CPU). NULL when threads exceeds
 * ADAGRAD_POOL_MAX_THREADS or the threads cannot be created. */
ADAGRAD_API adagrad_pool* adagrad_pool_create(size_t threads);
/* Stops and joins the workers and frees the pool. NULL is a no-op. Not to be
 * called while a step runs on the pool. */
ADAGRAD_API void adagrad_pool_destroy(adagrad_pool* pool);
/* The threads a step on pool may use, the caller counted: 1 for NULL. */
ADAGRAD_API size_t adagrad_pool_threads(const adagrad_pool* pool);

/* adagrad_step (adagrad_step_f64) spread over pool. Same contract, same
 * statuses, same results. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_parallel(adagrad_pool* pool,
                                                                    float* w, const float* g,
                                                                    float* G, size_t n,
                                                                    const adagrad_params* p);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_parallel_f64(adagrad_pool* pool,
                                                                        double* w, const double* g,
                                                                        double* G, size_t n,
                                                                        const adagrad_params* p);

/* One parameter tensor of a model: its weights, gradient and accumulator. */
typedef struct adagrad_tensor {
  float* w;       /* n weights, updated in place */
  const float* g; /* n gradient values, read only */
  float* G;       /* n accumulated squared gradients, updated in place */
  size_t n;       /* elements; 0 is allowed (the pointers may then be NULL) */
} adagrad_tensor;

typedef struct adagrad_tensor_f64 {
  double* w;
  const double* g;
  double* G;
  size_t n;
} adagrad_tensor_f64;

/* One step of every tensor in tensors[0 .. count), with the same
 * hyperparameters, balanced across pool by elements (not by tensor). Each
 * tensor is checked as adagrad_step checks its buffers, and no buffer that is
 * written (any w or G) may share a byte with any other buffer of any tensor
 * (gradients may be shared), nor with the tensors[] array itself, which is
 * read while the steps write (ADAGRAD_ERROR_OVERLAP). Everything is validated
 * before the first write: on any error no tensor changes. tensors may be NULL
 * only when count == 0.
 * The result is bitwise identical to calling adagrad_step on each tensor. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_multi(const adagrad_tensor* tensors,
                                                                 size_t count,
                                                                 const adagrad_params* p,
                                                                 adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_step_multi_f64(const adagrad_tensor_f64* tensors, size_t count, const adagrad_params* p,
                       adagrad_pool* pool);

/* ---- Embedding tables: sparse and row-wise steps (float) ----------------
 *
 * A table is num_rows x dim floats, row-major. A batch names num_indices rows
 * (int64_t or int32_t indices, in [0, num_rows)) with one gradient row each:
 * grads is num_indices x dim floats, row k belonging to indices[k].
 *
 * Per-element state (adagrad_sparse_step): state is num_rows x dim floats and
 * each updated row goes through exactly the dense step of adagrad_step, with
 * the same hyperparameters, order and bits.
 *
 * Row-wise state (adagrad_rowwise_*): one accumulator per row (state has
 * num_rows floats), as FBGEMM, Caffe2 and TorchRec define row-wise AdaGrad.
 * For a row w[0 .. dim) with gradient g[0 .. dim) and accumulator G:
 *   1. g'_j = -g_j if maximize; then g'_j = g'_j + weight_decay * w_j if
 *      weight_decay != 0 (fma mode: fma(weight_decay, w_j, g'_j))
 *   2. s = the sum of g'_j * g'_j in the canonical order: sixteen partial
 *      sums, partial[j % 16] = partial[j % 16] + g'_j * g'_j (fma mode:
 *      fma(g'_j, g'_j, partial[j % 16])) for j = 0, 1, ..., dim - 1, all
 *      starting at +0; then the fixed tree partial[k] += partial[k + 8]
 *      (k < 8), partial[k] += partial[k + 4] (k < 4), partial[k] +=
 *      partial[k + 2] (k < 2), s = partial[0] + partial[1]
 *   3. G = G + s / dim                      (dim rounded to float)
 *   4. r = lr_t / (sqrt(G) + eps)           (eps inside: lr_t / sqrt(G + eps))
 *   5. w_j = w_j - r * g'_j
 * Every ISA follows this order, so results do not depend on the vector width.
 *
 * Duplicates: an index that occurs more than once in a batch is handled as
 * dup says. ADAGRAD_DUPLICATES_SUM sums its gradient rows in batch order
 * (((g_a + g_b) + g_c) ...) and updates the row once with the sum, as
 * TorchRec's exact modes do (PyTorch's coalesce() sums in another order,
 * ADAGRAD_DUPLICATES_TORCH's); with one occurrence the "sum" is the
 * gradient row itself. ADAGRAD_DUPLICATES_SEQUENTIAL applies the
 * step once per occurrence, in batch order, as FBGEMM and TensorFlow do.
 * ADAGRAD_DUPLICATES_TORCH is torch.optim.Adagrad's step of a sparse gradient
 * (PyTorch 1.13 on the CPU), below. Rows not named in the batch are not
 * touched (no weight decay, no accumulation).
 *
 * ADAGRAD_DUPLICATES_TORCH, in two parts:
 *  - The sum of a row's occurrences is taken in the order PyTorch's CPU
 *    coalesce() adds them: the order in which std::sort, as libstdc++
 *    implements it (introsort: median of three, unguarded partition, a heap
 *    sort below depth 2 * floor(log2(num_indices)), insertion sort of runs of
 *    16), leaves the pairs (index, position in the batch) when it compares
 *    indices only; the first occurrence in that order starts the sum and
 *    each next one is added to it. That is torch.sort(stable=False), which
 *    coalesce() calls. The library carries its own transcription of that
 *    algorithm, so the order does not depend on the C++ library it is built
 *    with. With at most two occurrences of a row the order does not matter
 *    (a + b == b + a); with three or more it changes the last bits.
 *  - Per-element state (adagrad_sparse_step): each named row is then updated
 *    in the order of torch's sparse path, not in step 4 of the dense order:
 *      1. g = -g                          if maximize
 *         g = g + (weight_decay * w)      if weight_decay != 0 (torch refuses
 *                                         weight decay with a sparse gradient;
 *                                         fma mode: fused, as the dense step)
 *      2. G = G + g * g                   never fused: torch squares (pow) and
 *                                         adds in two operations
 *      3. d = sqrt(G) + eps               (eps inside: sqrt(G + eps))
 *      4. q = g / d
 *         w = w + (-lr_t) * q             (fma mode: w = fma(-lr_t, q, w), as
 *                                         torch's add_(..., alpha=-lr_t) is on
 *                                         CPUs where its kernels use FMA)
 *    The row-wise and composite sparse steps take only the summation order
 *    from it; their update stays as documented for them.
 *
 * Threads: the rows of a batch are spread over pool (NULL: the calling
 * thread); each row is updated by one thread, in batch order, so the results
 * are bitwise identical for any number of threads. Small batches stay on the
 * calling thread.
 *
 * Buffers: table, state, grads, indices and workspace are checked like the
 * dense step's buffers. A buffer may be NULL exactly when it holds 0 bytes.
 * The written buffers (table, state, workspace) may not share a byte with any
 * other buffer; grads and indices are only read. The workspace needs no
 * particular alignment; its contents are scratch, unspecified after the call.
 *
 * Checks, the first failure returned: the ISA (for the _isa variants), the
 * parameters and dup (ADAGRAD_ERROR_INVALID_PARAMS), the sizes, the pointers,
 * the alignment, the overlap, the workspace size, then every index. All of
 * them run before the first write: on any error not one byte of table or state
 * changes (nor of the workspace, which is written only after every check). num_indices == 0 is a
 * valid no-op once the parameters and sizes are checked (the buffers are then not looked at); so is
 * dim == 0 once everything, the indices included, is checked. */

/* How a sparse step treats an index that occurs more than once. */
typedef enum adagrad_duplicates {
  /* Sum the occurrences' gradients in batch order, then update once. */
  ADAGRAD_DUPLICATES_SUM = 0,
  /* Update once per occurrence, in batch order. */
  ADAGRAD_DUPLICATES_SEQUENTIAL = 1,
  /* As torch.optim.Adagrad steps a sparse gradient (see above): summed in
   * the order PyTorch's coalesce() sums, and per-element rows updated in
   * the order of torch's sparse path. */
  ADAGRAD_DUPLICATES_TORCH = 2
} adagrad_duplicates;

/* The parameters of adagrad_sparse_step and adagrad_rowwise_sparse_step (and
 * their _i32 and _isa forms), in this order: p as adagrad_params_check,
 * then dup (ADAGRAD_FIELD_DUPLICATES). The sparse composite steps check p
 * and r as adagrad_proximal_params_check and adagrad_da_params_check, then
 * dup as this does. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field adagrad_sparse_params_check(const adagrad_params* p,
                                                                         adagrad_duplicates dup);

/* Bytes of workspace a sparse step with this batch needs (for either kind of
 * state and either index type); 0 when num_indices == 0. The library never
 * allocates: the caller provides this much scratch memory, of any alignment,
 * and may reuse it for every step of at most num_indices indices. dim and
 * dup are part of the contract; today the size depends on num_indices only.
 * SIZE_MAX when the size does not fit in size_t. */
ADAGRAD_API size_t adagrad_sparse_workspace_size(size_t num_indices, size_t dim,
                                                 adagrad_duplicates dup);

/* One AdaGrad step of the rows of table named by indices, with per-element
 * state (num_rows x dim floats).
 *   table:       num_rows x dim weights, the named rows updated in place
 *   state:       num_rows x dim accumulators, the named rows updated in place
 *   indices:     num_indices row numbers, read only
 *   grads:       num_indices x dim gradients, read only
 *   p:           hyperparameters, as for adagrad_step
 *   dup:         what a repeated index means
 *   workspace:   workspace_size bytes of scratch
 *   pool:        adagrad_pool to spread the rows over, or NULL */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_step(
    float* table, float* state, size_t num_rows, size_t dim, const int64_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p, adagrad_duplicates dup,
    void* workspace, size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_step_i32(
    float* table, float* state, size_t num_rows, size_t dim, const int32_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p, adagrad_duplicates dup,
    void* workspace, size_t workspace_size, adagrad_pool* pool);

/* The same with row-wise state: state holds num_rows floats. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_sparse_step(
    float* table, float* state, size_t num_rows, size_t dim, const int64_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p, adagrad_duplicates dup,
    void* workspace, size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_sparse_step_i32(
    float* table, float* state, size_t num_rows, size_t dim, const int32_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p, adagrad_duplicates dup,
    void* workspace, size_t workspace_size, adagrad_pool* pool);

/* Row-wise AdaGrad for a dense gradient: w and g are rows x dim floats,
 * row_state holds rows floats (one accumulator per row). Every row is
 * updated as described above. w, g and row_state may not overlap. Checks as
 * for adagrad_step; rows == 0 or dim == 0 is a valid no-op once the
 * parameters and sizes are checked. Rows are spread over pool. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_step(float* w, const float* g,
                                                                   float* row_state, size_t rows,
                                                                   size_t dim,
                                                                   const adagrad_params* p,
                                                                   adagrad_pool* pool);

/* The three steps above on an explicitly chosen ISA (tests, benchmarks,
 * pinned callers); ADAGRAD_ERROR_UNSUPPORTED_ISA first when isa is not
 * usable. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_step_isa(
    adagrad_isa isa, float* table, float* state, size_t num_rows, size_t dim,
    const int64_t* indices, size_t num_indices, const float* grads, const adagrad_params* p,
    adagrad_duplicates dup, void* workspace, size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_sparse_step_isa(
    adagrad_isa isa, float* table, float* state, size_t num_rows, size_t dim,
    const int64_t* indices, size_t num_indices, const float* grads, const adagrad_params* p,
    adagrad_duplicates dup, void* workspace, size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_rowwise_step_isa(adagrad_isa isa, float* w, const float* g, float* row_state, size_t rows,
                         size_t dim, const adagrad_params* p, adagrad_pool* pool);

/* ---- Embedding bags: the backward pass fused with the step -------------
 *
 * nn.EmbeddingBag and FBGEMM's table-batched embeddings pool bags of rows. A
 * batch has num_bags bags per table; bag b of a table holds the occurrences
 * q in [offsets[b], offsets[b + 1]) and its output is the sum
 * (ADAGRAD_POOLING_SUM) or the mean (ADAGRAD_POOLING_MEAN) of the rows
 * indices[q], each multiplied by per_sample_weights[q] when weights are given.
 * The backward pass of that lookup gives occurrence q of bag b the gradient row
 *   g_q[j] = s_q * grad_output[b][j]           (j < dim; one float product)
 * with the scale s_q:
 *   SUM, no weights:  none: g_q = grad_output[b] as it is (no product)
 *   SUM, weights:     s_q = per_sample_weights[q]
 *   MEAN:             s_q = (float)(x_q / L_b), x_q = per_sample_weights[q]
 *                     (1 without weights), L_b = offsets[b + 1] - offsets[b]:
 *                     the division in double, rounded once to float, as
 *                     PyTorch's embedding_bag backward forms its scale.
 *                     (PyTorch refuses weights with MEAN; this library takes
 *                     them, with this definition.)
 * Every row named in a table's batch is then updated exactly once, with the
 * sum of its occurrences' g_q in batch order (((g_a + g_b) + g_c) ...; a lone
 * occurrence's g_q as it is): the per-element step of adagrad_sparse_step
 * (adagrad_embedding_bag_step) or the row-wise step of
 * adagrad_rowwise_sparse_step (adagrad_rowwise_embedding_bag_step), with the
 * table's hyperparameters. The results are bitwise identical to writing out
 * g_q for q = 0 .. num_indices - 1 as a num_indices x dim gradient and calling
 * that sparse step with ADAGRAD_DUPLICATES_SUM: on every ISA, for any number
 * of threads. The fused step never writes that gradient: each touched row is
 * read and written once. Rows not named are not touched.
 *
 * Bags (CSR, FBGEMM's layout): offsets holds num_bags + 1 entries, offsets[0]
 * == 0, nondecreasing, offsets[num_bags] == num_indices. This is PyTorch's
 * include_last_offset=True; its default offsets are the first num_bags of
 * these (append num_indices). An empty bag (equal neighbours) contributes
 * nothing. Indices and offsets of every table are int64_t or int32_t, as
 * index_type says.
 *
 * Tables: tables[0 .. num_tables), each with its own rows, dim, weights,
 * state, hyperparameters, pooling and batch; every table has num_bags bags.
 * Tables are updated one after the other, in order, each table's rows spread
 * over pool as the sparse steps spread theirs.
 *
 * Options (FBGEMM's weight decay modes, max_norm, gradient clipping): see
 * "Optimizer options of the embedding-bag steps" below; the defaults (a
 * NULL options) give the results just described.
 *
 * Buffers: every table's weights and state (and COUNTER's counter and
 * counter_step) and the workspace are written;
 * none of them may share a byte with any other buffer of any table, with the
 * tables array, with p or with a table's params or options (ADAGRAD_ERROR_OVERLAP; the
 * check compares every pair, so it costs num_tables squared). The read-only
 * buffers may overlap each other. grad_output may be strided (FBGEMM's
 * num_bags x sum(dim) layout: point each table at its columns). A buffer may
 * be NULL exactly when it holds 0 bytes (offsets: when num_bags == 0);
 * per_sample_weights may be NULL (no weights). Float buffers must be 4-byte
 * aligned, indices and offsets aligned to their type; the workspace needs no
 * alignment and its contents are unspecified after the call.
 *
 * Checks, the first failure returned: the ISA (for the _isa variants); the
 * parameters (ADAGRAD_ERROR_INVALID_PARAMS: p as adagrad_params_check, an
 * unknown index_type; then tables NULL while num_tables > 0, which is
 * ADAGRAD_ERROR_NULL_POINTER; then each table's params when not NULL, its
 * pooling and its options); the sizes (ADAGRAD_ERROR_SIZE_OVERFLOW); the
 * pointers; the alignment; the overlaps; the workspace size; then each
 * table's offsets (ADAGRAD_ERROR_INVALID_OFFSETS); then each table's
 * indices (ADAGRAD_ERROR_INDEX_OUT_OF_RANGE). Each check runs over every table before
 * the next check starts. All of them run before the first write: on any
 * error not one byte of any table, state or the workspace changes.
 * num_tables == 0 is a valid no-op once p and index_type are checked; a
 * table without indices is left alone; dim == 0 is a no-op once everything,
 * the indices included, is checked. */

/* ---- Optimizer options of the embedding-bag steps ------------------------
 *
 * FBGEMM's table-batched embeddings offer these around the AdaGrad step; a
 * table takes them through its options (NULL: the defaults, which change
 * nothing). With the defaults the fused step is the sparse step on the
 * materialised gradient, as said above; any other option changes the row's
 * update as follows. For one touched row, with g its summed gradient (as
 * above), w its weights and t = p->step (the iteration), in this order, every
 * operation one IEEE-754 operation in float, every hyperparameter rounded
 * once to float (products of two hyperparameters formed in double first):
 *   1. Gradient clipping (max_gradient > 0), m = max_gradient:
 *        g_j = (g_j > m) ? m : ((g_j < -m) ? -m : g_j)   (a NaN stays NaN)
 *   2. Weight decay, by weight_decay_mode, with wd = p->weight_decay:
 *      ADAGRAD_WEIGHT_DECAY_L2 (the default): as every step of this library,
 *        g'_j = g_j + wd * w_j inside the step (step 1 of the contract).
 *      ADAGRAD_WEIGHT_DECAY_DECOUPLE (wd != 0): before the step, once per
 *        touched row, w_j = w_j - d * w_j, d = lr_t * wd (double, rounded
 *        once); the step itself then adds no decay term. FBGEMM's
 *        DECOUPLE and AdamW's decoupled decay.
 *      ADAGRAD_WEIGHT_DECAY_COUNTER (wd != 0): FBGEMM's counter-based
 *        decay, scaled by how rarely the row is seen. Per table, counter
 *        (num_rows floats, start at 0) and counter_step (num_rows int64_t,
 *        start at 0: never updated) are state. With c = counter[r] and
 *        s = counter_step[r]:
 *          k = t - s if 0 < s < t; k = 0 if s >= t; k = 1 if s <= 0
 *          a = counter_decay^k, in double, by binary powering: a = 1,
 *              b = counter_decay; for each bit of k from the lowest:
 *              a = a * b if the bit is set, then b = b * b
 *          c = 1 + (float)a * c;  counter[r] = c;  counter_step[r] = t
 *          f = h / c                      (h = counter_halflife)
 *          w_j = w_j - (f * d) * w_j      (d as DECOUPLE; f * d one product)
 *        then the step without a decay term. counter_decay is the factor a
 *        count fades by per iteration: 2^(-1 / counter_halflife) for
 *        FBGEMM's counter (it computes expf(-log(2) / halflife)); 1 counts
 *        every update; 0 only the last. The caller supplies it, so that the
 *        library computes no exponential (none is correctly rounded).
 *   3. The AdaGrad step of the row (per-element or row-wise), with g.
 *   4. max_norm (> 0), M = max_norm: the row's sum of squares
 *        q = sum of w_j * w_j over j < dim, in the row-wise reduction's
 *        canonical order (sixteen partial sums and the fixed tree, see
 *        "Embedding tables"), n = sqrt(q); if n > M:
 *        w_j = w_j * (M / n)     (M / n one division, then one product each)
 *      as FBGEMM renormalises (PyTorch's nn.Embedding(max_norm) also adds
 *      1e-7 to n; this does not).
 * Every ISA gives the scalar path's bits, for any number of threads. Steps
 * 1, 2 and 4 run in the shared driver (element-wise, or the row-wise
 * reduction ukernel), so they never depend on the vector width.
 * Checks (with the table's parameters, ADAGRAD_ERROR_INVALID_PARAMS): an
 * unknown weight_decay_mode; max_norm and max_gradient NaN, negative or
 * above FLT_MAX; DECOUPLE or COUNTER with lr_t * wd above FLT_MAX; COUNTER
 * with counter_halflife not in (0, FLT_MAX], counter_decay not in [0, 1], or
 * p->step 0 or above INT64_MAX (counter_step holds it). COUNTER's counter
 * and counter_step are buffers as the state is: NULL (with num_rows > 0),
 * misaligned and overlapping ones get their statuses; other modes ignore
 * them. */

/* How an embedding-bag step applies p->weight_decay. */
typedef enum adagrad_weight_decay_mode {
  ADAGRAD_WEIGHT_DECAY_L2 = 0,       /* coupled: g += wd * w (every step's) */
  ADAGRAD_WEIGHT_DECAY_DECOUPLE = 1, /* w -= lr_t * wd * w, once per touched row */
  ADAGRAD_WEIGHT_DECAY_COUNTER = 2   /* DECOUPLE scaled by halflife / row counter */
} adagrad_weight_decay_mode;

/* FBGEMM's optimizer options, per table. Start from
 * adagrad_embedding_options_default(). */
typedef struct adagrad_embedding_options {
  adagrad_weight_decay_mode weight_decay_mode; /* default L2 */
  double counter_halflife; /* COUNTER: h, the numerator of the row's frequency; default 0 */
  double counter_decay;    /* COUNTER: per-iteration fade of a row's count, in [0, 1];
                            * default 1 */
  double max_norm;         /* > 0: renormalise rows longer than it; 0 (default): off */
  double max_gradient;     /* > 0: clamp each summed gradient element to it; 0: off */
} adagrad_embedding_options;

/* L2 weight decay, counter_halflife 0, counter_decay 1, max_norm 0,
 * max_gradient 0: the options that change nothing. */
ADAGRAD_API adagrad_embedding_options adagrad_embedding_options_default(void);

/* How a bag's output pools its rows. */
typedef enum adagrad_pooling {
  ADAGRAD_POOLING_SUM = 0,  /* the (weighted) sum of the rows */
  ADAGRAD_POOLING_MEAN = 1  /* the (weighted) sum divided by the bag's length */
} adagrad_pooling;

/* The integer type of an embedding-bag batch's indices and offsets. */
typedef enum adagrad_index_type {
  ADAGRAD_INDEX_INT64 = 0, /* int64_t (PyTorch's default) */
  ADAGRAD_INDEX_INT32 = 1  /* int32_t */
} adagrad_index_type;

/* One table of an embedding-bag step and its part of the batch. */
typedef struct adagrad_embedding_table {
  float* weights;               /* num_rows x dim, row-major; named rows updated in place */
  float* state;                 /* accumulators: num_rows x dim (per-element) or num_rows
                                 * (row-wise); named rows updated in place */
  size_t num_rows;              /* rows of the table */
  size_t dim;                   /* floats per row */
  const adagrad_params* params; /* this table's hyperparameters; NULL: the call's p */
  adagrad_pooling pooling;      /* SUM or MEAN */
  const void* indices;          /* num_indices row numbers, int64_t or int32_t */
  const void* offsets;          /* num_bags + 1 bag boundaries, of the same type */
  size_t num_indices;           /* occurrences in this table's bags */
  const float* per_sample_weights; /* num_indices weights, or NULL for none */
  const float* grad_output;     /* bag b's gradient: dim floats at grad_output +
                                 * b * grad_output_stride, read only */
  size_t grad_output_stride;    /* floats from one bag's row to the next; 0 means dim */
  const adagrad_embedding_options* options; /* NULL: the defaults */
  float* counter;               /* COUNTER: num_rows row counters, updated; else unused */
  int64_t* counter_step;        /* COUNTER: num_rows last update steps, updated; else unused */
} adagrad_embedding_table;

/* Bytes of workspace an embedding-bag step needs when no table has more than
 * max_table_indices indices and there are num_bags bags (either kind of
 * state, either index type): the tables run one after the other and reuse
 * it. 0 when max_table_indices == 0; SIZE_MAX when it does not fit in
 * size_t. The library never allocates: the caller provides this much scratch
 * memory, of any alignment, and may reuse it for every such step. */
ADAGRAD_API size_t adagrad_embedding_bag_workspace_size(size_t max_table_indices,
                                                        size_t num_bags);

/* The embedding-bag backward pass and the AdaGrad step of every table in one
 * call, as described above, with per-element state (the family of
 * adagrad_sparse_step) or row-wise state (the family of
 * adagrad_rowwise_sparse_step).
 *   tables:      num_tables table descriptors, read only
 *   num_bags:    bags per table (the batch size)
 *   index_type:  the type of every table's indices and offsets
 *   p:           hyperparameters of every table whose params is NULL; not NULL
 *   workspace:   workspace_size bytes of scratch
 *   pool:        adagrad_pool to spread each table's rows over, or NULL */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_embedding_bag_step(
    const adagrad_embedding_table* tables, size_t num_tables, size_t num_bags,
    adagrad_index_type index_type, const adagrad_params* p, void* workspace,
    size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_embedding_bag_step(
    const adagrad_embedding_table* tables, size_t num_tables, size_t num_bags,
    adagrad_index_type index_type, const adagrad_params* p, void* workspace,
    size_t workspace_size, adagrad_pool* pool);

/* The same on an explicitly chosen ISA (tests, benchmarks, pinned callers);
 * ADAGRAD_ERROR_UNSUPPORTED_ISA first when isa is not usable. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_embedding_bag_step_isa(
    adagrad_isa isa, const adagrad_embedding_table* tables, size_t num_tables, size_t num_bags,
    adagrad_index_type index_type, const adagrad_params* p, void* workspace,
    size_t workspace_size, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_rowwise_embedding_bag_step_isa(
    adagrad_isa isa, const adagrad_embedding_table* tables, size_t num_tables, size_t num_bags,
    adagrad_index_type index_type, const adagrad_params* p, void* workspace,
    size_t workspace_size, adagrad_pool* pool);

/* ---- Memory for tables and states (outside the step path) --------------
 *
 * Embedding tables are scattered reads and writes over gigabytes: with 4 KiB
 * pages nearly every row costs a page walk that misses the caches, which a
 * busy neighbour (data loading, other ranks) makes expensive. Transparent
 * huge pages (2 MiB) take that away, but Linux's default THP setting
 * ("madvise") gives them only to memory that asks before it is first
 * touched. These helpers allocate such memory; the steps take any memory.
 *
 * adagrad_table_alloc(bytes): bytes rounded up to a multiple of 2 MiB, an
 * anonymous private mapping whose start is 2 MiB aligned, advised
 * MADV_HUGEPAGE before anything touches it, zero-filled (pages are only
 * backed when first written). Where the kernel has no THP (madvise fails) or
 * THP is off, the memory simply comes in 4 KiB pages: the call succeeds all
 * the same. NULL when bytes == 0 or the mapping fails. Whether huge pages
 * were obtained is known only once the memory is touched:
 * adagrad_table_huge_page_bytes says. Thread-safe; not for the step path (it
 * makes system calls). */
ADAGRAD_API void* adagrad_table_alloc(size_t bytes);

/* Frees memory from adagrad_table_alloc (the whole mapping); NULL is a no-op.
 * Any other pointer is undefined behaviour (a pointer without the
 * allocation's header is ignored where that can be seen). */
ADAGRAD_API void adagrad_table_free(void* p);

/* Into *huge_bytes: the bytes of transparent huge pages (AnonHugePages in
 * /proc/self/smaps) of the mappings that overlap [p, p + bytes). Memory from
 * adagrad_table_alloc is a mapping of its own, so for it this is exactly its
 * huge-page memory; any other range counts the whole mappings it touches.
 * ADAGRAD_ERROR_NULL_POINTER when p or huge_bytes is NULL,
 * ADAGRAD_ERROR_UNAVAILABLE when /proc/self/smaps cannot be read (not
 * Linux, /proc hidden); *huge_bytes is written only on ADAGRAD_OK. Reads a
 * file: not for the step path. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_table_huge_page_bytes(const void* p,
                                                                            size_t bytes,
                                                                            size_t* huge_bytes);

/* ---- Composite objectives: proximal AdaGrad and AdaGrad dual averaging --
 *
 * Loss plus an L1/L2 regularizer, as the AdaGrad paper (Duchi, Hazan and
 * Singer, 2011) defines it through composite mirror descent (proximal) and
 * regularized dual averaging (DA); TensorFlow's ApplyProximalAdagrad and
 * ApplyAdagradDA. With l1 > 0 both produce exact zeros.
 *
 * Per element, g' is the gradient after maximize and weight decay exactly as
 * in the dense step (step 1 of the contract at the top), and in fma mode
 * G + g' * g' is fused, as there. With d = sqrt(G) + eps (eps inside:
 * sqrt(G + eps)), every operation one IEEE operation in the element type:
 *
 * Proximal (adagrad_proximal_step), state G:
 *   G = G + g' * g';  r = lr_t / d;  v = w - r * g'
 *   l1 > 0:  m = |v| - r * l1;  m = (m < 0) ? 0 : m;  u = copysign(m, v)
 *   l1 == 0: u = v
 *   w = u / (1 + r * l2)              (skipped when l2 == 0: u / 1 == u)
 * With eps = 0 this is TensorFlow's ApplyProximalAdagrad, except that
 * TensorFlow forms r as lr * rsqrt(G) (a reciprocal square root and a
 * product) where this library divides once: lr / sqrt(G).
 *
 * Dual averaging (adagrad_da_step), states z (sum of gradients) and G, and
 * the global step t = p->step (>= 1; lr_decay, when set, uses the same t):
 *   z = z + g';  G = G + g' * g'
 *   l1 > 0:  m = |z| - c1;  m = (m < 0) ? 0 : m;  u = copysign(m, z)
 *   l1 == 0: u = z
 *   w = ((-lr_t) * u) / (c2 + d)
 * where c1 = t * l1 and c2 = l2 * t * lr_t are computed in double and rounded
 * once to the element type. With eps = 0 this is TensorFlow's ApplyAdagradDA
 * (which forms c1 and c2 in the element type). w is read only for weight
 * decay (g' = g + weight_decay * w); otherwise it is only written. A zero
 * weight takes the sign opposite to z's (the product with -lr_t).
 *
 * A NaN in the data stays NaN (m < 0 is false for NaN); copysign takes the
 * sign bit of v (or z), so a negative v that shrinks to zero gives -0.
 *
 * Checks as for adagrad_step, plus: r (the regularization) not NULL, l1 and
 * l2 finite, >= 0 and representable in the element type
 * (ADAGRAD_ERROR_INVALID_PARAMS); for DA, p->step >= 1 and t * l1 and
 * l2 * t * lr_t finite in the element type. No buffer may overlap another. */

/* The regularization of a composite step. */
typedef struct adagrad_regularization {
  double l1; /* L1 strength, >= 0: drives small weights to exactly 0 */
  double l2; /* L2 strength, >= 0 */
} adagrad_regularization;

/* The parameters of adagrad_proximal_step (and its _isa form), in this
 * order: p as adagrad_params_check, r NULL (ADAGRAD_FIELD_REGULARIZATION),
 * l1, l2 (each finite, >= 0 and at most FLT_MAX). _f64: the double steps'. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field
adagrad_proximal_params_check(const adagrad_params* p, const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field
adagrad_proximal_params_check_f64(const adagrad_params* p, const adagrad_regularization* r);
/* The parameters of adagrad_da_step (and its _isa form): those of
 * adagrad_proximal_params_check, then step 0 (ADAGRAD_FIELD_STEP), then
 * step * l1 (ADAGRAD_FIELD_DA_THRESHOLD) and l2 * step * lr_t
 * (ADAGRAD_FIELD_DA_OFFSET) not finite in float. _f64: in double. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field
adagrad_da_params_check(const adagrad_params* p, const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field
adagrad_da_params_check_f64(const adagrad_params* p, const adagrad_regularization* r);

ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_proximal_step(float* w, const float* g, float* G, size_t n, const adagrad_params* p,
                      const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_proximal_step_f64(double* w, const double* g, double* G, size_t n, const adagrad_params* p,
                          const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_da_step(float* w, const float* g, float* z,
                                                              float* G, size_t n,
                                                              const adagrad_params* p,
                                                              const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_da_step_f64(double* w, const double* g,
                                                                  double* z, double* G, size_t n,
                                                                  const adagrad_params* p,
                                                                  const adagrad_regularization* r);

/* The same on an explicitly chosen ISA. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_proximal_step_isa(adagrad_isa isa, float* w, const float* g, float* G, size_t n,
                          const adagrad_params* p, const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_proximal_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* G, size_t n,
                              const adagrad_params* p, const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_da_step_isa(adagrad_isa isa, float* w,
                                                                  const float* g, float* z,
                                                                  float* G, size_t n,
                                                                  const adagrad_params* p,
                                                                  const adagrad_regularization* r);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_da_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* z, double* G, size_t n,
                        const adagrad_params* p, const adagrad_regularization* r);

/* Sparse, lazy variants for float embedding tables: only the rows named in
 * the batch are updated (as TensorFlow's SparseApplyProximalAdagrad and
 * SparseApplyAdagradDA), each row with the dense composite step above.
 * Batches, duplicates, workspace, threads and checks as for
 * adagrad_sparse_step; the DA step takes two num_rows x dim states (z and G)
 * and uses p->step as the global step of every row. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_proximal_step(
    float* table, float* state, size_t num_rows, size_t dim, const int64_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p,
    const adagrad_regularization* r, adagrad_duplicates dup, void* workspace, size_t workspace_size,
    adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_da_step(
    float* table, float* z, float* G, size_t num_rows, size_t dim, const int64_t* indices,
    size_t num_indices, const float* grads, const adagrad_params* p,
    const adagrad_regularization* r, adagrad_duplicates dup, void* workspace, size_t workspace_size,
    adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_proximal_step_isa(
    adagrad_isa isa, float* table, float* state, size_t num_rows, size_t dim,
    const int64_t* indices, size_t num_indices, const float* grads, const adagrad_params* p,
    const adagrad_regularization* r, adagrad_duplicates dup, void* workspace, size_t workspace_size,
    adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_sparse_da_step_isa(
    adagrad_isa isa, float* table, float* z, float* G, size_t num_rows, size_t dim,
    const int64_t* indices, size_t num_indices, const float* grads, const adagrad_params* p,
    const adagrad_regularization* r, adagrad_duplicates dup, void* workspace, size_t workspace_size,
    adagrad_pool* pool);

/* ---- Mixed precision: bf16 and fp16 weights and gradients, f32 state ----
 *
 * 16-bit values travel as uint16_t bit patterns: bfloat16 (the upper half of
 * a float) or IEEE binary16 ("fp16"). All arithmetic is float, in the order
 * of the dense step, with every hyperparameter rounded to float (never to 16
 * bits). Per element:
 *   g = float(g16)                           (exact; or g as is when f32; a
 *                                            binary16 NaN comes out quiet, a
 *                                            bfloat16 one as it is: the bits
 *                                            shifted)
 *   g = g / grad_scale                       if grad_scale != 1 (AMP: one IEEE
 *                                            division, as PyTorch's fused
 *                                            optimizers unscale)
 *   w = float(w16)                           (exact)
 *   the dense step on (w, g, G), as adagrad_step
 *   w16 = round16(w)                         (nearest-even or stochastic)
 * round16 to nearest-even keeps subnormals, overflows to infinity and turns a
 * NaN into a quiet NaN with its sign and upper payload. Stochastic rounding
 * rounds away from zero with probability (|w| - |truncated|) / ulp, drawing
 * its random bits from a counter-based generator keyed by (seed, p->step,
 * element index), so the result does not depend on the ISA or the number of
 * threads: the scalar reference's bits on every path. The index is the
 * element's position in this call's arrays (0 .. n - 1): a tensor stepped in
 * several calls draws other bits than in one call, and tensors stepped with
 * the same seed and step draw the same bits at the same positions.
 *
 * found_inf (AMP): when not NULL and *found_inf != 0, the step returns
 * ADAGRAD_OK without writing anything (as PyTorch skips a step whose
 * gradients overflowed). */

typedef enum adagrad_dtype {
  ADAGRAD_DTYPE_F32 = 0,  /* float */
  ADAGRAD_DTYPE_BF16 = 1, /* bfloat16, as uint16_t */
  ADAGRAD_DTYPE_F16 = 2   /* IEEE binary16, as uint16_t */
} adagrad_dtype;

typedef enum adagrad_rounding {
  ADAGRAD_ROUND_NEAREST_EVEN = 0,
  ADAGRAD_ROUND_STOCHASTIC = 1
} adagrad_rounding;

/* Options of the mixed-precision steps; NULL means all defaults. */
typedef struct adagrad_mixed_options {
  adagrad_rounding rounding; /* how the new 16-bit weight is rounded; default nearest-even */
  uint64_t seed;             /* stochastic rounding's key (with p->step); default 0 */
  double grad_scale;         /* gradients are divided by it (skipped when exactly 1); finite,
                              * > 0, and neither 0 nor infinite once rounded to float;
                              * default 1 */
  const float* found_inf;    /* AMP flag: nonzero means skip the step; default NULL */
} adagrad_mixed_options;

/* Nearest-even rounding, grad_scale 1, seed 0, found_inf NULL. */
ADAGRAD_API adagrad_mixed_options adagrad_mixed_options_default(void);

/* The parameters of adagrad_step_mixed and adagrad_step_master (and their
 * _isa forms), in this order: p as adagrad_params_check, then o (NULL: the
 * defaults, valid): rounding (ADAGRAD_FIELD_ROUNDING), grad_scale
 * (ADAGRAD_FIELD_GRAD_SCALE). The steps' dtypes are checked besides: an
 * unknown one, or a 16-bit step's w_type or a copy_type (with w_copy) that
 * is not 16-bit, is ADAGRAD_ERROR_INVALID_PARAMS too. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_field
adagrad_mixed_params_check(const adagrad_params* p, const adagrad_mixed_options* o);

/* The dense step with 16-bit weights: w holds n values of w_type
 * (ADAGRAD_DTYPE_BF16 or ADAGRAD_DTYPE_F16), g n values of g_type (any
 * dtype), G n floats. w, g and G may not overlap; 16-bit buffers must be
 * 2-byte aligned. pool as for adagrad_step_parallel (NULL: this thread). */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_mixed(
    void* w, adagrad_dtype w_type, const void* g, adagrad_dtype g_type, float* G, size_t n,
    const adagrad_params* p, const adagrad_mixed_options* o, adagrad_pool* pool);

/* f32 master weights with gradients of g_type: w and G are floats, updated
 * as adagrad_step would (after the gradient's conversion and unscaling), and,
 * when w_copy is not NULL, the updated weights are also written to w_copy
 * rounded to copy_type (BF16 or F16) in the same pass: DeepSpeed's pattern,
 * one pass instead of a step and a conversion. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_master(
    float* w, const void* g, adagrad_dtype g_type, float* G, void* w_copy, adagrad_dtype copy_type,
    size_t n, const adagrad_params* p, const adagrad_mixed_options* o, adagrad_pool* pool);

/* AMP's unscale-and-check pass, as PyTorch's
 * _amp_foreach_non_finite_check_and_unscale_: every one of the n gradients
 * (of type g_type, in place) that is not finite sets *found_inf = 1.0f (it
 * is never cleared), and each becomes g * inv_scale (a float product, rounded
 * back to 16 bits to nearest-even). inv_scale finite and >= 0; found_inf not
 * NULL and aligned. Nothing is written on error. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_unscale_check(void* g, adagrad_dtype g_type,
                                                                    size_t n, double inv_scale,
                                                                    float* found_inf);

/* Conversions between float and the 16-bit types (nearest-even), as the
 * steps do them. in and out may not overlap. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_convert_to_half(const float* in,
                                                                      uint16_t* out, size_t n,
                                                                      adagrad_dtype type);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_convert_from_half(const uint16_t* in,
                                                                        float* out, size_t n,
                                                                        adagrad_dtype type);

/* The same on an explicit ISA (tests, benchmarks). */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_step_mixed_isa(
    adagrad_isa isa, void* w, adagrad_dtype w_type, const void* g, adagrad_dtype g_type, float* G,
    size_t n, const adagrad_params* p, const adagrad_mixed_options* o, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_step_master_isa(adagrad_isa isa, float* w, const void* g, adagrad_dtype g_type, float* G,
                        void* w_copy, adagrad_dtype copy_type, size_t n, const adagrad_params* p,
                        const adagrad_mixed_options* o, adagrad_pool* pool);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_unscale_check_isa(adagrad_isa isa, void* g,
                                                                        adagrad_dtype g_type,
                                                                        size_t n, double inv_scale,
                                                                        float* found_inf);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_convert_to_half_isa(adagrad_isa isa,
                                                                          const float* in,
                                                                          uint16_t* out, size_t n,
                                                                          adagrad_dtype type);
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_convert_from_half_isa(adagrad_isa isa,
                                                                            const uint16_t* in,
                                                                            float* out, size_t n,
                                                                            adagrad_dtype type);

/* Kernel families: the groups of steps that dispatch chooses an ISA for
 * separately, since what bounds them differs (the divider, memory bandwidth,
 * scattered rows, conversions) and so does the ISA that runs them fastest on
 * a given CPU. The choice never changes a result, only the time: every ISA
 * gives the same bits. */
typedef enum adagrad_family {
  /* adagrad_step and its _parallel and _multi forms, fma = 0 */
  ADAGRAD_FAMILY_DENSE_F32 = 0,
  /* adagrad_step_f64 and its _parallel and _multi forms, fma = 0 */
  ADAGRAD_FAMILY_DENSE_F64 = 1,
  /* the dense steps above (f32 and f64) with params.fma = 1 */
  ADAGRAD_FAMILY_FMA = 2,
  /* adagrad_proximal_step, adagrad_da_step and their _f64 forms */
  ADAGRAD_FAMILY_COMPOSITE = 3,
  /* the per-element embedding-table steps: adagrad_sparse_step (and _i32),
   * adagrad_sparse_proximal_step, adagrad_sparse_da_step,
   * adagrad_embedding_bag_step */
  ADAGRAD_FAMILY_SPARSE = 4,
  /* row-wise state: adagrad_rowwise_sparse_step (and _i32), adagrad_rowwise_step,
   * adagrad_rowwise_embedding_bag_step */
  ADAGRAD_FAMILY_ROWWISE = 5,
  /* 16-bit weights and gradients: adagrad_step_mixed, adagrad_step_master,
   * adagrad_unscale_check, adagrad_convert_to_half, adagrad_convert_from_half */
  ADAGRAD_FAMILY_MIXED = 6
} adagrad_family;
#define ADAGRAD_FAMILY_COUNT 7

/* How the ISA of a family was chosen. */
typedef enum adagrad_dispatch_source {
  /* The generic rule, the widest usable ISA: the CPU is not in the library's
   * table and ADAGRAD_DISPATCH=table turned measuring off. */
  ADAGRAD_DISPATCH_WIDEST = 0,
  /* The library's table of CPU models (vendor, family, model) says which
   * ISA runs this family fastest on this CPU. */
  ADAGRAD_DISPATCH_TABLE = 1,
  /* Measured at resolution: each usable ISA's kernel of the family timed on
   * a small in-cache buffer, the fastest kept. */
  ADAGRAD_DISPATCH_MEASURED = 2,
  /* The environment variable ADAGRAD_ISA named a usable ISA. */
  ADAGRAD_DISPATCH_FORCED = 3
} adagrad_dispatch_source;

/* The ISA that family runs on and how it was chosen (source may be NULL).
 * Returns ADAGRAD_ERROR_INVALID_PARAMS for an unknown family and
 * ADAGRAD_ERROR_NULL_POINTER when isa is NULL, writing nothing.
 *
 * Resolution happens once, thread-safely, at the first call of any step or
 * ISA function (concurrent first callers wait for one resolution):
 *  1. ADAGRAD_ISA, when it names (lowercase, as adagrad_isa_name) a usable
 *     ISA, forces every family to it; an unknown or unusable name is ignored.
 *  2. Else the CPU is looked up in the library's table (vendor, family and
 *     model from CPUID; src/dispatch_rules.cpp gives each row's sources) and
 *     a family that the table decides takes the table's ISA. On AArch64 the
 *     table is one rule for a CPU with SVE: sve where its vectors are wider
 *     than 128 bits, neon64 where they are 128 bits.
 *  3. Else (a CPU not in the table, or a family the table leaves open) the
 *     usable ISAs' kernels of the family are timed on a small in-cache buffer
 *     and the fastest is kept (well under a millisecond for all families;
 *     adagrad_dispatch_calibration_ns reports it). ADAGRAD_DISPATCH=table
 *     turns measuring off (the widest usable ISA then runs: deterministic for
 *     a given CPU); ADAGRAD_DISPATCH=calibrate measures every family, even on
 *     a CPU the table knows.
 * Every later call costs one atomic load, nothing more. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status
adagrad_dispatch_query(adagrad_family family, adagrad_isa* isa, adagrad_dispatch_source* source);

/* Nanoseconds the resolution spent timing kernels (0 when nothing was
 * measured); resolves first if needed. */
ADAGRAD_API uint64_t adagrad_dispatch_calibration_ns(void);

/* The row of the CPU table this CPU matched ("amd-zen4", "intel-icelake-server",
 * ..., "arm-sve-wide", "arm-sve-128"), or "unknown". The string is static;
 * resolves first if needed. */
ADAGRAD_API const char* adagrad_dispatch_cpu(void);

/* "dense_f32", "dense_f64", "fma", "composite", "sparse", "rowwise", "mixed";
 * "unknown" for any other value. The string is static. */
ADAGRAD_API const char* adagrad_family_name(adagrad_family family);

/* "widest", "table", "measured", "forced"; "unknown" for any other value. */
ADAGRAD_API const char* adagrad_dispatch_source_name(adagrad_dispatch_source source);

/* The ISA of the dense f32 family (adagrad_step): adagrad_dispatch_query's
 * answer for ADAGRAD_FAMILY_DENSE_F32. */
ADAGRAD_API adagrad_isa adagrad_active_isa(void);

/* The ISA of the per-element embedding-table steps: adagrad_dispatch_query's
 * answer for ADAGRAD_FAMILY_SPARSE. (Before families existed this was the ISA
 * of every step but the dense element-wise ones.) */
ADAGRAD_API adagrad_isa adagrad_active_wide_isa(void);

/* Nonzero when isa is built into this library and usable on this CPU. */
ADAGRAD_API int adagrad_isa_supported(adagrad_isa isa);

/* "scalar", "sse2", "avx", "avx512f", "neon64", "avx2", "avx512bf16", "sve";
 * "unknown" for any other value. The string is static. */
ADAGRAD_API const char* adagrad_isa_name(adagrad_isa isa);

/* The ISA whose adagrad_isa_name is name (exactly: lowercase), into *isa:
 * ADAGRAD_OK, also for an ISA this library or CPU cannot run (ask
 * adagrad_isa_supported); ADAGRAD_ERROR_UNSUPPORTED_ISA when name is no
 * ISA's name ("unknown" included); ADAGRAD_ERROR_NULL_POINTER when name or
 * isa is NULL. *isa is written only on ADAGRAD_OK. */
ADAGRAD_API ADAGRAD_MUST_CHECK adagrad_status adagrad_isa_from_name(const char* name,
                                                                    adagrad_isa* isa);

/* The version of the library that is running, "MAJOR.MINOR.PATCH" (static):
 * it may differ from the ADAGRAD_VERSION_* macros a caller was compiled with
 * when a newer shared library is installed. */
ADAGRAD_API const char* adagrad_version(void);

/* A static, human-readable description of a status ("unknown status" for a
 * value outside the enum). */
ADAGRAD_API const char* adagrad_status_string(adagrad_status status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ADAGRAD_ADAGRAD_H_ */
