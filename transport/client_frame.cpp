#include "transport/client_frame.h"

#include "transport/limits.h"

namespace outpost {

namespace {

Result<protocol::ClientFrame> parse_client_frame(const std::string& plain) {
  protocol::ClientFrame frame;
  if (!frame.ParseFromString(plain)) {
    return error(ErrorCode::kInvalidArgument, "malformed ClientFrame");
  }
  if (frame.body_case() == protocol::ClientFrame::BODY_NOT_SET) {
    return error(ErrorCode::kInvalidArgument, "empty ClientFrame");
  }
  return frame;
}

}  // namespace

Result<protocol::ClientFrame> decode_client_frame(StreamDecompressor& decompressor,
                                                  std::string_view message) {
  OUTPOST_ASSIGN_OR_RETURN(std::string plain,
                           decompressor.decompress_message(message, limits::kMaxDecompressedFrame));
  return parse_client_frame(plain);
}

Result<protocol::ClientFrame> decode_client_frame(WireCodec& codec, std::string_view message) {
  OUTPOST_ASSIGN_OR_RETURN(std::string plain, codec.decode(message, limits::kMaxDecompressedFrame));
  return parse_client_frame(plain);
}

}  // namespace outpost
