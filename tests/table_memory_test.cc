// SPDX-License-Identifier: BSD-3-Clause
// adagrad_table_alloc / adagrad_table_free / adagrad_table_huge_page_bytes:
// alignment, rounding, zero fill, the whole range usable, the huge-page
// report (which pages the kernel gives is its choice: the test records it
// and checks only what is certain), and the steps on such memory.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "adagrad/adagrad.h"

namespace {

constexpr std::size_t kHuge = std::size_t{2} << 20;

// "[madvise]" or "[always]" in the kernel's THP setting.
bool thp_available() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(f, line);
  return line.find("[madvise]") != std::string::npos || line.find("[always]") != std::string::npos;
}

TEST(TableMemory, AlignedZeroedAndUsable) {
  for (std::size_t bytes : {std::size_t{1}, kHuge - 1, kHuge, 5 * kHuge + 1}) {
    auto* p = static_cast<unsigned char*>(adagrad_table_alloc(bytes));
    ASSERT_NE(nullptr, p) << bytes;
    EXPECT_EQ(0u, reinterpret_cast<std::uintptr_t>(p) % kHuge) << bytes;
    const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    for (std::size_t i = 0; i < rounded; i += 4096) ASSERT_EQ(0, p[i]) << i;
    EXPECT_EQ(0, p[rounded - 1]);
    std::memset(p, 0x5a, rounded);  // the whole rounded range is ours
    std::size_t huge = SIZE_MAX;
    ASSERT_EQ(ADAGRAD_OK, adagrad_table_huge_page_bytes(p, bytes, &huge));
    EXPECT_LE(huge, rounded) << bytes;
    EXPECT_EQ(0u, huge % kHuge);
    RecordProperty("huge_bytes_" + std::to_string(bytes), std::to_string(huge));
    if (!thp_available()) {
      EXPECT_EQ(0u, huge);
    }
    adagrad_table_free(p);
  }
}

TEST(TableMemory, ZeroBytesAndNull) {
  EXPECT_EQ(nullptr, adagrad_table_alloc(0));
  adagrad_table_free(nullptr);
  EXPECT_EQ(nullptr, adagrad_table_alloc(SIZE_MAX));
  EXPECT_EQ(nullptr, adagrad_table_alloc(SIZE_MAX - kHuge));
}

TEST(TableMemory, HugePageQuery) {
  std::size_t huge = 7;
  int local = 0;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_table_huge_page_bytes(nullptr, 8, &huge));
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_table_huge_page_bytes(&local, 8, nullptr));
  EXPECT_EQ(7u, huge);
  // Any memory: the stack's mapping.
  const adagrad_status status = adagrad_table_huge_page_bytes(&local, sizeof local, &huge);
  if (status == ADAGRAD_ERROR_UNAVAILABLE) GTEST_SKIP() << "no /proc/self/smaps";
  EXPECT_EQ(ADAGRAD_OK, status);
  EXPECT_EQ(0u, huge % kHuge);
  // Untouched memory has no pages at all.
  void* p = adagrad_table_alloc(4 * kHuge);
  ASSERT_NE(nullptr, p);
  ASSERT_EQ(ADAGRAD_OK, adagrad_table_huge_page_bytes(p, 4 * kHuge, &huge));
  EXPECT_EQ(0u, huge);
  adagrad_table_free(p);
}

// Many allocations at once, freed in another order: each its own mapping.
TEST(TableMemory, ManyAllocations) {
  void* p[8];
  for (std::size_t i = 0; i < 8; ++i) {
    p[i] = adagrad_table_alloc((i + 1) * 1000);
    ASSERT_NE(nullptr, p[i]);
    static_cast<unsigned char*>(p[i])[0] = static_cast<unsigned char>(i);
  }
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(i, static_cast<unsigned char*>(p[i])[0]);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(p[i], p[j]);
  }
  for (std::size_t i : {3, 0, 7, 1, 6, 2, 5, 4}) adagrad_table_free(p[i]);
}

// A table and its state on this memory, stepped by the fused step.
TEST(TableMemory, StepsRunOnIt) {
  const std::size_t rows = 1000, dim = 64;
  auto* w = static_cast<float*>(adagrad_table_alloc(rows * dim * sizeof(float)));
  auto* G = static_cast<float*>(adagrad_table_alloc(rows * dim * sizeof(float)));
  ASSERT_NE(nullptr, w);
  ASSERT_NE(nullptr, G);
  for (std::size_t i = 0; i < rows * dim; ++i) w[i] = 1.0f;
  const std::int64_t indices[3] = {999, 0, 999};
  const std::int64_t offsets[3] = {0, 2, 3};
  float grad_output[2 * dim];
  for (float& x : grad_output) x = 1.0f;
  adagrad_embedding_table t{};
  t.weights = w;
  t.state = G;
  t.num_rows = rows;
  t.dim = dim;
  t.indices = indices;
  t.offsets = offsets;
  t.num_indices = 3;
  t.grad_output = grad_output;
  unsigned char workspace[1024];
  const adagrad_params p = adagrad_params_default();
  ASSERT_EQ(ADAGRAD_OK, adagrad_embedding_bag_step(&t, 1, 2, ADAGRAD_INDEX_INT64, &p, workspace,
                                                   sizeof workspace, nullptr));
  EXPECT_EQ(4.0f, G[999 * dim]);
  EXPECT_EQ(1.0f, G[0]);
  EXPECT_EQ(0.0f, G[dim]);
  adagrad_table_free(w);
  adagrad_table_free(G);
}

}  // namespace
