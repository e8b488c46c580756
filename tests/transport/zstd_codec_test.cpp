#include "transport/zstd_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "outpost/protocol.pb.h"
#include "tests/transport/allocation_tracker.h"

namespace outpost {
namespace {

constexpr size_t kMiB = limits::kMiB;

// Text-like bytes that compress a few times over, like protobuf records.
std::string sample_data(size_t size, uint32_t seed = 1) {
  static const std::vector<std::string> kWords = {
      "contact", "queue",  "available", "support", "agent",  "voicemail", "draft",
      "wrap-up", "tenant", "acme",      "Smith",   "+1-555", "on-queue",  "notes"};
  std::mt19937 random(seed);
  std::string data;
  data.reserve(size + 16);
  while (data.size() < size) {
    data += kWords[random() % kWords.size()];
    data.push_back(static_cast<char>(' ' + random() % 16));
  }
  data.resize(size);
  return data;
}

std::string random_bytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// A zstd frame of `zeros` zero bytes with no content size in its header, built by streaming
// compression in 1 MiB chunks so the bomb itself is never in memory.
std::string zero_bomb(size_t zeros, int window_log = limits::kStreamWindowLog) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, window_log);
  const std::string chunk(kMiB, '\0');
  std::string compressed;
  std::string buffer(ZSTD_CStreamOutSize(), '\0');
  auto drain = [&](size_t chunk_size, ZSTD_EndDirective directive) {
    ZSTD_inBuffer in{chunk.data(), chunk_size, 0};
    size_t remaining = 0;
    do {
      ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
      remaining = ZSTD_compressStream2(context, &out, &in, directive);
      EXPECT_FALSE(ZSTD_isError(remaining));
      compressed.append(buffer.data(), out.pos);
    } while (in.pos < in.size || (directive != ZSTD_e_continue && remaining != 0));
  };
  for (size_t done = 0; done < zeros; done += kMiB)
    drain(std::min(kMiB, zeros - done), ZSTD_e_continue);
  drain(0, ZSTD_e_end);
  ZSTD_freeCCtx(context);
  return compressed;
}

// Bytes of the length prefix at the front of a stream message.
size_t varint_length(std::string_view wire) {
  size_t length = 0;
  while (static_cast<uint8_t>(wire[length]) & 0x80) ++length;
  return length + 1;
}

std::string prefix_varint(uint64_t value, std::string_view rest) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  out.append(rest);
  return out;
}

// A serialized pull-response-like change, as the server streams them.
std::string change_message(int index) {
  protocol::Change change;
  change.set_collection("contacts");
  change.set_key("contact-" + std::to_string(1000 + index));
  change.set_op(protocol::Change::PUT);
  change.set_version(50000 + index);
  change.set_body("{name: \"Agent " + std::to_string(index) +
                  "\", queue: \"support-tier-1\", state: \"available\", phone: \"+1-555-01" +
                  std::to_string(index % 100) + "\", tenant: \"acme-corp\"}");
  return change.SerializeAsString();
}

// --- one-shot ---------------------------------------------------------------------------

TEST(ZstdCodec, RoundTripsEmptySmallAndLargeInputs) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{300}, 10 * kMiB}) {
    std::string input = sample_data(size, static_cast<uint32_t>(size));
    Result<std::string> compressed = zstd_compress(input);
    ASSERT_TRUE(compressed.ok()) << compressed.status().to_string();
    if (size == 10 * kMiB) {
      EXPECT_LT(compressed->size(), size / 2);
    }
    Result<std::string> restored = zstd_decompress(*compressed, limits::kMaxDecompressedBody);
    ASSERT_TRUE(restored.ok()) << size << ": " << restored.status().to_string();
    EXPECT_EQ(*restored, input);
  }
}

TEST(ZstdCodec, RoundTripsIncompressibleData) {
  std::string input = random_bytes(300 * 1024, 7);
  Result<std::string> compressed = zstd_compress(input, 1);
  ASSERT_TRUE(compressed.ok());
  Result<std::string> restored = zstd_decompress(*compressed, input.size());
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ(*restored, input);
}

TEST(ZstdCodec, OutputBoundIsInclusive) {
  std::string input = sample_data(100000);
  Result<std::string> compressed = zstd_compress(input);
  ASSERT_TRUE(compressed.ok());
  EXPECT_TRUE(zstd_decompress(*compressed, input.size()).ok());
  Result<std::string> refused = zstd_decompress(*compressed, input.size() - 1);
  EXPECT_EQ(refused.status().code(), ErrorCode::kTooLarge);
}

TEST(ZstdCodec, RefusesLevelOutOfRange) {
  EXPECT_EQ(zstd_compress("x", 1000).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ZstdCodec, RefusesBombWithoutAllocatingBeyondTheBound) {
  // 1 GiB of zeros in about 32 KiB; the header does not say how large it is.
  std::string bomb = zero_bomb(1024 * kMiB, 20);
  ASSERT_LT(bomb.size(), 64 * 1024u);
  ASSERT_EQ(ZSTD_getFrameContentSize(bomb.data(), bomb.size()), ZSTD_CONTENTSIZE_UNKNOWN);

  reset_largest_allocation();
  Result<std::string> result = zstd_decompress(bomb, 4 * kMiB);
  EXPECT_EQ(result.status().code(), ErrorCode::kTooLarge) << result.status().to_string();
  EXPECT_LE(largest_allocation(), 4 * kMiB + 1);
}

TEST(ZstdCodec, RefusesDeclaredSizeAboveTheBoundBeforeDecoding) {
  std::string input(2 * kMiB, 'a');
  Result<std::string> compressed = zstd_compress(input);
  ASSERT_TRUE(compressed.ok());
  reset_largest_allocation();
  EXPECT_EQ(zstd_decompress(*compressed, kMiB).status().code(), ErrorCode::kTooLarge);
  EXPECT_LT(largest_allocation(), 64 * 1024u);
}

TEST(ZstdCodec, TinyFrameCannotBuyALargeAllocation) {
  // Header: single segment, 4-byte content size of 32 MiB; then one raw last block of 1 byte.
  std::string frame = "\x28\xB5\x2F\xFD";
  frame.push_back(static_cast<char>(0xA0));
  frame.append("\x00\x00\x00\x02", 4);  // 32 MiB, little-endian
  frame.append("\x09\x00\x00", 3);
  frame.push_back('x');
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), 32 * kMiB);
  reset_largest_allocation();
  Result<std::string> result = zstd_decompress(frame, 32 * kMiB);
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
  EXPECT_LT(largest_allocation(), kMiB);
}

TEST(ZstdCodec, RefusesFrameAskingForAHugeWindow) {
  // Frame header: magic, descriptor (no content size, not single-segment), window
  // descriptor for 2^30 bytes, then one raw last block of 1 byte. zstd would allocate the
  // whole window before decoding anything.
  std::string frame = "\x28\xB5\x2F\xFD";
  frame.push_back('\x00');
  frame.push_back(static_cast<char>((30 - 10) << 3));
  frame.append("\x09\x00\x00", 3);  // last block, raw, size 1
  frame.push_back('x');
  Result<std::string> result = zstd_decompress(frame, kMiB);
  EXPECT_EQ(result.status().code(), ErrorCode::kTooLarge) << result.status().to_string();
}

TEST(ZstdCodec, DoesNotTrustAContentSizeThatLies) {
  std::string input = sample_data(1000);
  Result<std::string> compressed = zstd_compress(input);
  ASSERT_TRUE(compressed.ok());
  std::string frame = *compressed;
  // Descriptor byte: single segment, 2-byte content size (value - 256), checksum.
  ASSERT_EQ(static_cast<uint8_t>(frame[4]) & 0xE0, 0x60);
  frame[5] = static_cast<char>(500 - 256);
  frame[6] = 0;
  Result<std::string> result = zstd_decompress(frame, limits::kMaxDecompressedBody);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
}

TEST(ZstdCodec, RefusesEmptyGarbageAndNonZstdInput) {
  EXPECT_EQ(zstd_decompress("", kMiB).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(zstd_decompress("abc", kMiB).status().code(), ErrorCode::kInvalidArgument);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    std::string garbage = random_bytes(1 + seed * 37, seed);
    EXPECT_EQ(zstd_decompress(garbage, kMiB).status().code(), ErrorCode::kInvalidArgument);
    // The right magic number followed by garbage.
    std::string disguised = "\x28\xB5\x2F\xFD" + garbage;
    // Random header fields may also claim a size or window above the bound.
    ErrorCode code = zstd_decompress(disguised, kMiB).status().code();
    EXPECT_TRUE(code == ErrorCode::kInvalidArgument || code == ErrorCode::kTooLarge)
        << seed << ": " << error_code_name(code);
  }
  // A skippable frame holds no content; it is not what a body may be.
  std::string skippable(
      "\x50\x2A\x4D\x18\x04\x00\x00\x00"
      "abcd",
      12);
  EXPECT_EQ(zstd_decompress(skippable, kMiB).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ZstdCodec, RefusesEveryTruncation) {
  std::string input = sample_data(200 * 1024);
  Result<std::string> compressed = zstd_compress(input);
  ASSERT_TRUE(compressed.ok());
  for (size_t cut = 0; cut < compressed->size(); cut += 1 + cut / 8) {
    Result<std::string> result = zstd_decompress(compressed->substr(0, cut), kMiB);
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << "cut at " << cut;
  }
  EXPECT_EQ(zstd_decompress(compressed->substr(0, compressed->size() - 1), kMiB).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ZstdCodec, RefusesTrailingBytesAndSecondFrames) {
  Result<std::string> first = zstd_compress("first");
  Result<std::string> second = zstd_compress("second");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(zstd_decompress(*first + "x", kMiB).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(zstd_decompress(*first + *second, kMiB).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ZstdCodec, DetectsCorruptionThroughTheChecksum) {
  std::string input = sample_data(50000);
  Result<std::string> compressed = zstd_compress(input);
  ASSERT_TRUE(compressed.ok());
  int refused = 0;
  for (size_t at = 8; at < compressed->size(); at += 97) {
    std::string corrupt = *compressed;
    corrupt[at] = static_cast<char>(corrupt[at] ^ 0x10);
    Result<std::string> result = zstd_decompress(corrupt, kMiB);
    ASSERT_FALSE(result.ok()) << "flip at " << at << " went unnoticed";
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
    ++refused;
  }
  EXPECT_GT(refused, 10);
}

// --- streaming --------------------------------------------------------------------------

TEST(ZstdStream, CompressesAcrossMessagesAndDecodesEachImmediately) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  size_t stream_bytes = 0;
  size_t one_shot_bytes = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string message = change_message(i);
    Result<std::string> wire = compressor.compress_message(message);
    ASSERT_TRUE(wire.ok()) << wire.status().to_string();
    stream_bytes += wire->size();
    one_shot_bytes += zstd_compress(message).value().size();
    Result<std::string> decoded = decompressor.decompress_message(*wire);
    ASSERT_TRUE(decoded.ok()) << i << ": " << decoded.status().to_string();
    ASSERT_EQ(*decoded, message);
  }
  EXPECT_LT(stream_bytes, one_shot_bytes / 2)
      << "stream " << stream_bytes << " bytes, one-shot " << one_shot_bytes;
}

TEST(ZstdStream, RoundTripsEmptyAndMultiBlockMessages) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  std::vector<std::string> messages = {
      "", "a", "", sample_data(3 * kMiB, 3), random_bytes(300 * 1024, 4), "", sample_data(100, 5)};
  for (const std::string& message : messages) {
    Result<std::string> wire = compressor.compress_message(message);
    ASSERT_TRUE(wire.ok());
    Result<std::string> decoded = decompressor.decompress_message(*wire);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, message);
  }
}

TEST(ZstdStream, RefusesMessageAboveTheBoundAndIsPoisoned) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  Result<std::string> big = compressor.compress_message(std::string(100000, 'z'));
  Result<std::string> next = compressor.compress_message("next");
  ASSERT_TRUE(big.ok() && next.ok());
  EXPECT_EQ(decompressor.decompress_message(*big, 99999).status().code(), ErrorCode::kTooLarge);
  EXPECT_TRUE(decompressor.poisoned());
  EXPECT_EQ(decompressor.decompress_message(*next).status().code(), ErrorCode::kFailedPrecondition);
}

TEST(ZstdStream, SmallMessageCannotBuyALargeAllocation) {
  StreamDecompressor decompressor;
  // Declares 32 MiB, carries a few bytes of zstd frame header.
  std::string lying = prefix_varint(32 * kMiB, std::string_view("\x28\xB5\x2F\xFD\x00\x30", 6));
  reset_largest_allocation();
  Result<std::string> result = decompressor.decompress_message(lying, 32 * kMiB);
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_LT(largest_allocation(), kMiB);
}

TEST(ZstdStream, RefusesMessageLongerOrShorterThanDeclared) {
  for (int delta : {-1, +1}) {
    StreamCompressor compressor;
    StreamDecompressor decompressor;
    std::string message = sample_data(5000);
    Result<std::string> wire = compressor.compress_message(message);
    ASSERT_TRUE(wire.ok());
    // Replace the two-byte length prefix (5000 needs two varint bytes).
    std::string forged = prefix_varint(message.size() + delta, wire->substr(2));
    Result<std::string> result = decompressor.decompress_message(forged);
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << delta;
    EXPECT_TRUE(decompressor.poisoned());
  }
}

TEST(ZstdStream, DetectsMessageCutAtABlockBoundary) {
  // A flushed multi-block message cut between blocks looks complete to zstd; the length
  // prefix is what catches it.
  StreamCompressor compressor;
  std::string message = random_bytes(400 * 1024, 9);  // stored in raw blocks of 128 KiB
  Result<std::string> wire = compressor.compress_message(message);
  ASSERT_TRUE(wire.ok());
  size_t prefix = varint_length(*wire);
  // Frame header: magic, descriptor 0 (no content size, no checksum), window byte.
  ASSERT_EQ((*wire)[prefix + 4], '\0');
  size_t first_block = prefix + 6;
  uint32_t block_header = static_cast<uint8_t>((*wire)[first_block]) |
                          static_cast<uint8_t>((*wire)[first_block + 1]) << 8 |
                          static_cast<uint8_t>((*wire)[first_block + 2]) << 16;
  ASSERT_EQ(block_header & 1, 0u) << "first block must not be the last";
  size_t first_block_end = first_block + 3 + (block_header >> 3);
  ASSERT_LT(first_block_end, wire->size());
  StreamDecompressor decompressor;
  Result<std::string> result = decompressor.decompress_message(wire->substr(0, first_block_end));
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
}

TEST(ZstdStream, CorruptMessagePoisonsTheDecompressor) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  Result<std::string> first = compressor.compress_message(change_message(1));
  Result<std::string> second = compressor.compress_message(change_message(2));
  Result<std::string> third = compressor.compress_message(change_message(3));
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  ASSERT_TRUE(decompressor.decompress_message(*first).ok());

  std::string corrupt = *second;
  // Keep the length prefix, replace the zstd block header with a reserved block type.
  corrupt.replace(varint_length(corrupt), 3, "\xFF\xFF\xFF");
  Result<std::string> result = decompressor.decompress_message(corrupt);
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
  EXPECT_TRUE(decompressor.poisoned());
  Result<std::string> after = decompressor.decompress_message(*third);
  EXPECT_EQ(after.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("corrupt"), std::string::npos);
}

TEST(ZstdStream, RefusesBadLengthPrefix) {
  for (std::string prefix : {std::string(), std::string("\x80"), std::string(11, '\xFF')}) {
    StreamDecompressor decompressor;
    EXPECT_EQ(decompressor.decompress_message(prefix).status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ZstdStream, RefusesPeerWindowAboveTheLimit) {
  // A peer that ignores kStreamWindowLog: its frame header asks for 1 MiB of history.
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, limits::kStreamWindowLog + 4);
  std::string message = sample_data(300 * 1024);
  std::string wire(ZSTD_compressBound(message.size()) + 64, '\0');
  ZSTD_inBuffer in{message.data(), message.size(), 0};
  ZSTD_outBuffer out{wire.data(), wire.size(), 0};
  while (ZSTD_compressStream2(context, &out, &in, ZSTD_e_flush) != 0) {
  }
  ZSTD_freeCCtx(context);
  wire.resize(out.pos);

  StreamDecompressor decompressor;
  Result<std::string> result = decompressor.decompress_message(prefix_varint(message.size(), wire));
  EXPECT_EQ(result.status().code(), ErrorCode::kTooLarge) << result.status().to_string();
}

// Found by fuzz/zstd_fuzzer.cpp: a stream message in zstd's legacy v0.7 format (magic
// 0xFD2FB527) passed ZSTD_d_windowLogMax, which only applies to current frames, and made
// the decoder allocate 64 MiB from a 16-byte message. The first message must be a
// current-format frame. (The reproducer is also a seed of the zstd fuzz target, which runs
// with -malloc_limit_mb=64.)
TEST(ZstdStream, RefusesALegacyFormatFrame) {
  const std::string legacy("\x27\xb5\x2f\xfd\x00\x80\xd7\x00\x00\x27\x00\xd7\x30\xd7\x64", 15);
  StreamDecompressor decompressor;
  Result<std::string> result = decompressor.decompress_message(prefix_varint(36, legacy));
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
  EXPECT_NE(result.status().message().find("not a zstd frame"), std::string::npos)
      << result.status().to_string();
  EXPECT_TRUE(decompressor.poisoned());
}

// The stream's one zstd frame never ends; a peer that ends it could start a second frame
// (a legacy one, or one with another window) mid-connection.
TEST(ZstdStream, RefusesAMessageThatEndsTheFrame) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, limits::kStreamWindowLog);
  const std::string message = "hello, stream";
  std::string wire(ZSTD_compressBound(message.size()) + 64, '\0');
  ZSTD_inBuffer in{message.data(), message.size(), 0};
  ZSTD_outBuffer out{wire.data(), wire.size(), 0};
  while (ZSTD_compressStream2(context, &out, &in, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(context);
  wire.resize(out.pos);
  StreamDecompressor decompressor;
  Result<std::string> result = decompressor.decompress_message(prefix_varint(message.size(), wire));
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument) << result.status().to_string();
  EXPECT_TRUE(decompressor.poisoned());
}

TEST(ZstdStream, BombInsideAStreamIsRefused) {
  std::string bomb = zero_bomb(256 * kMiB);
  StreamDecompressor decompressor;
  reset_largest_allocation();
  // Declared honestly, but above the bound.
  EXPECT_EQ(decompressor.decompress_message(prefix_varint(256 * kMiB, bomb)).status().code(),
            ErrorCode::kTooLarge);
  // Declared small: decoding stops one byte past the declaration.
  StreamDecompressor second;
  EXPECT_EQ(second.decompress_message(prefix_varint(1000, bomb)).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_LT(largest_allocation(), kMiB);
}

TEST(ZstdStream, MovesAndRefusesUseAfterMove) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  ASSERT_TRUE(decompressor.decompress_message(compressor.compress_message("one").value()).ok());
  StreamCompressor moved_compressor = std::move(compressor);
  StreamDecompressor moved_decompressor = std::move(decompressor);
  Result<std::string> wire = moved_compressor.compress_message("two");
  ASSERT_TRUE(wire.ok());
  Result<std::string> decoded = moved_decompressor.decompress_message(*wire);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "two");
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is what is tested.
  EXPECT_EQ(compressor.compress_message("x").status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(decompressor.decompress_message(*wire).status().code(), ErrorCode::kFailedPrecondition);
}

// An idle connection that never sends or receives holds no zstd state (decision 033).
TEST(ZstdStream, ContextsAreCreatedByTheFirstMessage) {
  StreamCompressor compressor;
  StreamDecompressor decompressor;
  EXPECT_FALSE(compressor.holds_context());
  EXPECT_FALSE(decompressor.holds_context());
  Result<std::string> wire = compressor.compress_message("first");
  ASSERT_TRUE(wire.ok());
  EXPECT_TRUE(compressor.holds_context());
  EXPECT_FALSE(decompressor.holds_context());
  Result<std::string> decoded = decompressor.decompress_message(*wire);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "first");
  EXPECT_TRUE(decompressor.holds_context());
  // A moved-to object keeps the history; moving it on keeps it working.
  StreamCompressor later = std::move(compressor);
  StreamDecompressor later_decompressor;
  later_decompressor = std::move(decompressor);
  Result<std::string> second = later.compress_message("first again");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(later_decompressor.decompress_message(*second).value(), "first again");
}

TEST(ZstdStream, BadLevelPoisonsTheCompressor) {
  StreamCompressor compressor(1000);
  EXPECT_TRUE(compressor.poisoned());
  Result<std::string> result = compressor.compress_message("x");
  EXPECT_EQ(result.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("level"), std::string::npos);
}

}  // namespace
}  // namespace outpost
