// The bounded zstd codec (transport/zstd_codec.h) on hostile and on round-tripped input:
//   byte 0 % 3 == 0: zstd_decompress(rest, bound) with bound = 2^(byte 1 % 26) bytes:
//                    bombs, truncation and garbage must fail cleanly within the bound;
//                 1: zstd_compress(rest) then zstd_decompress: the same bytes come back,
//                    and a bound one byte short is kTooLarge;
//                 2: the messages of one stream (2-byte little-endian length prefix each)
//                    through StreamDecompressor, each bounded by 2^(byte 1 % 26).
//                 3: standalone message frames (stream format 2, decision 039), prefixed
//                    the same way, through zstd_decompress_message_frame with that bound:
//                    each decodes alone within it or fails cleanly, a failure leaves nothing
//                    behind (a known good frame still decodes), and what decoded round-trips.
// Run with -malloc_limit_mb (scripts/fuzz does) so an allocation past the bound crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "transport/zstd_codec.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;

void decompress(std::string_view input, size_t bound) {
  auto plain = outpost::zstd_decompress(input, bound);
  check_code(plain.status(), {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge},
             "zstd_decompress");
  if (!plain.ok()) return;
  check(plain->size() <= bound, "zstd_decompress returned more than its bound");
  // What decoded once decodes again from our own encoding.
  auto again = outpost::zstd_compress(plain.value());
  check(again.ok(), "zstd_compress failed on decoded bytes");
  auto back = outpost::zstd_decompress(again.value(), bound);
  check(back.ok() && back.value() == plain.value(), "zstd round trip changed the bytes");
}

void round_trip(std::string_view input) {
  auto compressed = outpost::zstd_compress(input);
  check(compressed.ok(), "zstd_compress failed");
  auto back = outpost::zstd_decompress(compressed.value(), input.size());
  check(back.ok() && back.value() == input, "zstd round trip changed the bytes");
  if (!input.empty()) {
    auto short_bound = outpost::zstd_decompress(compressed.value(), input.size() - 1);
    check(short_bound.status().code() == ErrorCode::kTooLarge,
          "a bound one byte short was not kTooLarge");
  }
}

void stream(std::string_view rest, size_t bound) {
  outpost::StreamDecompressor decompressor;
  for (std::string_view message; outpost::fuzz::next_message(rest, message);) {
    bool was_poisoned = decompressor.poisoned();
    auto plain = decompressor.decompress_message(message, bound);
    check_code(plain.status(),
               {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge, ErrorCode::kFailedPrecondition},
               "decompress_message");
    if (was_poisoned) check(!plain.ok(), "a poisoned stream decoded another message");
    if (!plain.ok()) check(decompressor.poisoned(), "a failed message left the stream usable");
    if (plain.ok()) check(plain->size() <= bound, "decompress_message passed its bound");
  }
}

void message_frames(std::string_view rest, size_t bound) {
  static const std::string kGood = "a known good message, decoded after every other one";
  static const std::string kGoodFrame = outpost::zstd_compress_message_frame(kGood).value();
  for (std::string_view message; outpost::fuzz::next_message(rest, message);) {
    auto plain = outpost::zstd_decompress_message_frame(message, bound);
    check_code(plain.status(), {ErrorCode::kInvalidArgument, ErrorCode::kTooLarge},
               "zstd_decompress_message_frame");
    if (plain.ok()) {
      check(plain->size() <= bound, "zstd_decompress_message_frame passed its bound");
      auto again = outpost::zstd_compress_message_frame(plain.value());
      check(again.ok(), "zstd_compress_message_frame failed on decoded bytes");
      auto back = outpost::zstd_decompress_message_frame(again.value(), bound);
      check(back.ok() && back.value() == plain.value(), "message frame round trip changed bytes");
    }
    auto good = outpost::zstd_decompress_message_frame(kGoodFrame);
    check(good.ok() && good.value() == kGood, "a message left state behind for the next one");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t bound = size_t{1} << (data[1] % 26);
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 4) {
    case 0:
      decompress(rest, bound);
      break;
    case 1:
      round_trip(rest);
      break;
    case 2:
      stream(rest, bound);
      break;
    default:
      message_frames(rest, bound);
  }
  return 0;
}
