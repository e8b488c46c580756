#include "engine/domain_time.h"

#include <charconv>
#include <cstdio>

#include "outpost/domain.pb.h"

namespace outpost {

namespace {
constexpr int64_t kDayMs = 86'400'000;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
}  // namespace

int64_t local_day(int64_t utc_ms, int32_t offset_minutes) {
  return floor_div(utc_ms + int64_t{offset_minutes} * 60'000, kDayMs);
}

int64_t local_day_start_ms(int64_t day, int32_t offset_minutes) {
  return day * kDayMs - int64_t{offset_minutes} * 60'000;
}

std::string day_string(int64_t day) {
  // Civil-from-days (Howard Hinnant's algorithm).
  int64_t z = day + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t dom = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++year;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02d", static_cast<long long>(year),
                static_cast<int>(month), static_cast<int>(dom));
  return buffer;
}

int32_t parse_utc_offset(std::string_view value) {
  if (!value.empty() && value.front() == '+') value.remove_prefix(1);
  int32_t minutes = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), minutes);
  if (ec != std::errc() || end != value.data() + value.size()) return 0;
  if (minutes > kMaxUtcOffsetMinutes || minutes < -kMaxUtcOffsetMinutes) return 0;
  return minutes;
}

Result<int32_t> org_utc_offset(MutationContext& ctx) {
  OUTPOST_ASSIGN_OR_RETURN(auto setting, ctx.get<domain::OrgSetting>(kUtcOffsetSetting));
  return setting ? parse_utc_offset(setting->value()) : 0;
}

}  // namespace outpost
