// The blob routes of the wire protocol without the sockets (docs/protocol.md §9):
//   GET|HEAD /v1/blobs/<sha256>?ref=<collection>/<key>   download, with an optional Range
//   HEAD     /v1/uploads/<sha256>                        where a resumable upload stands
//   PUT      /v1/uploads/<sha256>                        one chunk: Upload-Offset, Upload-Length
// The decoders of outside bytes (target, Range, upload headers) are separate functions the
// fuzzers call. answer_blob_request decides the answer; the session streams a download's
// bytes from the BlobReader in pieces of kBlobStreamPiece, so memory stays bounded whatever
// the blob's size.
// Thread rules: free functions over their arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/blob.h"
#include "engine/blob_service.h"
#include "engine/status.h"
#include "transport/http_util.h"
#include "transport/token.h"

namespace outpost::blob_http {

inline constexpr std::string_view kBlobsPrefix = "/v1/blobs/";
inline constexpr std::string_view kUploadsPrefix = "/v1/uploads/";
inline constexpr std::string_view kUploadOffsetHeader = "Upload-Offset";
inline constexpr std::string_view kUploadLengthHeader = "Upload-Length";

// Whether a request path belongs to the blob routes.
bool is_blob_path(std::string_view path);

struct BlobTarget {
  bool upload = false;  // /v1/uploads/… (else /v1/blobs/…)
  BlobHash hash;
  std::string ref_collection;  // downloads: the record that references the blob
  std::string ref_key;
};

// Parses a request target of the blob routes. Errors: kNotFound for a path outside them;
// kInvalidArgument for a malformed hash, a download without `ref=<collection>/<key>`, bad
// percent-encoding or a reference longer than kMaxBlobRefLength.
Result<BlobTarget> parse_target(std::string_view target);

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
  bool partial = false;  // a Range was asked for (206), else the whole blob (200)
};

// The bytes a Range header asks of a blob of `size` bytes: "" is the whole blob;
// "bytes=A-B", "bytes=A-" and "bytes=-N" one range. Errors: kInvalidArgument for anything
// else — several ranges, another unit, spaces, numbers that overflow, a header longer than
// kMaxRangeHeader, B < A; kOutOfRange when the range starts at or past the end (416).
Result<ByteRange> parse_range(std::string_view header, uint64_t size);

struct UploadHeaders {
  uint64_t offset = 0;
  uint64_t total = 0;
};

// Upload-Offset and Upload-Length: decimal, at most 19 digits. Errors: kInvalidArgument
// when either is missing or not a plain decimal number.
Result<UploadHeaders> parse_upload_headers(std::string_view offset, std::string_view length);

// What the session sends: `head` (a complete response, or a download's status and headers
// with an empty body) and, for a download with content, the bytes to stream from `body`.
struct BlobAnswer {
  http_api::HttpResponse head;
  std::unique_ptr<BlobReader> body;
  uint64_t first = 0;
  uint64_t length = 0;
};

// Answers one complete request on a blob route. Blocking (store and platform calls): the
// session runs it where it runs ServerCore calls.
BlobAnswer answer_blob_request(const http_api::HttpRequest& request, BlobService& blobs,
                               const TokenAuthority& tokens, int64_t now_ms);

}  // namespace outpost::blob_http
