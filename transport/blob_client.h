// The device's blob transfers over HTTP/1.1 or HTTPS (docs/protocol.md §9): a download by
// hash is one request, `Range: bytes=<what the partial holds>-`, whose body is read straight
// from the socket into a buffer of kClientBlobBuffer bytes, hashed (SHA-256, streaming, the
// partial's earlier bytes first) and appended to the partial file in that size, so a
// download killed at any point resumes from what the file holds; the complete file is
// synced and renamed only when its hash matched (decision 031). Uploads of attachments go
// by offset, asking the server where the upload stands first. Memory stays about one
// buffer whatever the blob's size. An https:// server is verified as the agent verifies it
// (`tls`: the same TlsClientContext).
// Blocking: call it from a worker thread (never the UI or the agent's loop); one
// BlobClient per thread. Progress callbacks run on the calling thread and may cancel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/blob.h"
#include "engine/status.h"
#include "transport/blob_cache.h"
#include "transport/limits.h"
#include "transport/server_address.h"
#include "transport/tls_client.h"

namespace outpost {

struct BlobClientOptions {
  std::string server_url;  // "http://host:port[/prefix]"
  std::string token;
  size_t chunk_bytes = limits::kClientBlobChunk;    // per upload request
  size_t buffer_bytes = limits::kClientBlobBuffer;  // per read, hash and write of a download
  // Connect, and each request's write and read.
  std::chrono::milliseconds timeout{30000};
  // For https:// servers: the trust the agent uses (SyncAgent shares its context); null:
  // one is made from `tls_options` at the first connection. Ignored for http://.
  std::shared_ptr<TlsClientContext> tls;
  TlsClientOptions tls_options;
};

// Bytes done of total (total 0 while unknown), after each piece. Returning false cancels
// what is left (kCancelled); the partial stays for the next attempt. After the last piece
// nothing is left: the download completes.
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
  // kept), kCorrupt when the bytes did not verify (the partial is dropped), kCancelled,
  // kFailedPrecondition for an untrusted https server (nothing was sent).
  Result<std::string> fetch(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                            const BlobProgress& progress = {});

  // Uploads `bytes` (which hash to `hash`) from where the server's upload stands.
  // Errors: kTooLarge past the attachment bound; the server's; kUnavailable; kCancelled.
  Status upload(const BlobHash& hash, std::string_view bytes, const BlobProgress& progress = {});

  // Requests sent so far (tests and benchmarks count round trips).
  uint64_t requests() const { return requests_; }

  struct Connection;  // one kept-alive HTTP connection (blob_client.cpp)

 private:
  // One attempt: resumes the partial with one open-ended Range request. false: another
  // download (thread or process) stored the blob meanwhile.
  Result<bool> download(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                        const BlobProgress& progress);

  // The context for an https:// server (made from tls_options once); null for http://.
  Result<TlsClientContext*> tls_for(const ServerAddress& address);

  BlobClientOptions options_;
  std::unique_ptr<Connection> connection_;
  uint64_t requests_ = 0;
};

}  // namespace outpost
