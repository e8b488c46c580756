// Bytes as the server receives them on the wire, through the server's own decoders:
//   byte 0 % 3 == 0: the body of POST /v1/push  (http_api::decode_body -> PushRequest)
//                 1: the body of POST /v1/pull  (http_api::decode_body -> PullRequest)
//                 2: the messages of one WebSocket stream, each prefixed by a 2-byte
//                    little-endian length, through one StreamDecompressor
//                    (decode_client_frame, as StreamSession does).
//                 3: the same, on a stream that negotiated format 2 (decision 039): each
//                    message its own zstd frame, through a WireCodec; no message's failure
//                    affects the next.
// Contract: no crash or UB; only the documented error codes; a decoded message is within
// its bound; once the stream's compression fails, every later message fails.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "outpost/protocol.pb.h"
#include "transport/client_frame.h"
#include "transport/http_util.h"
#include "transport/limits.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;

template <typename Message>
void decode_http_body(std::string_view body) {
  Message message;
  outpost::Status decoded =
      outpost::http_api::decode_body(body, message, outpost::limits::kMaxDecompressedBody);
  check_code(decoded, {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge}, "decode_body");
  if (decoded.ok()) {
    check(message.ByteSizeLong() <= outpost::limits::kMaxDecompressedBody,
          "decoded body above kMaxDecompressedBody");
  }
}

void decode_stream(std::string_view rest) {
  outpost::StreamDecompressor decompressor;
  for (std::string_view message; outpost::fuzz::next_message(rest, message);) {
    bool was_poisoned = decompressor.poisoned();
    auto frame = outpost::decode_client_frame(decompressor, message);
    check_code(frame.status(),
               {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge, ErrorCode::kFailedPrecondition},
               "decode_client_frame");
    if (was_poisoned) {
      check(frame.status().code() == ErrorCode::kFailedPrecondition,
            "a poisoned stream decoded another message");
    }
    if (frame.ok()) {
      check(frame->body_case() != outpost::protocol::ClientFrame::BODY_NOT_SET,
            "an empty ClientFrame was accepted");
      check(frame->ByteSizeLong() <= outpost::limits::kMaxDecompressedFrame,
            "decoded frame above kMaxDecompressedFrame");
    }
  }
}

void decode_message_stream(std::string_view rest) {
  outpost::WireCodec codec(outpost::StreamFormat::kMessage);
  for (std::string_view message; outpost::fuzz::next_message(rest, message);) {
    auto frame = outpost::decode_client_frame(codec, message);
    check_code(frame.status(), {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge},
               "decode_client_frame (format 2)");
    if (frame.ok()) {
      check(frame->body_case() != outpost::protocol::ClientFrame::BODY_NOT_SET,
            "an empty ClientFrame was accepted");
    }
    check(!codec.holds_context(), "a format-2 stream created a per-connection context");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      decode_http_body<outpost::protocol::PushRequest>(rest);
      break;
    case 1:
      decode_http_body<outpost::protocol::PullRequest>(rest);
      break;
    case 2:
      decode_stream(rest);
      break;
    default:
      decode_message_stream(rest);
  }
  return 0;
}
