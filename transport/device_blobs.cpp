#include "transport/device_blobs.h"

#include <algorithm>

#include "engine/domain_time.h"
#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

Result<int32_t> utc_offset(Replica& replica) {
  OUTPOST_ASSIGN_OR_RETURN(auto setting, replica.get<d::OrgSetting>(kUtcOffsetSetting));
  return setting ? parse_utc_offset(setting->value()) : 0;
}

// Unheard voicemail received at or after since_ms, newest first.
Result<std::vector<d::Voicemail>> unheard_since(Replica& replica, int64_t since_ms) {
  Query query;
  query.collection = "voicemail";
  query.where.push_back({"read", Condition::Op::kEq, int64_t{0}});
  query.where.push_back({"received_ms", Condition::Op::kGe, since_ms});
  query.order_by = "received_ms";
  query.descending = true;
  OUTPOST_ASSIGN_OR_RETURN(auto rows, replica.query(query));
  std::vector<d::Voicemail> out;
  for (const auto& row : rows) {
    d::Voicemail voicemail;
    voicemail.CopyFrom(*row);
    out.push_back(std::move(voicemail));
  }
  return out;
}

}  // namespace

Result<std::set<BlobHash>> pinned_blobs(Replica& replica, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int32_t offset, utc_offset(replica));
  const int64_t today = local_day_start_ms(local_day(now_ms, offset), offset);
  OUTPOST_ASSIGN_OR_RETURN(auto unheard, unheard_since(replica, today));
  std::set<BlobHash> pinned;
  for (const auto& voicemail : unheard) {
    if (auto hash = BlobHash::parse(voicemail.audio_sha256()); hash.ok()) pinned.insert(*hash);
  }
  return pinned;
}

Result<BlobRecordRef> find_blob_reference(Replica& replica, const BlobHash& hash) {
  Query by_audio;
  by_audio.collection = "voicemail";
  by_audio.where.push_back({"audio_sha256", Condition::Op::kEq, hash.hex()});
  by_audio.limit = 1;
  OUTPOST_ASSIGN_OR_RETURN(auto voicemails, replica.query(by_audio));
  if (!voicemails.empty()) {
    return BlobRecordRef{"voicemail", static_cast<const d::Voicemail&>(*voicemails[0]).id()};
  }
  // Attachments are nested: read the drafts (a device holds a few hundred at most).
  Query drafts;
  drafts.collection = "draft";
  OUTPOST_ASSIGN_OR_RETURN(auto rows, replica.query(drafts));
  for (const auto& row : rows) {
    for (const BlobRef& ref : blob_refs(*row)) {
      if (ref.hash == hash) return BlobRecordRef{"draft", static_cast<const d::Draft&>(*row).id()};
    }
  }
  return error(ErrorCode::kNotFound, "no record of this device references blob " + hash.hex());
}

Result<std::string> voicemail_audio(Replica& replica, const std::string& voicemail_id,
                                    BlobCache& cache, BlobClient* client,
                                    const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(BlobHash hash, voicemail_audio_hash(replica, voicemail_id));
  OUTPOST_ASSIGN_OR_RETURN(auto cached, cache.find(hash));
  if (cached) return *cached;
  if (client == nullptr) {
    return error(ErrorCode::kUnavailable,
                 "the audio of '" + voicemail_id + "' is not on the device and it is offline");
  }
  return client->fetch(cache, hash, BlobRecordRef{"voicemail", voicemail_id}, progress);
}

Result<BlobHash> voicemail_audio_hash(Replica& replica, const std::string& voicemail_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto voicemail, replica.get<d::Voicemail>(voicemail_id));
  if (!voicemail) return error(ErrorCode::kNotFound, "no voicemail '" + voicemail_id + "'");
  auto hash = BlobHash::parse(voicemail->audio_sha256());
  if (!hash.ok())
    return error(ErrorCode::kNotFound, "voicemail '" + voicemail_id + "' has no audio");
  return *hash;
}

namespace {
constexpr int64_t kNewVoicemailMs = 24 * 3600 * 1000;
}  // namespace

Result<PrefetchPlan> plan_prefetch(Replica& replica, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t today, start_of_today(replica, now_ms));
  PrefetchPlan plan;
  OUTPOST_ASSIGN_OR_RETURN(
      plan.wanted, unheard_voicemail_audio(replica, std::min(today, now_ms - kNewVoicemailMs)));
  OUTPOST_ASSIGN_OR_RETURN(plan.pinned, pinned_blobs(replica, now_ms));
  return plan;
}

Result<std::vector<VoicemailAudio>> unheard_voicemail_audio(Replica& replica, int64_t since_ms) {
  OUTPOST_ASSIGN_OR_RETURN(auto unheard, unheard_since(replica, since_ms));
  std::vector<VoicemailAudio> out;
  for (const auto& voicemail : unheard) {
    auto hash = BlobHash::parse(voicemail.audio_sha256());
    if (!hash.ok()) continue;
    out.push_back({voicemail.id(), *hash, static_cast<uint64_t>(voicemail.audio_size())});
  }
  return out;
}

Result<int64_t> start_of_today(Replica& replica, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int32_t offset, utc_offset(replica));
  return local_day_start_ms(local_day(now_ms, offset), offset);
}

PrefetchReport prefetch_blobs(const std::vector<VoicemailAudio>& wanted, BlobCache& cache,
                              BlobClient& client, const std::set<BlobHash>& pinned,
                              std::chrono::steady_clock::time_point deadline) {
  PrefetchReport report;
  for (const VoicemailAudio& audio : wanted) {
    if (cache.contains(audio.hash)) {
      ++report.already_cached;
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ++report.left_for_later;
      continue;
    }
    // Stops between chunks once the budget is spent; the partial waits for next time.
    auto fetched = client.fetch(
        cache, audio.hash, BlobRecordRef{"voicemail", audio.voicemail_id},
        [&](uint64_t, uint64_t) { return std::chrono::steady_clock::now() < deadline; });
    if (fetched.ok()) {
      ++report.fetched;
      report.bytes += audio.size;
    } else if (fetched.status().code() == ErrorCode::kCancelled) {
      ++report.left_for_later;
    } else {
      ++report.failed;
      report.last_error = fetched.status();
    }
  }
  if (auto evicted = cache.evict(pinned); !evicted.ok()) report.last_error = evicted.status();
  return report;
}

}  // namespace outpost
