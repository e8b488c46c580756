#include "support/views.h"

namespace outpost::support {
namespace {

void add_error(RecordView& out, const Status& status) {
  auto& entry = out[kViewErrorKey];
  entry.second += status.to_string() + "\n";
}

}  // namespace

RecordView server_view(ServerStore& store, const std::vector<std::string>& scopes) {
  RecordView out;
  for (const std::string& scope : scopes) {
    SnapshotPosition after;
    for (;;) {
      auto page = store.read_snapshot(scope, after, 5000, 16 << 20);
      if (!page.ok()) {
        add_error(out, page.status());
        break;
      }
      for (const auto& item : page->records) {
        out[item.record.collection + "/" + item.record.key] = {item.record.version,
                                                               item.record.body};
      }
      if (!page->has_more) break;
      after = page->next;
    }
  }
  return out;
}

RecordView device_view(ReplicaReader replica, std::optional<Scope> scope) {
  RecordView out;
  for (const auto& collection : replica.schema().collections()) {
    if (scope && collection->scope != *scope) continue;
    auto rows = replica.sql("SELECT " + collection->key_field->name() +
                            ", _version, _body FROM c_" + collection->name);
    if (!rows.ok()) {
      add_error(out, rows.status());
      continue;
    }
    for (const auto& row : rows->rows) {
      out[collection->name + "/" + std::get<std::string>(row[0])] = {
          static_cast<uint64_t>(std::get<int64_t>(row[1])), std::get<std::string>(row[2])};
    }
  }
  return out;
}

}  // namespace outpost::support
