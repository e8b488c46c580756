#include "transport/server_carried.h"

#include "engine/limits.h"
#include "transport/http_util.h"
#include "transport/server_write_gate.h"
#include "transport/zstd_codec.h"

namespace outpost::server_impl {

std::shared_ptr<const std::string> CarriedCommit::frame(ServerCore& core,
                                                        std::atomic<uint64_t>& encodings) {
  std::lock_guard lock(mutex_);
  if (encoded_) return frame_;
  encoded_ = true;
  encodings.fetch_add(1, std::memory_order_relaxed);
  auto changes = http_api::call_core([&] {
    return core.carried_changes(head_, limits::kMaxCarriedChanges, limits::kMaxCarriedBytes);
  });
  if (!changes.ok() || !changes->has_value()) return nullptr;
  protocol::ServerFrame out;
  protocol::Carried* carried = out.mutable_carried();
  carried->set_base(*head_.base_seq);
  *carried->mutable_changes() = std::move(**changes);
  auto bytes = std::make_shared<std::string>();
  if (!out.SerializeToString(bytes.get())) return nullptr;
  cursor_.store(carried->changes().cursor(), std::memory_order_release);
  frame_ = std::move(bytes);
  return frame_;
}

bool CarriedCommit::build_message(ServerCore& core, std::atomic<uint64_t>& encodings,
                                  std::atomic<uint64_t>& compressions) {
  // Every stream at the base asks, from both I/O threads: after the first, no lock.
  if (message_ready_.load(std::memory_order_acquire)) return message_ != nullptr;
  std::lock_guard lock(message_mutex_);
  if (compressed_) return message_ != nullptr;
  compressed_ = true;
  std::shared_ptr<const std::string> plain = frame(core, encodings);
  if (plain) {
    compressions.fetch_add(1, std::memory_order_relaxed);
    Result<std::string> compressed = zstd_compress_message_frame(*plain);
    if (compressed.ok()) {
      message_ = std::make_shared<const std::string>(std::move(compressed).value());
      wire_ = std::make_shared<const std::string>(server_binary_frame(*message_));
    }
  }
  message_ready_.store(true, std::memory_order_release);
  return message_ != nullptr;
}

std::shared_ptr<const std::string> CarriedCommit::message(ServerCore& core,
                                                          std::atomic<uint64_t>& encodings,
                                                          std::atomic<uint64_t>& compressions) {
  if (!build_message(core, encodings, compressions)) return nullptr;
  return message_;  // final once built
}

const std::shared_ptr<const std::string>& CarriedCommit::wire_frame(
    ServerCore& core, std::atomic<uint64_t>& encodings, std::atomic<uint64_t>& compressions) {
  static const std::shared_ptr<const std::string> kNone;
  if (!build_message(core, encodings, compressions)) return kNone;
  return wire_;  // final once built
}

}  // namespace outpost::server_impl
