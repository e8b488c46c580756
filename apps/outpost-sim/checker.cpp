#include "apps/outpost-sim/checker.h"

#include <map>
#include <set>

#include "outpost/domain.pb.h"
#include "support/views.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;
using support::RecordView;

constexpr size_t kMaxShownDifferences = 5;
constexpr size_t kMaxHistory = 14;

std::string client_key(const Principal& who, const std::string& client_id) {
  return who.tenant + "/" + who.user + "/" + client_id;  // as engine/server_core.cpp keys it
}

std::string device_term(int index) {
  return "d" + std::to_string(index);
}

void check_mutations(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server,
                     const Ledger& ledger, std::vector<Violation>& out) {
  const std::string kName = "(1) exactly once or rejected";
  std::map<std::string, SimDevice*> by_client;
  for (auto& device : devices) by_client[device->client_id()] = device.get();
  for (auto& device : devices) {
    auto pending = device->replica().pending(0);
    if (!pending.ok() || !pending->empty()) {
      out.push_back(
          {kName,
           device->name() + " still has " +
               (pending.ok() ? std::to_string(pending->size()) : pending.status().to_string()) +
               " pending mutation(s) at quiescence",
           {device_term(device->index())}});
    }
  }
  std::map<std::string, std::map<uint64_t, RejectedMutation>> rejected_on_device;
  for (auto& device : devices) {
    auto rejected = device->replica().rejected();
    if (!rejected.ok()) {
      out.push_back({kName, device->name() + ": rejected(): " + rejected.status().to_string(), {}});
      continue;
    }
    for (auto& mutation : *rejected) {
      rejected_on_device[device->client_id()][mutation.id] = mutation;
    }
  }
  std::map<std::string, uint64_t> highest;
  for (const auto& [key, record] : ledger.mutations()) {
    const std::string mid = "m" + std::to_string(record.id);
    if (!record.print_mismatch.empty()) {
      out.push_back({kName,
                     "mutation " + std::to_string(record.id) + " of client " + record.client_id +
                         " (" + record.name + " " + record.summary + "): " + record.print_mismatch,
                     {mid}});
      continue;
    }
    if (!record.restored_from.empty()) {
      // Taken back by a restore: it may be lost with it, never applied twice.
      if (record.applied > 1 || (record.applied != 0 && record.rejected)) {
        out.push_back({kName,
                       "m" + std::to_string(record.id) + " (" + record.name + " " + record.summary +
                           ") of " + record.restored_from +
                           ", taken back by a restore, was applied " +
                           std::to_string(record.applied) + " times" +
                           (record.rejected ? " and rejected" : ""),
                       {mid}});
      }
      continue;
    }
    auto owner = by_client.find(record.client_id);
    if (record.name.empty() || owner == by_client.end()) {
      out.push_back({kName,
                     "the server applied mutation " + std::to_string(record.id) + " of client " +
                         record.client_id + " that no device's mutate() returned",
                     {mid}});
      continue;
    }
    SimDevice& device = *owner->second;
    const std::string who =
        device.name() + " " + mid + " (" + record.name + " " + record.summary + ")";
    std::vector<std::string> terms{device_term(device.index()), mid};
    highest[record.client_id] = std::max(highest[record.client_id], record.id);
    const auto& device_rejections = rejected_on_device[record.client_id];
    const bool device_has_rejection = device_rejections.count(record.id) != 0;
    if (record.rejected) {
      if (record.applied != 0) {
        out.push_back({kName, who + " was both applied and rejected", terms});
      } else if (!device_has_rejection) {
        out.push_back({kName,
                       who + " was rejected by the server (" + record.reason +
                           ") but the device has no record of the rejection",
                       terms});
      } else if (device_rejections.at(record.id).reason.empty()) {
        out.push_back({kName, who + " was rejected without a reason", terms});
      } else {
        auto recorded =
            server.store().rejections(client_key(device.who(), record.client_id), record.id - 1, 1);
        if (!recorded.ok() || recorded->empty() || recorded->front().mutation_id != record.id) {
          out.push_back({kName, who + " was rejected but the server kept no rejection", terms});
        }
      }
    } else if (record.applied == 0) {
      out.push_back({kName, who + " was never applied nor rejected: lost", terms});
    } else if (record.applied > 1) {
      out.push_back(
          {kName, who + " was applied " + std::to_string(record.applied) + " times", terms});
    } else if (device_has_rejection) {
      out.push_back({kName, who + " was applied, yet the device lists it as rejected", terms});
    }
  }
  for (auto& device : devices) {
    auto last = server.store().last_mutation_id(client_key(device->who(), device->client_id()));
    uint64_t want = highest[device->client_id()];
    if (!last.ok() || *last < want) {
      out.push_back({kName,
                     device->name() + ": the server's last mutation id " +
                         (last.ok() ? std::to_string(*last) : last.status().to_string()) +
                         " is below the device's highest " + std::to_string(want),
                     {device_term(device->index())}});
    }
  }
}

// Up to a few keys on which two views differ.
std::string differences(const RecordView& device, const RecordView& server) {
  std::string text;
  size_t shown = 0;
  auto note = [&](const std::string& line) {
    if (shown++ < kMaxShownDifferences) text += "\n      " + line;
  };
  for (const auto& [key, value] : device) {
    auto it = server.find(key);
    if (it == server.end()) {
      note(key + ": on the device (v" + std::to_string(value.first) + "), not on the server");
    } else if (it->second != value) {
      note(key + ": device v" + std::to_string(value.first) + " != server v" +
           std::to_string(it->second.first) +
           (it->second.first == value.first ? " (same version, other bytes)" : ""));
    }
  }
  for (const auto& [key, value] : server) {
    if (device.count(key) == 0) {
      note(key + ": on the server (v" + std::to_string(value.first) + "), not on the device");
    }
  }
  if (shown > kMaxShownDifferences) {
    text += "\n      ... " + std::to_string(shown - kMaxShownDifferences) + " more";
  }
  return text;
}

void check_convergence(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server,
                       std::vector<Violation>& out) {
  for (auto& device : devices) {
    for (Scope kind : {SCOPE_USER, SCOPE_ORG}) {
      const std::string scope =
          kind == SCOPE_USER ? device->who().user_scope() : device->who().org_scope();
      RecordView mine = support::device_view(device->replica(), kind);
      RecordView theirs = support::server_view(server.store(), {scope});
      if (mine != theirs) {
        out.push_back({"(2) convergence",
                       device->name() + " differs from the server's " + scope + ":" +
                           differences(mine, theirs),
                       {device_term(device->index())}});
      }
    }
  }
}

// The words of a text record as stored: its text and its conflict copy.
struct TextState {
  bool present = false;
  std::set<std::string> words;
};

TextState text_of(const std::string& kind, const std::string& body) {
  TextState state;
  state.present = true;
  std::string text, conflict;
  if (kind == "draft") {
    d::Draft draft;
    draft.ParseFromString(body);
    text = draft.body();
    conflict = draft.conflict_body();
  } else {
    d::Note note;
    note.ParseFromString(body);
    text = note.text();
    conflict = note.conflict_text();
  }
  for (const std::string& word : split_words(text)) state.words.insert(word);
  for (const std::string& word : split_words(conflict)) state.words.insert(word);
  return state;
}

// The record's applied edits in server order, marking those that held `word`.
std::string history(const Ledger& ledger, const std::string& record, const std::string& word) {
  std::map<uint64_t, std::string> lines;
  for (const TextEdit& edit : ledger.edits()) {
    if (edit.record != record) continue;
    uint64_t order = edit.platform_order;
    std::string who = "platform";
    if (!edit.from_platform) {
      auto it = ledger.mutations().find({edit.client_id, edit.mutation_id});
      if (it == ledger.mutations().end() || it->second.applied == 0) continue;
      order = it->second.applied_order;
      who = "d" + std::to_string(it->second.device) + " m" + std::to_string(edit.mutation_id);
    }
    bool holds = false, typed = false;
    for (const std::string& w : edit.words) holds |= w == word;
    for (const std::string& w : edit.typed) typed |= w == word;
    lines[order] = "#" + std::to_string(order) + " " + who +
                   (edit.is_delete ? " delete" : " save") + " (" +
                   std::to_string(edit.words.size()) + " words" +
                   (typed   ? ", typed " + word
                    : holds ? ", with " + word
                            : "") +
                   ")";
  }
  std::string text = "\n      applied edits, in server order:";
  size_t skip = lines.size() > kMaxHistory ? lines.size() - kMaxHistory : 0;
  for (const auto& [order, line] : lines) {
    if (skip > 0) {
      --skip;
      continue;
    }
    text += "\n        " + line;
  }
  return text;
}

void check_words(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server,
                 const Ledger& ledger, std::vector<Violation>& out) {
  const std::string kName = "(3) no typed word lost";
  for (const auto& [record, words] : ledger.required_words()) {
    // record = kind|scope|id
    size_t first = record.find('|');
    size_t second = record.find('|', first + 1);
    const std::string kind = record.substr(0, first);
    const std::string scope = record.substr(first + 1, second - first - 1);
    const std::string id = record.substr(second + 1);
    const std::string collection = kind == "draft" ? "draft" : "note";

    std::vector<std::pair<std::string, TextState>> holders;
    auto stored = server.store().get(scope, collection, id);
    TextState on_server;
    if (stored.ok() && stored->has_value()) on_server = text_of(kind, (*stored)->body);
    holders.push_back({"the server", on_server});
    for (auto& device : devices) {
      if (device->who().user_scope() != scope) continue;
      auto rows = device->replica().sql("SELECT _body FROM c_" + collection + " WHERE " +
                                            (kind == "draft" ? "id" : "interaction_id") + " = ?",
                                        {id});
      TextState on_device;
      if (rows.ok() && !rows->rows.empty()) {
        on_device = text_of(kind, std::get<std::string>(rows->rows[0][0]));
      }
      holders.push_back({device->name(), on_device});
    }
    for (const auto& [holder, state] : holders) {
      std::vector<std::string> missing;
      for (const std::string& word : words) {
        if (state.words.count(word) == 0) missing.push_back(word);
      }
      if (missing.empty()) continue;
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 8; ++i) list += " " + missing[i];
      if (missing.size() > 8) list += " ...";
      std::vector<std::string> terms(
          missing.begin(),
          missing.begin() + static_cast<long>(std::min<size_t>(missing.size(), 4)));
      terms.push_back(id);
      // The saves that carried the first missing word: when they were applied matters.
      for (const TextEdit& edit : ledger.edits()) {
        if (edit.record != record || edit.from_platform) continue;
        for (const std::string& word : edit.typed) {
          if (word == missing.front()) terms.push_back("m" + std::to_string(edit.mutation_id));
        }
      }
      out.push_back({kName,
                     holder + ": " + kind + " " + id + " of " + scope +
                         (state.present ? "" : " (absent)") + " lacks " +
                         std::to_string(missing.size()) + " of " + std::to_string(words.size()) +
                         " words:" + list + history(ledger, record, missing.front()),
                     terms});
    }
  }
}

void check_leaks(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server,
                 const World& world, std::vector<Violation>& out) {
  const std::string kName = "(4) no foreign data";
  for (auto& device : devices) {
    const Principal& who = device->who();
    RecordView own = support::server_view(server.store(), {who.user_scope(), who.org_scope()});
    RecordView mine = support::device_view(device->replica());
    for (const auto& [key, value] : mine) {
      // A key planted in a scope the device may not read.
      for (const auto& [scope, keys] : world.private_keys) {
        if (!who.may_read(scope) && keys.count(key) != 0) {
          out.push_back({kName,
                         device->name() + " holds " + key + " of " + scope,
                         {device_term(device->index())}});
        }
      }
      if (own.count(key) == 0) {
        // Not in its own scopes (a stale version of an own record is a convergence
        // problem, and the demo data repeats bodies across users): is it a foreign one?
        for (const std::string& scope : world.all_scopes()) {
          if (who.may_read(scope)) continue;
          auto foreign = server.store().get(scope, key.substr(0, key.find('/')),
                                            key.substr(key.find('/') + 1));
          if (foreign.ok() && foreign->has_value() && (*foreign)->body == value.second) {
            out.push_back({kName,
                           device->name() + " holds " + key + " as stored in " + scope,
                           {device_term(device->index())}});
          }
        }
      }
    }
  }
}

}  // namespace

std::vector<Violation> check_invariants(std::vector<std::unique_ptr<SimDevice>>& devices,
                                        SimServer& server, const World& world,
                                        const Ledger& ledger) {
  std::vector<Violation> out;
  check_mutations(devices, server, ledger, out);
  check_convergence(devices, server, out);
  check_words(devices, server, ledger, out);
  check_leaks(devices, server, world, out);
  return out;
}

}  // namespace outpost::sim
