// The server's blob bytes behind one interface: complete blobs by hash (immutable, written
// once after their hash was checked) and resumable uploads in progress, one partial per
// (owner, hash). adapters/dir_blob_store.h implements it on a directory, which several
// server processes may share (decision 027). The blob service (engine/blob_service.h) only
// talks to this.
// Thread rules: a BlobStore is safe to call from any thread and from several processes
// sharing its storage; a BlobReader belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/blob.h"
#include "engine/status.h"

namespace outpost {

// One complete blob opened for reading.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // Reads up to `max` bytes at `offset` into `out` (resized to what was read; empty at the
  // end). Errors: kIo.
  virtual Status read(uint64_t offset, size_t max, std::string& out) = 0;
};

struct StoredBlob {
  BlobHash hash;
  uint64_t size = 0;
  int64_t stored_ms = 0;  // when it was written (garbage collection spares young blobs)
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // The size of a complete blob, or nullopt when it is not stored. Errors: kIo.
  virtual Result<std::optional<uint64_t>> stat(const BlobHash& hash) = 0;
  // Errors: kNotFound when not stored; kIo.
  virtual Result<std::unique_ptr<BlobReader>> open(const BlobHash& hash) = 0;
  // Stores bytes whose hash the caller expects. Errors: kInvalidArgument when the bytes do
  // not hash to `hash` (nothing is stored); kIo. Storing a blob already there is a no-op.
  virtual Status put(const BlobHash& hash, std::string_view bytes) = 0;

  // Resumable uploads. The bytes `owner` holds of an upload of `hash`: the blob's size if it
  // is already complete, else the partial's length (0 when none).
  virtual Result<uint64_t> upload_offset(const std::string& owner, const BlobHash& hash) = 0;
  // Appends `bytes` at `offset` of an upload of `total` bytes and returns the new offset.
  // When it reaches `total` the content is hashed: a match becomes the complete blob, a
  // mismatch deletes the partial. Errors: kFailedPrecondition when `offset` is not the
  // current offset (nothing written; ask upload_offset); kInvalidArgument when the content
  // does not hash to `hash`, or offset + bytes passes total; kIo.
  virtual Result<uint64_t> append_upload(const std::string& owner, const BlobHash& hash,
                                         uint64_t offset, uint64_t total,
                                         std::string_view bytes) = 0;

  // Every complete blob, for garbage collection. Errors: kIo.
  virtual Result<std::vector<StoredBlob>> list() = 0;
  // Deletes a complete blob (absent: no-op). Errors: kIo.
  virtual Status remove(const BlobHash& hash) = 0;
  // Deletes partial uploads untouched since before `older_than_ms`; returns how many.
  virtual Result<uint64_t> remove_stale_uploads(int64_t older_than_ms) = 0;
};

}  // namespace outpost
