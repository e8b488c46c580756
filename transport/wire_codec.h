// The compression of one WebSocket connection, in the format the upgrade negotiated
// (docs/protocol.md §3, decision 039): format 1 is one zstd stream per direction (history
// across messages, a context pair held by the connection from its first message on);
// format 2 is one standalone zstd frame per message (no history, no per-connection
// context: a message compressed once is sent as is on every connection that needs it).
// I/O-free.
// Thread rules: one connection's codec, one thread at a time. Distinct objects: safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "transport/limits.h"
#include "transport/zstd_codec.h"

namespace outpost {

enum class StreamFormat {
  kStream = 1,   // one zstd stream per direction (every device before decision 039)
  kMessage = 2,  // each message its own zstd frame
};

// The upgrade header a device sends with the formats it speaks ("2"); a server that speaks
// format 2 answers it with "2" in the 101 response, and both use format 2 from the first
// message on. Absent, or any other value, either way: format 1.
inline constexpr std::string_view kStreamFormatHeader = "X-Outpost-Stream-Format";
inline constexpr std::string_view kMessageFormatValue = "2";

// The format a server adopts for an upgrade request whose header had `offered` (empty when
// absent): format 2 only for exactly "2".
StreamFormat stream_format_offered(std::string_view offered);

class WireCodec {
 public:
  explicit WireCodec(StreamFormat format = StreamFormat::kStream) : format_(format) {}

  StreamFormat format() const { return format_; }

  // One message to send. Errors: those of StreamCompressor::compress_message (format 1) or
  // zstd_compress_message_frame (format 2).
  Result<std::string> encode(std::string_view message);
  // One message received. Errors: those of StreamDecompressor::decompress_message (format
  // 1: any error poisons the connection) or zstd_decompress_message_frame (format 2).
  Result<std::string> decode(std::string_view message,
                             size_t max_output = limits::kMaxDecompressedFrame);

  // Whether a per-connection zstd context exists (never in format 2).
  bool holds_context() const {
    return compressor_.holds_context() || decompressor_.holds_context();
  }

 private:
  StreamFormat format_;
  StreamCompressor compressor_;      // format 1 only; created by its first message
  StreamDecompressor decompressor_;  // likewise
};

}  // namespace outpost
