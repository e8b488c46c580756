#include "engine/domain_time.h"

#include <gtest/gtest.h>

namespace outpost {
namespace {

TEST(DomainTime, LocalDaysFollowTheOffset) {
  const int64_t t = 1'795'000'000'000;  // 2026-11-18 11:06:40 UTC
  EXPECT_EQ(day_string(local_day(t, 0)), "2026-11-18");
  EXPECT_EQ(day_string(local_day(t, 13 * 60)), "2026-11-19");   // 00:06 the next day
  EXPECT_EQ(day_string(local_day(t, -12 * 60)), "2026-11-17");  // 23:06 the day before
  EXPECT_EQ(day_string(0), "1970-01-01");
  EXPECT_EQ(day_string(-1), "1969-12-31");
  EXPECT_EQ(day_string(local_day(951'782'400'000, 0)), "2000-02-29");
  int64_t day = local_day(t, 60);
  EXPECT_EQ(local_day(local_day_start_ms(day, 60), 60), day);
  EXPECT_EQ(local_day(local_day_start_ms(day, 60) - 1, 60), day - 1);
}

TEST(DomainTime, OffsetsParseWithinFourteenHours) {
  EXPECT_EQ(parse_utc_offset("+120"), 120);
  EXPECT_EQ(parse_utc_offset("-300"), -300);
  EXPECT_EQ(parse_utc_offset("60"), 60);
  EXPECT_EQ(parse_utc_offset("900"), 0);  // beyond +14 h
  EXPECT_EQ(parse_utc_offset("1h"), 0);
  EXPECT_EQ(parse_utc_offset(""), 0);
}

}  // namespace
}  // namespace outpost
