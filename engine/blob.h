// Content-addressed blobs: a blob is named by the SHA-256 of its bytes (BlobHash, written as
// 64 lowercase hex digits) and referenced from records by fields carrying the
// `(outpost.field).blob` option (voicemail audio, attachments). Records sync as always;
// blobs move apart (docs/protocol.md §9). This file holds what both sides share: the
// hash, its incremental computation, the size bounds per kind, and reading a record's
// references from its descriptor. Computation only, no I/O.
// Thread rules: values and pure functions; a Sha256 belongs to one thread.
#pragma once

#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "outpost/options.pb.h"

namespace outpost {

class BlobHash {
 public:
  static constexpr size_t kBytes = 32;
  static constexpr size_t kHexLength = 64;

  BlobHash() = default;
  explicit BlobHash(const std::array<uint8_t, kBytes>& bytes) : bytes_(bytes) {}
  // Exactly 64 lowercase hex digits. Errors: kInvalidArgument otherwise.
  static Result<BlobHash> parse(std::string_view hex);
  std::string hex() const;
  const std::array<uint8_t, kBytes>& bytes() const { return bytes_; }
  bool operator==(const BlobHash&) const = default;
  auto operator<=>(const BlobHash&) const = default;

 private:
  std::array<uint8_t, kBytes> bytes_{};
};

// SHA-256 fed piece by piece (OpenSSL).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // The digest of everything fed; the object is spent afterwards.
  BlobHash finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

BlobHash sha256_of(std::string_view bytes);

// The size bounds of blobs, by kind (configurable on the server: BlobServiceOptions).
struct BlobLimits {
  uint64_t max_voicemail_bytes = 10ull * 1024 * 1024;
  uint64_t max_attachment_bytes = 25ull * 1024 * 1024;
  uint64_t max_for(BlobKind kind) const {
    return kind == BLOB_VOICEMAIL ? max_voicemail_bytes : max_attachment_bytes;
  }
};

// One blob a record references.
struct BlobRef {
  BlobHash hash;
  BlobKind kind = BLOB_NONE;
  std::string source_uri;  // the platform's URI of the same bytes ("" if none)
  uint64_t size = 0;       // as the record states it (0: unknown)
};

// Every blob `record` references, in field order, nested messages included. A blob field
// holding "" references nothing; one holding anything but a hash is skipped (the record is
// data, not a request, so it is not refused here).
std::vector<BlobRef> blob_refs(const google::protobuf::Message& record);

// Whether records of this type can reference blobs at all (any blob field, nested).
bool may_reference_blobs(const google::protobuf::Descriptor* descriptor);

}  // namespace outpost
