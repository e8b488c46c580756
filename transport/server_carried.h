// Internal to the server runtime: one commit's changes for one scope, encoded once and
// shared by every stream session whose device is at the commit's base, so that only the
// per-connection compression is left per session (decision 032, docs/protocol.md §5).
//
// Thread rules: thread-safe. The registry makes one per moved head of a local commit and
// hands the same object to every session; the first session that needs the frame encodes
// it (one log read, one protobuf encoding), the others wait for it and share the bytes.
// Sessions in stream format 2 (decision 039) share the compressed message too.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "engine/server_core.h"

namespace outpost::server_impl {

class CarriedCommit {
 public:
  explicit CarriedCommit(CommittedHead head) : head_(std::move(head)) {}

  const CommittedHead& head() const { return head_; }

  // The serialized ServerFrame{carried} for this commit, or nullptr when its changes do
  // not travel (ServerCore::carried_changes said no, or the store failed: the sessions
  // poke instead). Encoded on the first call, which adds one to `encodings`; later calls
  // return the same bytes. Any thread.
  std::shared_ptr<const std::string> frame(ServerCore& core, std::atomic<uint64_t>& encodings);
  // The same frame as one standalone zstd message (stream format 2, decision 039): built
  // from frame() and compressed on the first call, which adds one to `compressions`; every
  // later call, from any session, returns the same bytes, sent as they are. nullptr when
  // frame() is, or compression failed.
  std::shared_ptr<const std::string> message(ServerCore& core, std::atomic<uint64_t>& encodings,
                                             std::atomic<uint64_t>& compressions);
  // The same message as one complete WebSocket frame from the server (binary, final,
  // unmasked: header and payload), built with message() and shared the same way, for the
  // plain-TCP streams that put it on their socket themselves (decision 047). null when
  // message() is. A reference to the shared bytes, final once built (decision 059: no
  // reference count touched per stream); copy it to keep the bytes past this commit.
  const std::shared_ptr<const std::string>& wire_frame(ServerCore& core,
                                                       std::atomic<uint64_t>& encodings,
                                                       std::atomic<uint64_t>& compressions);
  // The cursor the frame moves a device to (at least head().head_seq); 0 before frame()
  // returned non-null.
  uint64_t cursor() const { return cursor_.load(std::memory_order_acquire); }

 private:
  // Builds the message once (any thread); true when there is one.
  bool build_message(ServerCore& core, std::atomic<uint64_t>& encodings,
                     std::atomic<uint64_t>& compressions);

  const CommittedHead head_;
  mutable std::mutex mutex_;
  bool encoded_ = false;                        // guarded by mutex_
  std::shared_ptr<const std::string> frame_;    // guarded by mutex_
  std::atomic<uint64_t> cursor_{0};             // written under mutex_
  std::mutex message_mutex_;                    // taken before mutex_, never after
  bool compressed_ = false;                     // guarded by message_mutex_
  std::shared_ptr<const std::string> message_;  // guarded by message_mutex_
  std::shared_ptr<const std::string> wire_;     // guarded by message_mutex_
  // Set (release) once message_ and wire_ are final: later calls read them without the lock.
  std::atomic<bool> message_ready_{false};
};

}  // namespace outpost::server_impl
