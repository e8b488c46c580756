// Test helper: watches the largest single allocation made through operator new, so tests
// can check that hostile input never makes a decoder allocate beyond its bound.
// Thread rules: the counter is atomic; tests reset and read it from one thread.
#pragma once

#include <cstddef>

namespace outpost {

void reset_largest_allocation();
size_t largest_allocation();

}  // namespace outpost
