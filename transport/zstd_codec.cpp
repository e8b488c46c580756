#include "transport/zstd_codec.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>

namespace outpost {

namespace zstd_detail {
void CompressContextDeleter::operator()(ZSTD_CCtx_s* context) const {
  ZSTD_freeCCtx(context);
}
void DecompressContextDeleter::operator()(ZSTD_DCtx_s* context) const {
  ZSTD_freeDCtx(context);
}
}  // namespace zstd_detail

namespace {

using CompressContext = std::unique_ptr<ZSTD_CCtx, zstd_detail::CompressContextDeleter>;
using DecompressContext = std::unique_ptr<ZSTD_DCtx, zstd_detail::DecompressContextDeleter>;

// Smallest output buffer the decoder starts with; it doubles from there up to the cap.
constexpr size_t kMinOutputBuffer = 16 * 1024;
// How far a frame's declared content size is believed for the first output buffer: up to
// this many times the compressed size (protobuf compresses 3-10x). Beyond that the buffer
// grows as the data proves itself, so a 20-byte frame cannot buy a 32 MiB allocation.
constexpr size_t kTrustedRatio = 32;
// Hash and chain tables of the per-connection compressor. Measured with zstd 1.5.4 on
// small protobuf messages: 2^12 entries compress as well as level 3's own 2^17/2^16, and
// with the 64 KiB window a connection holds about 500 KiB of compressor and 420 KiB of
// decompressor state, against 3.6 MiB and 2.5 MiB with level-3 defaults.
constexpr int kStreamHashLog = 12;
// ZSTD_MAGICNUMBER, written out so that a skippable or legacy frame is refused by name.
constexpr uint32_t kZstdFrameMagic = 0xFD2FB528;
constexpr size_t kMaxVarintBytes = 10;
// The smallest window the zstd format has, and the largest window a stock decoder accepts
// (ZSTD_WINDOWLOG_ABSOLUTEMIN and ZSTD_WINDOWLOG_LIMIT_DEFAULT, which zstd.h only exposes
// under ZSTD_STATIC_LINKING_ONLY).
constexpr int kMinWindowLog = 10;
constexpr int kMaxWindowLog = 27;

Status zstd_failure(ErrorCode code, std::string_view what, size_t zstd_result) {
  return error(code, std::string(what) + ": " + ZSTD_getErrorName(zstd_result));
}

// Decoder errors are the peer's fault; a window above our limit is a size refusal.
Status decode_failure(size_t zstd_result) {
  if (ZSTD_getErrorCode(zstd_result) == ZSTD_error_frameParameter_windowTooLarge) {
    return zstd_failure(ErrorCode::kTooLarge, "zstd window larger than allowed", zstd_result);
  }
  return zstd_failure(ErrorCode::kInvalidArgument, "corrupt zstd data", zstd_result);
}

// The smallest window log (within what zstd accepts by default) whose window holds
// `max_output` bytes: no legitimate frame of that size needs more history than that.
int window_log_for(size_t max_output) {
  int log = static_cast<int>(std::bit_width(max_output > 0 ? max_output - 1 : 0));
  return std::clamp(log, kMinWindowLog, kMaxWindowLog);
}

// Resizes `buffer` to exactly `new_size`, keeping its first `used` bytes. std::string's own
// growth rounds the capacity up to twice the old one, which could pass the cap; a fresh
// string of the exact size does not.
void grow_exactly(std::string& buffer, size_t used, size_t new_size) {
  std::string grown(new_size, '\0');
  std::copy_n(buffer.data(), used, grown.data());
  buffer.swap(grown);
}

struct DecodeRun {
  std::string output;
  bool frame_ended = false;   // the decoder reported the end of a frame (return value 0)
  bool exceeded_cap = false;  // the data decodes to more than the cap; output is partial
  size_t input_consumed = 0;
};

// Feeds all of `input` to `decoder` and collects the output, never holding a buffer larger
// than `cap`. Completion follows the ZSTD_decompressStream contract: once the input is
// consumed, output.pos < output.size means the decoder has flushed all it can; when the
// buffer is full there may be more, so we ask again. At the cap, a one-byte probe tells
// "more output" (exceeded_cap) from "done" without growing the buffer.
// With `stop_at_frame_end`, returns as soon as a frame ends, leaving any further input.
Result<DecodeRun> run_decoder(ZSTD_DCtx* decoder, std::string_view input, size_t cap,
                              size_t initial_size, bool stop_at_frame_end) {
  DecodeRun run;
  run.output.resize(std::min(cap, std::max(initial_size, kMinOutputBuffer)));
  size_t produced = 0;
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  for (;;) {
    if (produced == run.output.size()) {
      if (produced < cap) {
        grow_exactly(run.output, produced, std::min(cap, std::max(produced * 2, kMinOutputBuffer)));
      } else {
        char probe = 0;
        ZSTD_outBuffer probe_out{&probe, 1, 0};
        size_t result = ZSTD_decompressStream(decoder, &probe_out, &in);
        if (ZSTD_isError(result)) return decode_failure(result);
        if (probe_out.pos != 0) {
          run.exceeded_cap = true;
          break;
        }
        run.frame_ended = result == 0;
        if (in.pos == in.size || (stop_at_frame_end && run.frame_ended)) break;
        continue;
      }
    }
    ZSTD_outBuffer out{run.output.data(), run.output.size(), produced};
    size_t result = ZSTD_decompressStream(decoder, &out, &in);
    if (ZSTD_isError(result)) return decode_failure(result);
    produced = out.pos;
    run.frame_ended = result == 0;
    if (stop_at_frame_end && run.frame_ended) break;
    if (in.pos == in.size && produced < run.output.size()) break;
  }
  run.output.resize(produced);
  run.input_consumed = in.pos;
  return run;
}

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a LEB128 varint from the front of `input` and removes it.
Result<uint64_t> take_varint(std::string_view& input) {
  uint64_t value = 0;
  for (size_t i = 0; i < input.size() && i < kMaxVarintBytes; ++i) {
    auto byte = static_cast<uint8_t>(input[i]);
    uint64_t bits = byte & 0x7F;
    if (i == kMaxVarintBytes - 1 && bits > 1) break;  // would overflow 64 bits
    value |= bits << (7 * i);
    if ((byte & 0x80) == 0) {
      input.remove_prefix(i + 1);
      return value;
    }
  }
  return error(ErrorCode::kInvalidArgument, "bad length prefix in compressed message");
}

}  // namespace

Result<std::string> zstd_compress(std::string_view input, int level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return error(ErrorCode::kInvalidArgument, "zstd level out of range: " + std::to_string(level));
  }
  CompressContext context(ZSTD_createCCtx());
  if (!context) return error(ErrorCode::kInternal, "cannot create zstd context");
  size_t result = ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(result)) {
    result = ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
  }
  if (ZSTD_isError(result)) return zstd_failure(ErrorCode::kInternal, "zstd setup", result);

  std::string output(ZSTD_compressBound(input.size()), '\0');
  result = ZSTD_compress2(context.get(), output.data(), output.size(), input.data(), input.size());
  if (ZSTD_isError(result)) return zstd_failure(ErrorCode::kInternal, "zstd compress", result);
  output.resize(result);
  output.shrink_to_fit();  // the bound is about the input size; do not keep it around
  return output;
}

Result<std::string> zstd_decompress(std::string_view input, size_t max_output) {
  if (input.size() < 4) return error(ErrorCode::kInvalidArgument, "not a zstd frame");
  uint32_t magic = 0;
  for (int i = 3; i >= 0; --i) magic = (magic << 8) | static_cast<uint8_t>(input[i]);
  if (magic != kZstdFrameMagic) return error(ErrorCode::kInvalidArgument, "not a zstd frame");

  // The declared content size may refuse early and sizes the first buffer (within
  // kTrustedRatio); zstd itself checks it against what the frame really holds.
  unsigned long long declared = ZSTD_getFrameContentSize(input.data(), input.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return error(ErrorCode::kInvalidArgument, "corrupt zstd frame header");
  }
  size_t initial_size = input.size() * 4;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (declared > max_output) {
      return error(ErrorCode::kTooLarge, "zstd frame declares " + std::to_string(declared) +
                                             " bytes, more than " + std::to_string(max_output));
    }
    initial_size = std::min(static_cast<size_t>(declared), input.size() * kTrustedRatio);
  }

  DecompressContext context(ZSTD_createDCtx());
  if (!context) return error(ErrorCode::kInternal, "cannot create zstd context");
  size_t result =
      ZSTD_DCtx_setParameter(context.get(), ZSTD_d_windowLogMax, window_log_for(max_output));
  if (ZSTD_isError(result)) return zstd_failure(ErrorCode::kInternal, "zstd setup", result);

  OUTPOST_ASSIGN_OR_RETURN(DecodeRun run,
                           run_decoder(context.get(), input, max_output, initial_size,
                                       /*stop_at_frame_end=*/true));
  if (run.exceeded_cap) {
    return error(ErrorCode::kTooLarge,
                 "zstd frame decodes to more than " + std::to_string(max_output) + " bytes");
  }
  if (!run.frame_ended) return error(ErrorCode::kInvalidArgument, "truncated zstd frame");
  if (run.input_consumed != input.size()) {
    return error(ErrorCode::kInvalidArgument, "trailing bytes after the zstd frame");
  }
  return std::move(run.output);
}

// --- Standalone message frames (stream format 2) -----------------------------------------

namespace {

// One compressor and one decompressor per thread that uses them: a server thread compresses
// for every connection it serves, so the contexts' memory is per thread, not per
// connection. Their parameters are set once; each use starts a new frame.
ZSTD_CCtx* message_compressor() {
  thread_local CompressContext context = [] {
    CompressContext made(ZSTD_createCCtx());
    if (made) {
      for (auto [parameter, value] :
           {std::pair{ZSTD_c_compressionLevel, kDefaultZstdLevel},
            std::pair{ZSTD_c_windowLog, limits::kMessageWindowLog},
            std::pair{ZSTD_c_checksumFlag, 0}, std::pair{ZSTD_c_contentSizeFlag, 1}}) {
        if (ZSTD_isError(ZSTD_CCtx_setParameter(made.get(), parameter, value)))
          return CompressContext();
      }
    }
    return made;
  }();
  return context.get();
}

ZSTD_DCtx* message_decompressor() {
  thread_local DecompressContext context = [] {
    DecompressContext made(ZSTD_createDCtx());
    if (made && ZSTD_isError(ZSTD_DCtx_setParameter(made.get(), ZSTD_d_windowLogMax,
                                                    limits::kMessageWindowLog))) {
      return DecompressContext();
    }
    return made;
  }();
  return context.get();
}

}  // namespace

Result<std::string> zstd_compress_message_frame(std::string_view message) {
  ZSTD_CCtx* context = message_compressor();
  if (context == nullptr) return error(ErrorCode::kInternal, "cannot create zstd context");
  std::string output(ZSTD_compressBound(message.size()), '\0');
  size_t result =
      ZSTD_compress2(context, output.data(), output.size(), message.data(), message.size());
  if (ZSTD_isError(result)) return zstd_failure(ErrorCode::kInternal, "zstd compress", result);
  output.resize(result);
  output.shrink_to_fit();
  return output;
}

Result<std::string> zstd_decompress_message_frame(std::string_view message, size_t max_output) {
  uint32_t magic = 0;
  for (int i = 3; i >= 0 && message.size() >= 4; --i) {
    magic = (magic << 8) | static_cast<uint8_t>(message[i]);
  }
  if (magic != kZstdFrameMagic) {
    return error(ErrorCode::kInvalidArgument, "message is not one current-format zstd frame");
  }
  unsigned long long declared = ZSTD_getFrameContentSize(message.data(), message.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return error(ErrorCode::kInvalidArgument, "corrupt zstd frame header");
  }
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return error(ErrorCode::kInvalidArgument, "zstd message frame without its content size");
  }
  if (declared > max_output) {
    return error(ErrorCode::kTooLarge, "message declares " + std::to_string(declared) +
                                           " bytes, more than " + std::to_string(max_output));
  }
  if (ZSTD_getDictID_fromFrame(message.data(), message.size()) != 0) {
    return error(ErrorCode::kInvalidArgument, "zstd message frame names an unknown dictionary");
  }
  // The window, read from the frame header (RFC 8878 §3.1.1.1): zstd's own limit is not
  // applied when the output buffer happens to hold the whole content, so check it here,
  // the same for every message whatever the buffers.
  const auto descriptor = static_cast<uint8_t>(message[4]);
  uint64_t window = declared;  // single segment: the window is the content
  if ((descriptor & 0x20) == 0) {
    if (message.size() < 6)
      return error(ErrorCode::kInvalidArgument, "truncated zstd frame header");
    const auto byte = static_cast<uint8_t>(message[5]);
    const uint64_t base = uint64_t{1} << (kMinWindowLog + (byte >> 3));
    window = base + (base / 8) * (byte & 7);
  }
  if (window > (uint64_t{1} << limits::kMessageWindowLog)) {
    return error(ErrorCode::kTooLarge,
                 "zstd message frame asks for a window of " + std::to_string(window) +
                     " bytes, more than " +
                     std::to_string(uint64_t{1} << limits::kMessageWindowLog));
  }
  size_t frame_size = ZSTD_findFrameCompressedSize(message.data(), message.size());
  if (ZSTD_isError(frame_size)) return decode_failure(frame_size);
  if (frame_size != message.size()) {
    return error(ErrorCode::kInvalidArgument, "trailing bytes after the message's zstd frame");
  }
  ZSTD_DCtx* context = message_decompressor();
  if (context == nullptr) return error(ErrorCode::kInternal, "cannot create zstd context");
  ZSTD_DCtx_reset(context, ZSTD_reset_session_only);
  const auto expected = static_cast<size_t>(declared);
  Result<DecodeRun> run =
      run_decoder(context, message, expected, std::min(expected, message.size() * kTrustedRatio),
                  /*stop_at_frame_end=*/true);
  // Whatever happened, the next message starts from a clean session.
  ZSTD_DCtx_reset(context, ZSTD_reset_session_only);
  if (!run.ok()) return run.status();
  if (run->exceeded_cap || run->output.size() != expected || !run->frame_ended ||
      run->input_consumed != message.size()) {
    return error(ErrorCode::kInvalidArgument,
                 "zstd message frame does not decode to its declared " + std::to_string(expected) +
                     " bytes");
  }
  return std::move(run->output);
}

// --- StreamCompressor -------------------------------------------------------------------

StreamCompressor::StreamCompressor(int level) : level_(level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    failure_ =
        error(ErrorCode::kInvalidArgument, "zstd level out of range: " + std::to_string(level));
  }
}

StreamCompressor::StreamCompressor(StreamCompressor&& other) noexcept
    : context_(std::move(other.context_)),
      level_(other.level_),
      failure_(std::move(other.failure_)),
      moved_from_(std::exchange(other.moved_from_, true)) {}

StreamCompressor& StreamCompressor::operator=(StreamCompressor&& other) noexcept {
  if (this != &other) {
    context_ = std::move(other.context_);
    level_ = other.level_;
    failure_ = std::move(other.failure_);
    moved_from_ = std::exchange(other.moved_from_, true);
  }
  return *this;
}

Status StreamCompressor::ensure_context() {
  if (context_) return Status::Ok();
  CompressContext context(ZSTD_createCCtx());
  if (!context) return fail(error(ErrorCode::kInternal, "cannot create zstd context"));
  for (auto [parameter, value] :
       {std::pair{ZSTD_c_compressionLevel, level_},
        std::pair{ZSTD_c_windowLog, limits::kStreamWindowLog},
        std::pair{ZSTD_c_hashLog, kStreamHashLog}, std::pair{ZSTD_c_chainLog, kStreamHashLog}}) {
    size_t result = ZSTD_CCtx_setParameter(context.get(), parameter, value);
    if (ZSTD_isError(result)) return fail(zstd_failure(ErrorCode::kInternal, "zstd setup", result));
  }
  context_ = std::move(context);
  return Status::Ok();
}

Status StreamCompressor::fail(Status status) {
  failure_ = status;
  return status;
}

Result<std::string> StreamCompressor::compress_message(std::string_view message) {
  if (!failure_.ok()) {
    return error(ErrorCode::kFailedPrecondition,
                 "stream compressor unusable after: " + failure_.to_string());
  }
  if (moved_from_) return error(ErrorCode::kFailedPrecondition, "stream compressor moved from");
  OUTPOST_RETURN_IF_ERROR(ensure_context());

  std::string output;
  append_varint(output, message.size());
  size_t prefix_size = output.size();
  // Enough for the whole message in one pass in practice (the bound covers a frame header
  // and block headers); the loop below grows it if zstd ever wants more.
  output.resize(prefix_size + ZSTD_compressBound(message.size()));
  ZSTD_inBuffer in{message.data(), message.size(), 0};
  ZSTD_outBuffer out{output.data(), output.size(), prefix_size};
  for (;;) {
    size_t remaining = ZSTD_compressStream2(context_.get(), &out, &in, ZSTD_e_flush);
    if (ZSTD_isError(remaining)) {
      return fail(zstd_failure(ErrorCode::kInternal, "zstd stream compress", remaining));
    }
    if (remaining == 0) break;  // input consumed and everything flushed
    output.resize(output.size() + std::max<size_t>(remaining, ZSTD_CStreamOutSize()));
    out.dst = output.data();
    out.size = output.size();
  }
  output.resize(out.pos);
  return output;
}

// --- StreamDecompressor -----------------------------------------------------------------

StreamDecompressor::StreamDecompressor(StreamDecompressor&& other) noexcept
    : context_(std::move(other.context_)),
      failure_(std::move(other.failure_)),
      started_(other.started_),
      moved_from_(std::exchange(other.moved_from_, true)) {}

StreamDecompressor& StreamDecompressor::operator=(StreamDecompressor&& other) noexcept {
  if (this != &other) {
    context_ = std::move(other.context_);
    failure_ = std::move(other.failure_);
    started_ = other.started_;
    moved_from_ = std::exchange(other.moved_from_, true);
  }
  return *this;
}

Status StreamDecompressor::ensure_context() {
  if (context_) return Status::Ok();
  DecompressContext context(ZSTD_createDCtx());
  if (!context) return fail(error(ErrorCode::kInternal, "cannot create zstd context"));
  size_t result =
      ZSTD_DCtx_setParameter(context.get(), ZSTD_d_windowLogMax, limits::kStreamWindowLog);
  if (ZSTD_isError(result)) return fail(zstd_failure(ErrorCode::kInternal, "zstd setup", result));
  context_ = std::move(context);
  return Status::Ok();
}

Status StreamDecompressor::fail(Status status) {
  failure_ = status;
  return status;
}

Result<std::string> StreamDecompressor::decompress_message(std::string_view message,
                                                           size_t max_output) {
  if (!failure_.ok()) {
    return error(ErrorCode::kFailedPrecondition,
                 "stream decompressor unusable after: " + failure_.to_string());
  }
  if (moved_from_) return error(ErrorCode::kFailedPrecondition, "stream decompressor moved from");
  OUTPOST_RETURN_IF_ERROR(ensure_context());

  Result<uint64_t> declared = take_varint(message);
  if (!declared.ok()) return fail(declared.status());
  if (*declared > max_output) {
    return fail(error(ErrorCode::kTooLarge, "compressed message declares " +
                                                std::to_string(*declared) + " bytes, more than " +
                                                std::to_string(max_output)));
  }
  auto expected = static_cast<size_t>(*declared);
  // ZSTD_d_windowLogMax bounds current-format frames only; zstd's legacy decoders (and
  // skippable frames) would take their window from the header. So the stream must open
  // with a current frame, and that frame must never end (nothing can follow it).
  // (An empty first message carries no zstd bytes at all: the header comes with the next.)
  if (!started_ && !message.empty()) {
    uint32_t magic = 0;
    for (int i = 3; i >= 0 && message.size() >= 4; --i) {
      magic = (magic << 8) | static_cast<uint8_t>(message[i]);
    }
    if (magic != kZstdFrameMagic) {
      return fail(error(ErrorCode::kInvalidArgument,
                        "not a zstd frame: the first message of a stream must open one"));
    }
    started_ = true;
  }
  // Grow towards the declared size rather than trusting it up front: a few bytes must not
  // buy a large allocation before the data proves it decodes that far.
  Result<DecodeRun> run = run_decoder(context_.get(), message, expected, message.size() * 4,
                                      /*stop_at_frame_end=*/true);
  if (!run.ok()) return fail(run.status());
  if (run->frame_ended) {
    return fail(
        error(ErrorCode::kInvalidArgument, "compressed message ends the stream's zstd frame"));
  }
  if (run->exceeded_cap) {
    return fail(error(ErrorCode::kInvalidArgument, "compressed message longer than its declared " +
                                                       std::to_string(expected) + " bytes"));
  }
  if (run->output.size() != expected) {
    return fail(error(ErrorCode::kInvalidArgument,
                      "truncated compressed message: " + std::to_string(run->output.size()) +
                          " of " + std::to_string(expected) + " bytes"));
  }
  return std::move(run->output);
}

}  // namespace outpost
