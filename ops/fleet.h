// The fleet as the server sees it, in memory, for the console: every device that made a
// request (last seen, streaming or not, the facts it reported, how far its cursors are
// behind each scope's head in changes and in time), the newest rejected mutations with
// their reasons, and per-scope log heads and compaction horizons. Everything is bounded:
// past max_devices (max_scopes) the least recently seen device (scope) is forgotten;
// rejections and each scope's head history are rings. Nothing is persisted: a restarted
// server learns its fleet again as devices come back.
// Thread rules: every method is safe from any thread (one mutex). Times are passed in
// (milliseconds since the epoch): the fleet reads no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/limits.h"
#include "engine/server_core.h"
#include "outpost/protocol.pb.h"

namespace outpost::ops {

struct FleetOptions {
  size_t max_devices = 100000;
  size_t max_scopes = 200000;
  size_t max_rejections = 200;
  // Head moves remembered per scope, to tell how long ago a cursor fell behind.
  size_t head_history = 64;
  size_t max_app_version = limits::kMaxAppVersionBytes;
};

struct DeviceRow {
  std::string tenant;
  std::string user;
  std::string device;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  bool live = false;  // a stream is open
  std::string app_version;
  uint64_t outbox_depth = 0;
  int64_t last_sync_ms = 0;
  bool reported = false;     // sent a DeviceReport
  uint64_t lag_changes = 0;  // sum over its scopes of head - cursor
  int64_t lag_ms = 0;        // how long its oldest missing change has waited
  uint64_t pushes = 0;
  uint64_t pulls = 0;
  uint64_t rejected = 0;
};

struct RejectionRow {
  int64_t at_ms = 0;
  std::string tenant;
  std::string user;
  std::string device;
  uint64_t mutation_id = 0;
  std::string code;
  std::string reason;
};

struct ScopeRow {
  std::string scope;
  uint64_t head_seq = 0;
  uint64_t horizon_seq = 0;
  int64_t head_moved_ms = 0;
  int64_t compacted_ms = 0;
};

struct TenantRow {
  std::string tenant;
  size_t devices = 0;
  size_t live = 0;
  size_t behind = 0;  // lag_changes > 0
  uint64_t outbox = 0;
  uint64_t rejected = 0;
};

struct DevicePage {
  size_t total = 0;  // devices matching the filter
  std::vector<DeviceRow> rows;
};

struct FleetSummary {
  size_t devices = 0;
  size_t live = 0;
  size_t behind = 0;
  size_t scopes = 0;
  uint64_t rejections = 0;
  uint64_t version = 0;  // moves whenever anything shown changed
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options = {});

  // A request (push or pull) by `who`; its report when it carried one.
  void seen(const Principal& who, int64_t now_ms, const protocol::DeviceReport* report, bool push);
  // A pull: the cursors it named, and those its response (when it succeeded) hands the
  // device (where it will be once applied) with the heads it saw.
  void pulled(const Principal& who, const protocol::PullRequest& request,
              const protocol::PullResponse* response, int64_t now_ms);
  void rejected(const Principal& who, const protocol::MutationResult& result, int64_t now_ms);
  void stream_opened(const Principal& who, int64_t now_ms);
  void stream_closed(const Principal& who, int64_t now_ms);
  void head_moved(const std::string& scope, uint64_t head_seq, int64_t now_ms);
  void compacted(const std::string& scope, uint64_t horizon_seq, int64_t now_ms);

  FleetSummary summary(int64_t now_ms) const;
  std::vector<TenantRow> tenants(int64_t now_ms) const;
  // Devices ordered by tenant, user, device; `tenant` empty: all. `behind_only`: lag > 0.
  DevicePage devices(int64_t now_ms, size_t offset, size_t limit, const std::string& tenant = {},
                     bool behind_only = false) const;
  std::vector<RejectionRow> rejections(size_t limit) const;
  // Scopes ordered by name; total in `total`.
  std::vector<ScopeRow> scopes(size_t offset, size_t limit, size_t* total) const;
  size_t device_count() const;
  size_t live_count() const;
  uint64_t evicted_devices() const;

 private:
  struct Device {
    DeviceRow row;
    std::map<std::string, uint64_t> cursors;  // scope -> delivered seq
    int streams = 0;
  };
  struct Scope {
    ScopeRow row;
    std::deque<std::pair<uint64_t, int64_t>> history;  // (head seq, when), oldest first
  };
  using Key = std::string;  // tenant \x1f user \x1f device

  Device& device_locked(const Principal& who, int64_t now_ms);
  Scope& scope_locked(const std::string& scope, int64_t now_ms);
  void head_moved_locked(const std::string& scope, uint64_t head_seq, int64_t now_ms);
  DeviceRow view_locked(const Device& device, int64_t now_ms) const;
  void evict_devices_locked();
  void evict_scopes_locked();

  FleetOptions options_;
  mutable std::mutex mutex_;
  std::map<Key, Device> devices_;  // ordered: pages by tenant, user, device
  std::map<std::string, Scope> scopes_;
  std::deque<RejectionRow> rejections_;
  uint64_t rejection_total_ = 0;
  uint64_t version_ = 0;
  uint64_t evicted_devices_ = 0;
  size_t live_ = 0;
};

}  // namespace outpost::ops
