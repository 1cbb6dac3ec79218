// SPDX-License-Identifier: BSD-3-Clause
// Memory for embedding tables and their states on transparent huge pages
// (include/adagrad/adagrad.h, "Memory for tables and states"). Outside the
// step path: system calls and, for the query, a file read.
//
// The mapping is laid out as [header page][data: size bytes, 2 MiB aligned],
// the header page holding what adagrad_table_free needs. madvise on the data
// alone splits it into a mapping (VMA) of its own, so the header never asks
// for a huge page and /proc/self/smaps reports the data's huge pages alone.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "adagrad/adagrad.h"

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::uint64_t kMagic = 0x6164616772616474ull;  // "adagradt"

struct header {
  std::uint64_t magic;
  std::size_t mapping_bytes;  // header page and data
};

#if defined(__unix__)
std::size_t page_bytes() {
  const long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<std::size_t>(page) : 4096;
}
#endif

// x rounded up to a multiple of the power of two m, or 0 on overflow.
std::size_t round_up(std::size_t x, std::size_t m) {
  if (x > SIZE_MAX - (m - 1)) return 0;
  return (x + m - 1) & ~(m - 1);
}

}  // namespace

extern "C" {

void* adagrad_table_alloc(size_t bytes) {
#if defined(__unix__)
  if (bytes == 0) return nullptr;
  const std::size_t page = page_bytes();
  const std::size_t size = round_up(bytes, kHugePage);
  if (size == 0 || size > SIZE_MAX - kHugePage - page) return nullptr;
  const std::size_t total = size + kHugePage + page;
  void* mapped = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  // Pointer arithmetic within the mapping (no integer-to-pointer casts).
  char* first = static_cast<char*>(mapped);
  const std::size_t past = reinterpret_cast<std::uintptr_t>(first + page) % kHugePage;
  char* data = first + page + (past == 0 ? 0 : kHugePage - past);
  char* head = data - page;
  // The slack around [head, data + size) goes back.
  if (head > first) munmap(first, static_cast<std::size_t>(head - first));
  char* end = first + total;
  if (end > data + size) munmap(data + size, static_cast<std::size_t>(end - (data + size)));
    // Before the first touch, or the pages are 4 KiB ones for good. Where the
    // kernel has no THP this fails (EINVAL) and the memory stays as it is.
#if defined(MADV_HUGEPAGE)
  (void)madvise(data, size, MADV_HUGEPAGE);
#endif
  auto* h = reinterpret_cast<header*>(head);
  h->magic = kMagic;
  h->mapping_bytes = page + size;
  return data;
#else
  (void)bytes;
  return nullptr;
#endif
}

void adagrad_table_free(void* p) {
#if defined(__unix__)
  if (p == nullptr) return;
  if (reinterpret_cast<std::uintptr_t>(p) % kHugePage != 0) return;  // not ours
  auto* h = reinterpret_cast<header*>(static_cast<char*>(p) - page_bytes());
  if (h->magic != kMagic) return;
  const std::size_t bytes = h->mapping_bytes;
  h->magic = 0;
  munmap(h, bytes);
#else
  (void)p;
#endif
}

adagrad_status adagrad_table_huge_page_bytes(const void* p, size_t bytes, size_t* huge_bytes) {
  if (p == nullptr || huge_bytes == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
#if defined(__linux__)
  std::FILE* smaps = std::fopen("/proc/self/smaps", "r");
  if (smaps == nullptr) return ADAGRAD_ERROR_UNAVAILABLE;
  const auto from = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t to = bytes > UINTPTR_MAX - from ? UINTPTR_MAX : from + bytes;
  const std::uintptr_t last = bytes == 0 ? from + 1 : to;  // an empty range: the byte at p
  std::size_t total = 0;
  bool overlapping = false;
  bool line_start = true;
  char line[512];
  while (std::fgets(line, sizeof line, smaps) != nullptr) {
    const bool starts = line_start;
    line_start = std::strchr(line, '\n') != nullptr;
    if (!starts) continue;  // the rest of a long line (a path)
    const char c = line[0];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      // A mapping's first line: "start-end perms ...", in hex.
      char* dash = nullptr;
      const unsigned long long start = std::strtoull(line, &dash, 16);
      if (dash == nullptr || *dash != '-') continue;
      const unsigned long long end = std::strtoull(dash + 1, nullptr, 16);
      overlapping = start < last && from < end;
      continue;
    }
    if (overlapping && std::strncmp(line, "AnonHugePages:", 14) == 0) {
      const unsigned long long kib = std::strtoull(line + 14, nullptr, 10);
      total += static_cast<std::size_t>(kib) * 1024;
    }
  }
  std::fclose(smaps);
  *huge_bytes = total;
  return ADAGRAD_OK;
#else
  (void)bytes;
  return ADAGRAD_ERROR_UNAVAILABLE;
#endif
}

}  // extern "C"
