// Stream format 2 (decision 039): each WebSocket message one standalone zstd frame, decoded
// strictly and within its bounds, with no context kept per connection; and WireCodec, which
// speaks format 1 or 2 for one connection.
#include "transport/wire_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>

#include "tests/transport/allocation_tracker.h"
#include "transport/zstd_codec.h"

namespace outpost {
namespace {

constexpr size_t kMiB = limits::kMiB;

std::string sample_data(size_t size, uint32_t seed = 1) {
  static const char* const kWords[] = {"contact", "queue", "available", "agent",  "voicemail",
                                       "draft",   "acme",  "Smith",     "+1-555", "notes"};
  std::mt19937 random(seed);
  std::string data;
  while (data.size() < size) {
    data += kWords[random() % std::size(kWords)];
    data.push_back(static_cast<char>(' ' + random() % 16));
  }
  data.resize(size);
  return data;
}

// One frame compressed by zstd itself with `parameters` set (a peer that ignores ours).
std::string foreign_frame(const std::string& input, bool content_size, int window_log = 0) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  if (window_log > 0) ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, window_log);
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
  std::string out(ZSTD_compressBound(input.size()), '\0');
  size_t size = 0;
  if (content_size) {
    size = ZSTD_compress2(context, out.data(), out.size(), input.data(), input.size());
  } else {  // streaming without a pledged size: the header cannot hold the content size
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    while (ZSTD_compressStream2(context, &o, &in, ZSTD_e_end) != 0) {
    }
    size = o.pos;
  }
  ZSTD_freeCCtx(context);
  EXPECT_FALSE(ZSTD_isError(size));
  out.resize(size);
  return out;
}

TEST(MessageFrame, RoundTripsEmptySmallAndPageSizedMessages) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{300}, size_t{64 * 1024}, 3 * kMiB}) {
    const std::string message = sample_data(size, static_cast<uint32_t>(size));
    Result<std::string> wire = zstd_compress_message_frame(message);
    ASSERT_TRUE(wire.ok()) << wire.status().to_string();
    EXPECT_EQ(ZSTD_getFrameContentSize(wire->data(), wire->size()), size);
    Result<std::string> back = zstd_decompress_message_frame(*wire);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, message);
  }
}

TEST(MessageFrame, TheSameBytesDecodeOnAnyConnectionInAnyOrder) {
  // What makes a carried frame shareable: no history, so each message decodes alone.
  const std::string a = sample_data(5000, 1), b = sample_data(5000, 2);
  std::string wire_a = zstd_compress_message_frame(a).value();
  std::string wire_b = zstd_compress_message_frame(b).value();
  EXPECT_EQ(zstd_decompress_message_frame(wire_b).value(), b);
  EXPECT_EQ(zstd_decompress_message_frame(wire_a).value(), a);
  EXPECT_EQ(zstd_decompress_message_frame(wire_a).value(), a);
  EXPECT_EQ(zstd_compress_message_frame(a).value(), wire_a);  // deterministic
}

TEST(MessageFrame, RefusesAContentSizeAboveTheBoundBeforeDecoding) {
  std::string wire = zstd_compress_message_frame(sample_data(1000)).value();
  EXPECT_TRUE(zstd_decompress_message_frame(wire, 1000).ok());
  reset_largest_allocation();
  Result<std::string> result = zstd_decompress_message_frame(wire, 999);
  EXPECT_EQ(result.status().code(), ErrorCode::kTooLarge) << result.status().to_string();
  EXPECT_LT(largest_allocation(), 1000u);
}

TEST(MessageFrame, RefusesAFrameWithoutItsContentSize) {
  std::string wire = foreign_frame(sample_data(1000), /*content_size=*/false);
  ASSERT_EQ(ZSTD_getFrameContentSize(wire.data(), wire.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Result<std::string> result = zstd_decompress_message_frame(wire);
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("content size"), std::string::npos);
}

TEST(MessageFrame, RefusesAWindowAboveTheLimit) {
  const std::string input = sample_data(5 * kMiB);
  std::string wire = foreign_frame(input, true, limits::kMessageWindowLog + 1);
  Result<std::string> result = zstd_decompress_message_frame(wire);
  EXPECT_EQ(result.status().code(), ErrorCode::kTooLarge) << result.status().to_string();
  // Ours stays within it at the same size.
  EXPECT_EQ(zstd_decompress_message_frame(zstd_compress_message_frame(input).value()).value(),
            input);
}

TEST(MessageFrame, TinyFrameCannotBuyALargeAllocation) {
  // Single segment, content size 32 MiB, one raw block of one byte.
  std::string frame = "\x28\xB5\x2F\xFD";
  frame.push_back(static_cast<char>(0xA0));
  frame.append("\x00\x00\x00\x02", 4);
  frame.append("\x09\x00\x00", 3);
  frame.push_back('x');
  reset_largest_allocation();
  Result<std::string> result = zstd_decompress_message_frame(frame);
  EXPECT_FALSE(result.ok());
  EXPECT_LT(largest_allocation(), kMiB);
}

TEST(MessageFrame, RefusesGarbageTruncationTrailingBytesAndStreamMessages) {
  const std::string message = sample_data(20000);
  const std::string wire = zstd_compress_message_frame(message).value();
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string(16, '\0'), wire + "x", wire + wire}) {
    EXPECT_EQ(zstd_decompress_message_frame(bad).status().code(), ErrorCode::kInvalidArgument);
  }
  for (size_t cut = 0; cut < wire.size(); cut += std::max<size_t>(1, wire.size() / 50)) {
    EXPECT_FALSE(zstd_decompress_message_frame(wire.substr(0, cut)).ok()) << cut;
  }
  // A format-1 message (length prefix, a never-ended frame) is not a format-2 message.
  StreamCompressor stream;
  EXPECT_EQ(zstd_decompress_message_frame(stream.compress_message(message).value()).status().code(),
            ErrorCode::kInvalidArgument);
  // Skippable and legacy frames.
  const std::string skippable("\x50\x2A\x4D\x18\x00\x00\x00\x00", 8);
  const std::string legacy("\x27\xb5\x2f\xfd\x00\x80\xd7\x00\x00\x27\x00\xd7\x30\xd7\x64", 15);
  EXPECT_EQ(zstd_decompress_message_frame(skippable).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(zstd_decompress_message_frame(legacy).status().code(), ErrorCode::kInvalidArgument);
  // A bad message leaves nothing behind: the next good one decodes.
  EXPECT_EQ(zstd_decompress_message_frame(wire).value(), message);
}

TEST(MessageFrame, RefusesAFrameNamingADictionary) {
  // Our own frame with a one-byte dictionary id spliced into its header (descriptor bit 0;
  // the id follows the descriptor of a single-segment frame).
  std::string wire = zstd_compress_message_frame(sample_data(1000)).value();
  ASSERT_EQ(static_cast<uint8_t>(wire[4]) & 0x23, 0x20);
  wire[4] = static_cast<char>(static_cast<uint8_t>(wire[4]) | 0x01);
  wire.insert(5, 1, '\x07');
  ASSERT_EQ(ZSTD_getDictID_fromFrame(wire.data(), wire.size()), 7u);
  Result<std::string> result = zstd_decompress_message_frame(wire);
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("dictionary"), std::string::npos);
}

TEST(MessageFrame, DetectsAContentSizeThatLies) {
  std::string wire = zstd_compress_message_frame(sample_data(1000)).value();
  // Descriptor: single segment, 2-byte content size (value - 256), no checksum.
  ASSERT_EQ(static_cast<uint8_t>(wire[4]) & 0xE4, 0x60);
  wire[5] = static_cast<char>(500 - 256);
  wire[6] = 0;
  EXPECT_EQ(zstd_decompress_message_frame(wire).status().code(), ErrorCode::kInvalidArgument);
}

TEST(WireCodec, FormatTwoHoldsNoContextAndFormatOneDoes) {
  const std::string message = sample_data(4000);
  WireCodec standalone(StreamFormat::kMessage), peer(StreamFormat::kMessage);
  for (int i = 0; i < 3; ++i) {
    Result<std::string> wire = standalone.encode(message);
    ASSERT_TRUE(wire.ok());
    EXPECT_EQ(peer.decode(*wire).value(), message);
  }
  EXPECT_FALSE(standalone.holds_context());
  EXPECT_FALSE(peer.holds_context());

  WireCodec stream(StreamFormat::kStream), stream_peer(StreamFormat::kStream);
  EXPECT_EQ(stream_peer.decode(stream.encode(message).value()).value(), message);
  EXPECT_TRUE(stream.holds_context());
  EXPECT_TRUE(stream_peer.holds_context());
}

TEST(WireCodec, OnlyExactlyTwoIsFormatTwo) {
  EXPECT_EQ(stream_format_offered("2"), StreamFormat::kMessage);
  for (std::string_view other : {"", "1", "3", "2,3", " 2", "two"}) {
    EXPECT_EQ(stream_format_offered(other), StreamFormat::kStream) << other;
  }
}

}  // namespace
}  // namespace outpost
