// The blob half of outpost/outpost.h: a voicemail's audio as a verified file (from the
// agent's cache, else downloaded with progress) and the prefetch a woken app runs. The
// record is read through the lent replica (its thread rules); the download runs on the
// caller's thread, holding no lock of the handle, so syncing and reads go on meanwhile.
#include <chrono>
#include <string>

#include "capi/boundary.h"
#include "capi/handles.h"
#include "transport/device_blobs.h"

namespace outpost::capi {
namespace {

Status need(const void* pointer, std::string_view what) {
  if (pointer == nullptr) return error(ErrorCode::kInvalidArgument, std::string(what) + " is NULL");
  return Status::Ok();
}

Status not_in_callback(std::string_view call) {
  if (CallbackScope::active()) {
    return error(ErrorCode::kFailedPrecondition, std::string(call) + " is not for a callback");
  }
  return Status::Ok();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace
}  // namespace outpost::capi

using namespace outpost;
using namespace outpost::capi;

extern "C" {

outpost_status outpost_agent_voicemail_audio(outpost_agent* agent, const char* voicemail_id,
                                             size_t voicemail_id_len,
                                             outpost_blob_progress_fn progress,
                                             void* progress_user_data, outpost_bytes* path,
                                             outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(need(path, "path"));
    *path = outpost_bytes{};
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_voicemail_audio"));
    std::string id;
    OUTPOST_RETURN_IF_ERROR(read_string(voicemail_id, voicemail_id_len, "voicemail_id", &id));
    Result<BlobHash> hash = outpost::error(ErrorCode::kInternal, "not read");
    OUTPOST_RETURN_IF_ERROR(with_replica(agent->replica.get(), [&](Replica& replica) {
      hash = voicemail_audio_hash(replica, id);
      return Status::Ok();
    }));
    OUTPOST_RETURN_IF_ERROR(hash.status());
    BlobProgress on_progress;
    if (progress != nullptr) {
      on_progress = [progress, progress_user_data](uint64_t done, uint64_t total) {
        return progress(progress_user_data, done, total);
      };
    }
    OUTPOST_ASSIGN_OR_RETURN(
        std::string file,
        agent->agent->fetch_blob(*hash, BlobRecordRef{"voicemail", id}, on_progress));
    return set_bytes(path, file);
  });
}

outpost_status outpost_agent_prefetch_voicemail(outpost_agent* agent, uint32_t budget_ms,
                                                outpost_prefetch_summary* summary,
                                                outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    if (summary != nullptr) *summary = outpost_prefetch_summary{};
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_prefetch_voicemail"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
    Result<PrefetchPlan> plan = outpost::error(ErrorCode::kInternal, "not read");
    OUTPOST_RETURN_IF_ERROR(with_replica(agent->replica.get(), [&](Replica& replica) {
      plan = plan_prefetch(replica, wall_ms());
      return Status::Ok();
    }));
    OUTPOST_RETURN_IF_ERROR(plan.status());
    PrefetchReport report = agent->agent->prefetch_planned(*plan, deadline);
    if (summary != nullptr) {
      summary->fetched = report.fetched;
      summary->already_cached = report.already_cached;
      summary->left_for_later = report.left_for_later;
      summary->failed = report.failed;
      summary->bytes = report.bytes;
    }
    return report.last_error;
  });
}

}  // extern "C"
