#include "ops/fleet.h"

#include <algorithm>

namespace outpost::ops {
namespace {

constexpr char kSeparator = '\x1f';

std::string key_of(const Principal& who) {
  return who.tenant + kSeparator + who.user + kSeparator + who.device;
}

}  // namespace

Fleet::Fleet(FleetOptions options) : options_(options) {}

Fleet::Device& Fleet::device_locked(const Principal& who, int64_t now_ms) {
  Key key = key_of(who);
  auto it = devices_.find(key);
  if (it != devices_.end()) {
    it->second.row.last_seen_ms = std::max(it->second.row.last_seen_ms, now_ms);
    return it->second;
  }
  if (devices_.size() >= options_.max_devices) evict_devices_locked();
  Device& device = devices_[key];
  device.row.tenant = who.tenant;
  device.row.user = who.user;
  device.row.device = who.device;
  device.row.first_seen_ms = now_ms;
  device.row.last_seen_ms = now_ms;
  return device;
}

// Forgets the least recently seen devices without a stream: about 1% at a time, so a full
// fleet pays the scan once per hundredth of its size.
void Fleet::evict_devices_locked() {
  size_t target = std::max<size_t>(1, options_.max_devices / 100);
  std::vector<std::pair<int64_t, Key>> idle;
  for (const auto& [key, device] : devices_) {
    if (device.streams == 0) idle.emplace_back(device.row.last_seen_ms, key);
  }
  target = std::min(target, idle.size());
  std::partial_sort(idle.begin(), idle.begin() + target, idle.end());
  for (size_t i = 0; i < target; ++i) devices_.erase(idle[i].second);
  evicted_devices_ += target;
}

Fleet::Scope& Fleet::scope_locked(const std::string& scope, int64_t now_ms) {
  auto it = scopes_.find(scope);
  if (it != scopes_.end()) return it->second;
  if (scopes_.size() >= options_.max_scopes) evict_scopes_locked();
  Scope& entry = scopes_[scope];
  entry.row.scope = scope;
  return entry;
}

void Fleet::evict_scopes_locked() {
  size_t target = std::max<size_t>(1, options_.max_scopes / 100);
  std::vector<std::pair<int64_t, std::string>> oldest;
  for (const auto& [name, scope] : scopes_) oldest.emplace_back(scope.row.head_moved_ms, name);
  target = std::min(target, oldest.size());
  std::partial_sort(oldest.begin(), oldest.begin() + target, oldest.end());
  for (size_t i = 0; i < target; ++i) scopes_.erase(oldest[i].second);
}

void Fleet::seen(const Principal& who, int64_t now_ms, const protocol::DeviceReport* report,
                 bool push) {
  std::lock_guard lock(mutex_);
  Device& device = device_locked(who, now_ms);
  if (push) {
    ++device.row.pushes;
  } else {
    ++device.row.pulls;
  }
  if (report != nullptr) {
    device.row.reported = true;
    device.row.app_version = report->app_version().substr(0, options_.max_app_version);
    device.row.outbox_depth = report->outbox_depth();
    device.row.last_sync_ms = std::max(device.row.last_sync_ms, report->last_sync_ms());
  }
  ++version_;
}

void Fleet::pulled(const Principal& who, const protocol::PullRequest& request,
                   const protocol::PullResponse* response, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Device& device = device_locked(who, now_ms);
  // Where the device says it is, then where this answer moves it once applied (a fetch
  // answer or an urgent preview carries no cursor: the max keeps the request's).
  // The request's cursor is authoritative (a device that starts a scope over goes back).
  for (const auto& cursor : request.cursors()) {
    if (!who.may_read(cursor.scope())) continue;
    device.cursors[cursor.scope()] = cursor.seq();
    scope_locked(cursor.scope(), now_ms);
  }
  if (response == nullptr) return;
  // A complete answer (nothing more to read, no reset under way) caught the device up, as
  // far as the server can tell: its own "last full sync" when the device reports none.
  bool complete = true;
  for (const auto& scope : response->scopes()) complete &= !scope.has_more() && !scope.reset();
  if (complete && request.fetch_size() == 0) {
    device.row.last_sync_ms = std::max(device.row.last_sync_ms, now_ms);
  }
  for (const auto& scope : response->scopes()) {
    if (!who.may_read(scope.scope())) continue;
    uint64_t& known = device.cursors[scope.scope()];
    known = std::max(known, scope.cursor());
    Scope& entry = scope_locked(scope.scope(), now_ms);
    if (scope.head_seq() > entry.row.head_seq) entry.row.head_seq = scope.head_seq();
  }
  ++version_;
}

void Fleet::rejected(const Principal& who, const protocol::MutationResult& result, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Device& device = device_locked(who, now_ms);
  // A retried push answers its recorded rejections again: show each once.
  for (const RejectionRow& seen : rejections_) {
    if (seen.mutation_id == result.id() && seen.device == who.device && seen.user == who.user &&
        seen.tenant == who.tenant) {
      return;
    }
  }
  ++device.row.rejected;
  RejectionRow row;
  row.at_ms = now_ms;
  row.tenant = who.tenant;
  row.user = who.user;
  row.device = who.device;
  row.mutation_id = result.id();
  row.code = result.code();
  row.reason = result.reason().substr(0, 512);
  rejections_.push_front(std::move(row));
  if (rejections_.size() > options_.max_rejections) rejections_.pop_back();
  ++rejection_total_;
  ++version_;
}

void Fleet::stream_opened(const Principal& who, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Device& device = device_locked(who, now_ms);
  if (device.streams++ == 0) ++live_;
  ++version_;
}

void Fleet::stream_closed(const Principal& who, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = devices_.find(key_of(who));
  if (it == devices_.end() || it->second.streams == 0) return;
  it->second.row.last_seen_ms = std::max(it->second.row.last_seen_ms, now_ms);
  if (--it->second.streams == 0) --live_;
  ++version_;
}

void Fleet::head_moved(const std::string& scope, uint64_t head_seq, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  head_moved_locked(scope, head_seq, now_ms);
}

void Fleet::head_moved_locked(const std::string& scope, uint64_t head_seq, int64_t now_ms) {
  Scope& entry = scope_locked(scope, now_ms);
  if (head_seq <= entry.row.head_seq && !entry.history.empty()) return;
  entry.row.head_seq = std::max(entry.row.head_seq, head_seq);
  entry.row.head_moved_ms = now_ms;
  entry.history.emplace_back(head_seq, now_ms);
  if (entry.history.size() > options_.head_history) entry.history.pop_front();
  ++version_;
}

void Fleet::compacted(const std::string& scope, uint64_t horizon_seq, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Scope& entry = scope_locked(scope, now_ms);
  entry.row.horizon_seq = std::max(entry.row.horizon_seq, horizon_seq);
  entry.row.compacted_ms = now_ms;
  ++version_;
}

DeviceRow Fleet::view_locked(const Device& device, int64_t now_ms) const {
  DeviceRow row = device.row;
  row.live = device.streams > 0;
  row.lag_changes = 0;
  row.lag_ms = 0;
  for (const auto& [name, cursor] : device.cursors) {
    auto it = scopes_.find(name);
    if (it == scopes_.end() || it->second.row.head_seq <= cursor) continue;
    const Scope& scope = it->second;
    row.lag_changes += scope.row.head_seq - cursor;
    // The first head move past the cursor is when the device fell behind; when the
    // history no longer reaches back that far, its oldest entry is a lower bound.
    int64_t since = 0;
    for (const auto& [seq, when] : scope.history) {
      if (seq > cursor) {
        since = when;
        break;
      }
    }
    if (since > 0) row.lag_ms = std::max(row.lag_ms, std::max<int64_t>(0, now_ms - since));
  }
  return row;
}

FleetSummary Fleet::summary(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  FleetSummary out;
  out.devices = devices_.size();
  out.live = live_;
  for (const auto& [key, device] : devices_) {
    if (view_locked(device, now_ms).lag_changes > 0) ++out.behind;
  }
  out.scopes = scopes_.size();
  out.rejections = rejection_total_;
  out.version = version_;
  return out;
}

std::vector<TenantRow> Fleet::tenants(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<TenantRow> out;
  for (const auto& [key, device] : devices_) {
    if (out.empty() || out.back().tenant != device.row.tenant) {
      out.emplace_back();
      out.back().tenant = device.row.tenant;
    }
    TenantRow& tenant = out.back();
    DeviceRow row = view_locked(device, now_ms);
    ++tenant.devices;
    if (row.live) ++tenant.live;
    if (row.lag_changes > 0) ++tenant.behind;
    tenant.outbox += row.outbox_depth;
    tenant.rejected += row.rejected;
  }
  return out;
}

DevicePage Fleet::devices(int64_t now_ms, size_t offset, size_t limit, const std::string& tenant,
                          bool behind_only) const {
  std::lock_guard lock(mutex_);
  DevicePage page;
  auto it = tenant.empty() ? devices_.begin() : devices_.lower_bound(tenant + kSeparator);
  for (; it != devices_.end(); ++it) {
    if (!tenant.empty() && it->second.row.tenant != tenant) break;
    if (behind_only || (page.total >= offset && page.rows.size() < limit)) {
      DeviceRow row = view_locked(it->second, now_ms);
      if (behind_only && row.lag_changes == 0) continue;
      if (page.total >= offset && page.rows.size() < limit) page.rows.push_back(std::move(row));
    }
    ++page.total;
  }
  return page;
}

std::vector<RejectionRow> Fleet::rejections(size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<RejectionRow> out;
  for (const auto& row : rejections_) {
    if (out.size() >= limit) break;
    out.push_back(row);
  }
  return out;
}

std::vector<ScopeRow> Fleet::scopes(size_t offset, size_t limit, size_t* total) const {
  std::lock_guard lock(mutex_);
  std::vector<ScopeRow> out;
  size_t index = 0;
  for (const auto& [name, scope] : scopes_) {
    if (index++ < offset) continue;
    if (out.size() >= limit) break;
    out.push_back(scope.row);
  }
  if (total) *total = scopes_.size();
  return out;
}

size_t Fleet::device_count() const {
  std::lock_guard lock(mutex_);
  return devices_.size();
}

size_t Fleet::live_count() const {
  std::lock_guard lock(mutex_);
  return live_;
}

uint64_t Fleet::evicted_devices() const {
  std::lock_guard lock(mutex_);
  return evicted_devices_;
}

}  // namespace outpost::ops
