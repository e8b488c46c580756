#include "transport/base64url.h"

#include <gtest/gtest.h>

#include <random>

namespace outpost {
namespace {

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlAlphabet) {
  EXPECT_EQ(base64url_encode("\xFB\xFF\xBF"), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_").value(), "\xFB\xFF\xBF");
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::mt19937 random(42);
  for (size_t length = 0; length < 100; ++length) {
    std::string bytes(length, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.size(), (length * 4 + 2) / 3);
    Result<std::string> decoded = base64url_decode(text);
    ASSERT_TRUE(decoded.ok()) << text;
    EXPECT_EQ(*decoded, bytes);
  }
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  EXPECT_EQ(base64url_decode(base64url_encode(all_bytes)).value(), all_bytes);
}

TEST(Base64Url, RefusesInvalidText) {
  for (std::string_view bad : {
           "Zg==",   // padding
           "Z",      // 4n+1 characters encode nothing
           "Zm9vY",  // likewise
           "Zm9v!",  // outside the alphabet
           "Zm+v",   // standard base64, not base64url
           "Zm/v",   // likewise
           "Zm 9v",  // whitespace
           "Zh",     // trailing bits set: not the canonical spelling of "f"
           "Zm9",    // canonical "fo" is "Zm8"
       }) {
    Result<std::string> decoded = base64url_decode(bad);
    EXPECT_EQ(decoded.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(base64url_decode(std::string_view("Zm\0v", 4)).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(base64url_decode("\xC3\xA9"
                             "AA")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace outpost
