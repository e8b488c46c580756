// zstd for the wire: one-shot frames for HTTP bodies, and a streaming context per WebSocket
// connection so repeated field names and values compress across messages. Decoding is
// bounded and strict: hostile input (bombs, truncation, garbage) is an error, never a crash
// or an unbounded allocation. I/O-free.
// Thread rules: the free functions are safe from any thread. A StreamCompressor or
// StreamDecompressor belongs to one connection: distinct objects are safe, a shared object
// is not.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "transport/limits.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace outpost {

inline constexpr int kDefaultZstdLevel = 3;

// Compresses `input` into exactly one zstd frame that records its content size and a
// checksum.
// Errors: kInvalidArgument for a level outside zstd's range; kInternal if zstd fails.
Result<std::string> zstd_compress(std::string_view input, int level = kDefaultZstdLevel);

// Decompresses exactly one zstd frame (no skippable frames, nothing after the frame).
// At most `max_output` bytes are produced and no single buffer larger than that is
// allocated: the content size in the frame header is only used to refuse early, never
// trusted for allocation, and zstd's own window is limited to the power of two covering
// `max_output`.
// Errors: kTooLarge when the content is larger than `max_output` (or the frame asks for a
// larger window); kInvalidArgument for empty, corrupt, truncated or trailing input.
Result<std::string> zstd_decompress(std::string_view input, size_t max_output);

// Stream format 2 (docs/protocol.md §3, decision 039): one WebSocket message is exactly one
// standalone zstd frame, so a message compressed once may be sent as is on any number of
// connections, and a connection keeps no history between messages. Both functions use a
// zstd context kept per thread (created on first use), never one per connection.
//
// Compresses `message` into one frame recording its content size (no checksum: the
// transport is reliable), window at most 2^limits::kMessageWindowLog.
// Errors: kInternal if zstd fails (no memory).
Result<std::string> zstd_compress_message_frame(std::string_view message);

// Decodes one such frame. Refused before any decoding: not a current-format zstd frame
// (legacy and skippable frames included), a frame without its content size, a content
// size above `max_output`, a window above 2^limits::kMessageWindowLog, a dictionary id.
// The output grows as the data proves itself (a few bytes cannot buy a large buffer).
// Nothing is kept between calls: a bad message affects no other.
// Errors: kTooLarge (content or window over the bound); kInvalidArgument for everything
// else (corrupt, truncated, trailing bytes, content not matching its declared size).
Result<std::string> zstd_decompress_message_frame(
    std::string_view message, size_t max_output = limits::kMaxDecompressedFrame);

namespace zstd_detail {
struct CompressContextDeleter {
  void operator()(ZSTD_CCtx_s* context) const;
};
struct DecompressContextDeleter {
  void operator()(ZSTD_DCtx_s* context) const;
};
}  // namespace zstd_detail

// The sending half of a compressed WebSocket connection. Each message is
//   varint(uncompressed length) || zstd bytes ending in a flush (ZSTD_e_flush),
// so the peer can decode it as soon as it arrives while later messages still refer back to
// earlier ones (window: limits::kStreamWindowLog). The zstd frame is never ended.
// The length prefix (LEB128, as in protobuf) lets the receiver refuse an oversized message
// before decoding and detect truncation exactly; zstd alone cannot, since a flushed
// stream cut at a block boundary looks complete.
// After any error the compressor is poisoned: the peer's decompressor can no longer follow
// it, so every later call fails and the connection must be closed.
// The zstd context (about 500 KiB once used) is created by the first message, so a
// connection that never sends holds none (decision 033).
class StreamCompressor {
 public:
  // A bad level poisons the object at once; a failure to set up the context (no memory)
  // poisons it at the first message. Either way compress_message() reports it.
  explicit StreamCompressor(int level = kDefaultZstdLevel);
  StreamCompressor(StreamCompressor&& other) noexcept;
  StreamCompressor& operator=(StreamCompressor&& other) noexcept;
  StreamCompressor(const StreamCompressor&) = delete;
  StreamCompressor& operator=(const StreamCompressor&) = delete;
  ~StreamCompressor() = default;

  // Errors: kFailedPrecondition once poisoned (or moved from); kInternal if zstd fails.
  Result<std::string> compress_message(std::string_view message);

  bool poisoned() const { return !failure_.ok(); }
  // Whether the zstd context exists yet (it does from the first message on).
  bool holds_context() const { return context_ != nullptr; }

 private:
  Status fail(Status status);
  // Creates and configures the context on first use.
  Status ensure_context();

  std::unique_ptr<ZSTD_CCtx_s, zstd_detail::CompressContextDeleter> context_;
  int level_;
  Status failure_;
  bool moved_from_ = false;
};

// The receiving half: decodes the messages of one StreamCompressor, in order.
// After any error — including kTooLarge, since the skipped message is part of the history
// later messages refer to — the decompressor is poisoned and every later call fails.
// Like the compressor, its zstd context (about 350 KiB) is created by the first message.
class StreamDecompressor {
 public:
  StreamDecompressor() = default;
  StreamDecompressor(StreamDecompressor&& other) noexcept;
  StreamDecompressor& operator=(StreamDecompressor&& other) noexcept;
  StreamDecompressor(const StreamDecompressor&) = delete;
  StreamDecompressor& operator=(const StreamDecompressor&) = delete;
  ~StreamDecompressor() = default;

  // Decodes exactly one message produced by StreamCompressor::compress_message.
  // Errors: kTooLarge when the message declares more than `max_output` bytes, or its
  // frame asks for a window above limits::kStreamWindowLog; kInvalidArgument for a
  // corrupt, truncated or overlong message, a first message that does not open a current
  // zstd frame (legacy formats and skippable frames included), or a message that ends the
  // frame; kFailedPrecondition once poisoned.
  Result<std::string> decompress_message(std::string_view message,
                                         size_t max_output = limits::kMaxDecompressedFrame);

  bool poisoned() const { return !failure_.ok(); }
  // Whether the zstd context exists yet (it does from the first message on).
  bool holds_context() const { return context_ != nullptr; }

 private:
  Status fail(Status status);
  Status ensure_context();

  std::unique_ptr<ZSTD_DCtx_s, zstd_detail::DecompressContextDeleter> context_;
  Status failure_;
  bool started_ = false;  // the first message, which opens the stream's frame, was read
  bool moved_from_ = false;
};

}  // namespace outpost
