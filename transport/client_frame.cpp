#include "transport/client_frame.h"

#include "transport/limits.h"

namespace outpost {

Result<protocol::ClientFrame> decode_client_frame(StreamDecompressor& decompressor,
                                                  std::string_view message) {
  OUTPOST_ASSIGN_OR_RETURN(std::string plain,
                           decompressor.decompress_message(message, limits::kMaxDecompressedFrame));
  protocol::ClientFrame frame;
  if (!frame.ParseFromString(plain)) {
    return error(ErrorCode::kInvalidArgument, "malformed ClientFrame");
  }
  if (frame.body_case() == protocol::ClientFrame::BODY_NOT_SET) {
    return error(ErrorCode::kInvalidArgument, "empty ClientFrame");
  }
  return frame;
}

}  // namespace outpost
