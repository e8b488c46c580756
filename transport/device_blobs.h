// What an app does with blobs, over its replica, its BlobCache and a BlobClient: the audio
// of a voicemail as a verified file (from the cache offline, else downloaded with
// progress), which blobs stay pinned in the cache (unheard voicemail of today), the record
// that references a hash (the server wants it named), and the prefetch of new voicemail
// audio within a woken app's budget. The records sync as always; none of this blocks them.
// Thread rules: blocking; call from a worker thread with its own BlobClient. The Replica
// may be a read-only one on the agent's file (decision 007).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/blob.h"
#include "engine/replica.h"
#include "transport/blob_cache.h"
#include "transport/blob_client.h"

namespace outpost {

// The audio blobs of unheard voicemail received today (the org's local day: org_setting
// utc_offset_minutes): never evicted.
Result<std::set<BlobHash>> pinned_blobs(Replica& replica, int64_t now_ms);

// A record of the replica that references `hash` (voicemail audio first, then draft
// attachments). Errors: kNotFound when none does.
Result<BlobRecordRef> find_blob_reference(Replica& replica, const BlobHash& hash);

// The verified audio file of a voicemail: the cache's copy, or downloaded when `client` is
// given. Errors: kNotFound (no such voicemail, or it has no audio), kUnavailable when it is
// not cached and there is no client (offline), and BlobClient::fetch's.
Result<std::string> voicemail_audio(Replica& replica, const std::string& voicemail_id,
                                    BlobCache& cache, BlobClient* client,
                                    const BlobProgress& progress = {});

struct PrefetchReport {
  uint64_t fetched = 0;
  uint64_t already_cached = 0;
  uint64_t failed = 0;
  uint64_t left_for_later = 0;  // the budget ran out first
  uint64_t bytes = 0;
  Status last_error;  // of the last failed download
};

// The audio of one voicemail.
struct VoicemailAudio {
  std::string voicemail_id;
  BlobHash hash;
  uint64_t size = 0;
};

// The audio of unheard voicemail received at or after since_ms, newest first (what a wake
// prefetches: since the start of today).
Result<std::vector<VoicemailAudio>> unheard_voicemail_audio(Replica& replica, int64_t since_ms);

// Downloads each not yet cached, in order, until `deadline`; then evicts down to the cap,
// keeping `pinned`. A download cut by the deadline keeps its partial for next time.
PrefetchReport prefetch_blobs(const std::vector<VoicemailAudio>& wanted, BlobCache& cache,
                              BlobClient& client, const std::set<BlobHash>& pinned,
                              std::chrono::steady_clock::time_point deadline);

// The start of the org's local day of now_ms (org_setting utc_offset_minutes).
Result<int64_t> start_of_today(Replica& replica, int64_t now_ms);

// What a wake prefetches: the audio of unheard voicemail received today or in the last
// 24 hours (a wake just after midnight still fetches last evening's), newest first, and
// the blobs the eviction afterwards keeps (pinned_blobs).
struct PrefetchPlan {
  std::vector<VoicemailAudio> wanted;
  std::set<BlobHash> pinned;
};
Result<PrefetchPlan> plan_prefetch(Replica& replica, int64_t now_ms);

// The audio blob of a voicemail. Errors: kNotFound (no such voicemail, or it has no audio).
Result<BlobHash> voicemail_audio_hash(Replica& replica, const std::string& voicemail_id);

}  // namespace outpost
