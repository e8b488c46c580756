// The decoders of the blob routes (transport/blob_http.h) and the upload path behind them:
//   byte 0 % 4 == 0: parse_range(rest after 4 size bytes, size): an accepted range lies
//                    inside the blob and is not empty; refusals are invalid_argument or
//                    out_of_range;
//                 1: parse_target(rest): an accepted download names a hash and a non-empty
//                    collection and key within kMaxBlobRefLength;
//                 2: parse_upload_headers(offset "\n" length): accepted values are plain
//                    decimal numbers that print back to the same text;
//                 3: upload framing against a real DirBlobStore: messages (next_message) of
//                    offset "\n" length "\n" bytes, applied in turn as PUT chunks of one
//                    upload; a refused chunk leaves the upload's offset where it was, and a
//                    blob appears only with the bytes of its hash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/dir_blob_store.h"
#include "fuzz/fuzz_support.h"
#include "transport/blob_http.h"
#include "transport/limits.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
namespace blob_http = outpost::blob_http;

void fuzz_range(std::string_view rest) {
  if (rest.size() < 4) return;
  uint64_t size = 0;
  for (int i = 0; i < 4; ++i) size |= uint64_t{static_cast<uint8_t>(rest[i])} << (8 * i);
  const std::string_view header = rest.substr(4);
  auto range = blob_http::parse_range(header, size);
  check_code(range.status(), {ErrorCode::kInvalidArgument, ErrorCode::kOutOfRange}, "range");
  if (!range.ok()) return;
  check(range->first <= size && range->length <= size - range->first, "range outside the blob");
  check(range->partial || (range->first == 0 && range->length == size), "whole blob mismatch");
  check(!range->partial || range->length > 0, "an empty partial range");
  check(range->partial == !header.empty(), "partial iff a Range was given");
}

void fuzz_target(std::string_view rest) {
  auto target = blob_http::parse_target(rest);
  check_code(target.status(), {ErrorCode::kInvalidArgument, ErrorCode::kNotFound}, "target");
  if (!target.ok()) return;
  check(target->hash.hex().size() == 64, "hash");
  if (target->upload) return;
  check(!target->ref_collection.empty() && !target->ref_key.empty(), "empty reference");
  check(target->ref_collection.size() + target->ref_key.size() + 1 <=
            outpost::limits::kMaxBlobRefLength,
        "reference too long");
  check(target->ref_collection.find('/') == std::string::npos, "collection with a slash");
}

void fuzz_upload_headers(std::string_view rest) {
  const size_t newline = rest.find('\n');
  const std::string_view offset = rest.substr(0, newline);
  const std::string_view length =
      newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  auto headers = blob_http::parse_upload_headers(offset, length);
  check_code(headers.status(), {ErrorCode::kInvalidArgument}, "upload headers");
  if (!headers.ok()) return;
  // Leading zeros are accepted; the value is what the digits say.
  check(std::to_string(headers->offset).size() <= offset.size(), "offset text");
  check(std::to_string(headers->total).size() <= length.size(), "length text");
}

outpost::DirBlobStore& blob_store() {
  static auto store = outpost::DirBlobStore::open(outpost::fuzz::temp_dir() + "/blobs").value();
  return *store;
}

void fuzz_upload(std::string_view rest) {
  static int generation = 0;
  const std::string owner = "acme/fuzz" + std::to_string(generation++ % 64);
  const std::string expected = "the bytes of the fuzzed upload";
  const outpost::BlobHash hash = outpost::sha256_of(expected);
  (void)blob_store().remove(hash);
  std::string_view message;
  while (outpost::fuzz::next_message(rest, message)) {
    const size_t first = message.find('\n');
    const size_t second = first == std::string_view::npos ? first : message.find('\n', first + 1);
    if (second == std::string_view::npos) continue;
    auto headers = blob_http::parse_upload_headers(message.substr(0, first),
                                                   message.substr(first + 1, second - first - 1));
    if (!headers.ok()) continue;
    const std::string_view bytes = message.substr(second + 1);
    const uint64_t before = blob_store().upload_offset(owner, hash).value();
    auto reached = blob_store().append_upload(owner, hash, headers->offset, headers->total, bytes);
    check_code(reached.status(), {ErrorCode::kInvalidArgument, ErrorCode::kFailedPrecondition},
               "append_upload");
    const uint64_t after = blob_store().upload_offset(owner, hash).value();
    if (!reached.ok()) {
      // Refused: unchanged, or a completed upload whose content did not match was dropped.
      check(after == before || after == 0, "a refused chunk moved the upload");
    } else {
      check(*reached == after || *reached == headers->total, "offset after a chunk");
    }
    if (auto stored = blob_store().stat(hash).value()) {
      check(*stored == expected.size(), "a blob appeared with bytes not of its hash");
    }
  }
  (void)blob_store().remove(hash);
  (void)blob_store().remove_stale_uploads(INT64_MAX);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzz_range(rest);
      break;
    case 1:
      fuzz_target(rest);
      break;
    case 2:
      fuzz_upload_headers(rest);
      break;
    default:
      fuzz_upload(rest);
      break;
  }
  return 0;
}
