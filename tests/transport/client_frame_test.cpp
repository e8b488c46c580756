// decode_client_frame: the WebSocket message decoder SyncServer runs, on valid frames and
// on each kind of bad input it must refuse with its documented code.
#include "transport/client_frame.h"

#include <gtest/gtest.h>

#include <string>

#include "transport/limits.h"

namespace outpost {
namespace {

std::string encode(StreamCompressor& compressor, const std::string& plain) {
  auto compressed = compressor.compress_message(plain);
  EXPECT_TRUE(compressed.ok()) << compressed.status().to_string();
  return compressed.ok() ? compressed.value() : std::string();
}

TEST(ClientFrame, DecodesFramesOfOneStreamInOrder) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  for (int64_t i = 0; i < 3; ++i) {
    protocol::ClientFrame frame;
    frame.mutable_ping()->set_sent_ms(i);
    auto decoded = decode_client_frame(decompressor, encode(compressor, frame.SerializeAsString()));
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->ping().sent_ms(), i);
  }
}

TEST(ClientFrame, EmptyAndMalformedFramesAreInvalidArgument) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  auto empty = decode_client_frame(decompressor, encode(compressor, ""));
  EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "empty ClientFrame");
  // A protobuf error leaves the stream in step: the next frame still decodes.
  auto malformed = decode_client_frame(decompressor, encode(compressor, "\x0a\xff\xff\xff"));
  EXPECT_EQ(malformed.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(malformed.status().message(), "malformed ClientFrame");
  EXPECT_FALSE(decompressor.poisoned());
}

TEST(ClientFrame, UndecodableOrOversizedCompressionPoisonsTheStream) {
  StreamDecompressor garbage;
  EXPECT_EQ(decode_client_frame(garbage, "not zstd at all").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(garbage.poisoned());
  EXPECT_EQ(decode_client_frame(garbage, "").status().code(), ErrorCode::kFailedPrecondition);

  // A message declaring one byte more than the bound is refused before decoding.
  StreamCompressor compressor;
  std::string big = encode(compressor, std::string(limits::kMaxDecompressedFrame + 1, 'a'));
  StreamDecompressor bounded;
  EXPECT_EQ(decode_client_frame(bounded, big).status().code(), ErrorCode::kTooLarge);
  EXPECT_TRUE(bounded.poisoned());
}

}  // namespace
}  // namespace outpost
