#include "tests/transport/allocation_tracker.h"

#include <atomic>
#include <cstdlib>
#include <new>

// The replaceable global allocation functions, counting on the way through. Kept in their
// own file so the compiler never sees a new and a delete inlined into one function.
namespace {
std::atomic<size_t> largest{0};
}  // namespace

void* operator new(size_t size) {
  size_t seen = largest.load(std::memory_order_relaxed);
  while (size > seen && !largest.compare_exchange_weak(seen, size)) {
  }
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, size_t) noexcept {
  std::free(block);
}

namespace outpost {

void reset_largest_allocation() {
  largest = 0;
}
size_t largest_allocation() {
  return largest.load();
}

}  // namespace outpost
