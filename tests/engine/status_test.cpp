#include "engine/status.h"

#include <gtest/gtest.h>

namespace outpost {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) return error(ErrorCode::kInvalidArgument, "not positive");
  return value;
}

Status twice_positive(int value, int* out) {
  OUTPOST_ASSIGN_OR_RETURN(int parsed, parse_positive(value));
  *out = parsed * 2;
  return Status::Ok();
}

TEST(Status, CarriesCodeAndMessage) {
  Status status = error(ErrorCode::kNotFound, "unknown collection 'foo'");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.to_string(), "not_found: unknown collection 'foo'");
  EXPECT_EQ(status.with_context("get").message(), "get: unknown collection 'foo'");
}

TEST(Status, CodeNamesRoundTrip) {
  for (ErrorCode code : {ErrorCode::kTooLarge, ErrorCode::kSchemaTooNew, ErrorCode::kRejected}) {
    EXPECT_EQ(error_code_from_name(error_code_name(code)), code);
  }
  EXPECT_EQ(error_code_from_name("no such code"), ErrorCode::kInternal);
}

TEST(Result, AssignOrReturnPropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(twice_positive(21, &out).ok());
  EXPECT_EQ(out, 42);
  Status failed = twice_positive(-1, &out);
  EXPECT_EQ(failed.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(out, 42);
}

}  // namespace
}  // namespace outpost
