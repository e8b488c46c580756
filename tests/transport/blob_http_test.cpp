// The decoders of the blob routes (transport/blob_http.h): targets, Range, upload headers.
#include "transport/blob_http.h"

#include <gtest/gtest.h>

namespace outpost {
namespace {

using blob_http::parse_range;
using blob_http::parse_target;
using blob_http::parse_upload_headers;

const std::string kHex = sha256_of("abc").hex();

TEST(BlobHttpRange, WholeBlobAndTheThreeRangeForms) {
  auto whole = parse_range("", 100);
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->partial);
  EXPECT_EQ(whole->length, 100u);
  struct Case {
    const char* header;
    uint64_t first, length;
  };
  for (const Case& c :
       {Case{"bytes=0-0", 0, 1}, Case{"bytes=10-19", 10, 10}, Case{"bytes=50-", 50, 50},
        Case{"bytes=90-1000", 90, 10}, Case{"bytes=-30", 70, 30}, Case{"bytes=-1000", 0, 100}}) {
    auto range = parse_range(c.header, 100);
    ASSERT_TRUE(range.ok()) << c.header;
    EXPECT_TRUE(range->partial);
    EXPECT_EQ(range->first, c.first) << c.header;
    EXPECT_EQ(range->length, c.length) << c.header;
  }
}

TEST(BlobHttpRange, AbusiveAndMalformedRangesAreRefused) {
  for (const char* header : {"bytes=0-1,2-3", "bytes=0-1,0-1,0-1", "items=0-1", "bytes=", "bytes=-",
                             "bytes=a-b", "bytes= 1-2", "bytes=5-4", "bytes=99999999999999999999-",
                             "bytes=1-2 ", "Bytes=1-2", "bytes=+1-2", "bytes=0x10-"}) {
    EXPECT_EQ(parse_range(header, 100).status().code(), ErrorCode::kInvalidArgument) << header;
  }
  EXPECT_EQ(parse_range("bytes=" + std::string(200, '1') + "-", 100).status().code(),
            ErrorCode::kInvalidArgument);
  for (const char* header : {"bytes=100-", "bytes=100-200", "bytes=-0"}) {
    EXPECT_EQ(parse_range(header, 100).status().code(), ErrorCode::kOutOfRange) << header;
  }
  EXPECT_EQ(parse_range("bytes=0-", 0).status().code(), ErrorCode::kOutOfRange);
}

TEST(BlobHttpTarget, DownloadsNameTheirReference) {
  auto target = parse_target("/v1/blobs/" + kHex + "?x=1&ref=voicemail/voicemail%2D5");
  ASSERT_TRUE(target.ok()) << target.status().to_string();
  EXPECT_FALSE(target->upload);
  EXPECT_EQ(target->hash.hex(), kHex);
  EXPECT_EQ(target->ref_collection, "voicemail");
  EXPECT_EQ(target->ref_key, "voicemail-5");
  auto slash_in_key = parse_target("/v1/blobs/" + kHex + "?ref=draft/a/b");
  ASSERT_TRUE(slash_in_key.ok());
  EXPECT_EQ(slash_in_key->ref_key, "a/b");
  auto upload = parse_target("/v1/uploads/" + kHex);
  ASSERT_TRUE(upload.ok());
  EXPECT_TRUE(upload->upload);
}

TEST(BlobHttpTarget, MalformedTargetsAreRefused) {
  EXPECT_EQ(parse_target("/v1/other/" + kHex).status().code(), ErrorCode::kNotFound);
  for (const std::string& target :
       {"/v1/blobs/" + kHex, "/v1/blobs/" + kHex + "?ref=", "/v1/blobs/" + kHex + "?ref=voicemail",
        "/v1/blobs/" + kHex + "?ref=/k", "/v1/blobs/" + kHex + "?ref=c/",
        "/v1/blobs/" + kHex + "?ref=c/k&ref=c/k", "/v1/blobs/" + kHex + "?ref=c/%4",
        "/v1/blobs/" + kHex + "?ref=c/%zz", "/v1/blobs/" + kHex + "?ref=c/" + std::string(600, 'k'),
        "/v1/blobs/" + kHex.substr(1) + "?ref=c/k", "/v1/uploads/" + kHex + "/x",
        std::string("/v1/blobs/?ref=c/k")}) {
    EXPECT_EQ(parse_target(target).status().code(), ErrorCode::kInvalidArgument) << target;
  }
}

TEST(BlobHttpUpload, HeadersAreDecimal) {
  auto headers = parse_upload_headers("4194304", "10000000");
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(headers->offset, 4194304u);
  EXPECT_EQ(headers->total, 10000000u);
  for (auto [offset, length] :
       std::vector<std::pair<std::string, std::string>>{{"", "1"},
                                                        {"1", ""},
                                                        {"-1", "5"},
                                                        {"1", "0x5"},
                                                        {" 1", "5"},
                                                        {"99999999999999999999", "5"}}) {
    EXPECT_EQ(parse_upload_headers(offset, length).status().code(), ErrorCode::kInvalidArgument)
        << offset << " " << length;
  }
}

}  // namespace
}  // namespace outpost
