// Column pages (transport/column_page.h, decision 045) from a hostile server, through the
// device's own decoder:
//   byte 0 % 3 == 0: a serialized ColumnPage, decoded as the device does (bounded by
//                    kMaxChangesPerBatch and kMaxDecompressedFrame);
//                 1: a serialized ServerFrame, its pull answer expanded as the device's I/O
//                    thread does before anything is applied;
//                 2: record bodies (2-byte length-prefixed, fuzz_support's next_message),
//                    laid column-wise by the server's encoder and expanded again: in
//                    format 1 when byte 0 / 3 is even, else in format 2 (decision 053's
//                    transforms, kColumnPageVersion).
// Contract: no crash or UB; only kInvalidArgument or kTooLarge; a decoded page is within its
// bounds and lays out again into a page that decodes to the same changes; an expanded
// answer holds no columns; whatever the encoder accepts comes back byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/limits.h"
#include "fuzz/fuzz_support.h"
#include "outpost/protocol.pb.h"
#include "transport/column_page.h"
#include "transport/limits.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
namespace protocol = outpost::protocol;
using Changes = google::protobuf::RepeatedPtrField<protocol::Change>;

constexpr size_t kMaxBytes = outpost::limits::kMaxDecompressedFrame;

bool same(const Changes& a, const Changes& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

void decode_page(std::string_view bytes) {
  protocol::ColumnPage page;
  if (!page.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  Changes changes;
  outpost::Status decoded =
      outpost::decode_column_page(page, outpost::limits::kMaxChangesPerBatch, kMaxBytes, changes);
  check_code(decoded, {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge}, "decode_column_page");
  if (!decoded.ok()) return;
  check(changes.size() == static_cast<int>(page.count()), "decoded a count other than the page's");
  size_t total = 0;
  for (const protocol::Change& change : changes) {
    total += change.collection().size() + change.key().size() + change.body().size();
  }
  check(total <= kMaxBytes, "decoded past the byte bound");
  // What decodes was laid out canonically: it lays out again, to the same changes, in
  // either format.
  for (uint32_t version : {uint32_t{1}, outpost::kColumnPageVersion}) {
    auto again = outpost::encode_column_page(changes, version);
    check(again.has_value(), "a decoded page does not encode again");
    Changes twice;
    check(
        outpost::decode_column_page(*again, outpost::limits::kMaxChangesPerBatch, kMaxBytes, twice)
            .ok(),
        "a re-encoded page does not decode");
    check(same(changes, twice), "a re-encoded page decodes to other changes");
  }
}

void expand_frame(std::string_view bytes) {
  protocol::ServerFrame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || !frame.has_pull()) {
    return;
  }
  outpost::Status expanded = outpost::expand_column_pages(*frame.mutable_pull(), kMaxBytes);
  check_code(expanded, {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge}, "expand_column_pages");
  if (!expanded.ok()) return;
  for (const protocol::ScopeChanges& scope : frame.pull().scopes()) {
    check(!scope.has_columns(), "an expanded answer still holds columns");
  }
}

void round_trip(std::string_view rest, uint32_t version) {
  Changes changes;
  int i = 0;
  for (std::string_view body; outpost::fuzz::next_message(rest, body); ++i) {
    protocol::Change* change = changes.Add();
    change->set_collection(i % 3 == 0 ? "contact" : "interaction");
    change->set_key(i % 2 == 0 ? "key-" + std::to_string(i) : std::string());
    change->set_op(i % 5 == 4 ? protocol::Change::DELETE : protocol::Change::PUT);
    change->set_version(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL);
    change->set_body(body.data(), body.size());
  }
  auto page = outpost::encode_column_page(changes, version);
  if (!page) return;  // not canonical protobuf: sent plain
  protocol::ColumnPage parsed;
  check(parsed.ParseFromString(page->SerializeAsString()), "an encoded page does not parse");
  Changes back;
  outpost::Status decoded =
      outpost::decode_column_page(parsed, outpost::limits::kMaxChangesPerBatch, kMaxBytes, back);
  check(decoded.ok(), "an encoded page does not decode");
  check(same(changes, back), "an encoded page decodes to other changes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      decode_page(rest);
      break;
    case 1:
      expand_frame(rest);
      break;
    default:
      round_trip(rest, data[0] / 3 % 2 == 0 ? 1 : outpost::kColumnPageVersion);
  }
  return 0;
}
