// Local days of the contact center: the journal holds "today's" interactions and the
// Nordic auto-ready may not pass midnight, both in the org's time zone (org_setting
// "utc_offset_minutes"). Arithmetic on times the caller passes in: no clock here.
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/mutator.h"

namespace outpost {

inline constexpr char kUtcOffsetSetting[] = "utc_offset_minutes";
// org_setting: how many local days the journal keeps (1 = today only).
inline constexpr char kJournalDaysSetting[] = "journal_days";
inline constexpr int32_t kMaxUtcOffsetMinutes = 14 * 60;

// Days since 1970-01-01 in local time.
int64_t local_day(int64_t utc_ms, int32_t offset_minutes);
// "YYYY-MM-DD" of a local day number.
std::string day_string(int64_t day);
// The first UTC millisecond of a local day.
int64_t local_day_start_ms(int64_t day, int32_t offset_minutes);
// "+120", "-300", "60"; anything else, or beyond ±14 h, is 0.
int32_t parse_utc_offset(std::string_view value);

// The org's offset, read in a mutation's transaction (0 when unset).
Result<int32_t> org_utc_offset(MutationContext& ctx);

}  // namespace outpost
