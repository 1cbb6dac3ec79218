// SPDX-License-Identifier: BSD-3-Clause
int parent_library_answer(void) { return 42; }
