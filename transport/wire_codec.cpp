#include "transport/wire_codec.h"

namespace outpost {

StreamFormat stream_format_offered(std::string_view offered) {
  return offered == kMessageFormatValue ? StreamFormat::kMessage : StreamFormat::kStream;
}

Result<std::string> WireCodec::encode(std::string_view message) {
  if (format_ == StreamFormat::kMessage) return zstd_compress_message_frame(message);
  return compressor_.compress_message(message);
}

Result<std::string> WireCodec::decode(std::string_view message, size_t max_output) {
  if (format_ == StreamFormat::kMessage) return zstd_decompress_message_frame(message, max_output);
  return decompressor_.decompress_message(message, max_output);
}

}  // namespace outpost
