// The device's blob transfers over HTTP/1.1 (docs/protocol.md §9): downloads by hash into
// the BlobCache in Range requests of kClientBlobChunk bytes, each appended to the partial
// file and fsynced before the next, so a download killed at any point resumes from what
// the file holds; uploads of attachments by offset, asking the server where the upload
// stands first. Memory stays about one chunk whatever the blob's size.
// Blocking: call it from a worker thread (never the UI or the agent's loop); one
// BlobClient per thread. Progress callbacks run on the calling thread and may cancel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/blob.h"
#include "engine/status.h"
#include "transport/blob_cache.h"
#include "transport/limits.h"

namespace outpost {

struct BlobClientOptions {
  std::string server_url;  // "http://host:port[/prefix]"
  std::string token;
  size_t chunk_bytes = limits::kClientBlobChunk;
  // Connect, and each request's write and read.
  std::chrono::milliseconds timeout{30000};
};

// Bytes done of total (total 0 while unknown). Returning false cancels (kCancelled); the
// partial stays for the next attempt.
using BlobProgress = std::function<bool(uint64_t done, uint64_t total)>;

// The record a device names to read a blob (the server checks that it references it).
struct BlobRecordRef {
  std::string collection;
  std::string key;
};

class BlobClient {
 public:
  explicit BlobClient(BlobClientOptions options);
  ~BlobClient();
  BlobClient(const BlobClient&) = delete;
  BlobClient& operator=(const BlobClient&) = delete;

  // The verified blob's path in `cache`: from the cache when it is there, else downloaded,
  // resuming a partial. Errors: the server's (kPermissionDenied for a foreign blob,
  // kNotFound, kTooLarge), kUnavailable for network trouble (retry later: the partial is
  // kept), kCorrupt when the bytes did not verify (the partial is dropped), kCancelled.
  Result<std::string> fetch(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                            const BlobProgress& progress = {});

  // Uploads `bytes` (which hash to `hash`) from where the server's upload stands.
  // Errors: kTooLarge past the attachment bound; the server's; kUnavailable; kCancelled.
  Status upload(const BlobHash& hash, std::string_view bytes, const BlobProgress& progress = {});

  // Requests sent so far (tests and benchmarks count round trips).
  uint64_t requests() const { return requests_; }

  struct Connection;  // one kept-alive HTTP connection (blob_client.cpp)

 private:
  Status download_chunk(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                        uint64_t offset, uint64_t& total);

  BlobClientOptions options_;
  std::unique_ptr<Connection> connection_;
  uint64_t requests_ = 0;
};

}  // namespace outpost
