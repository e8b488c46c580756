// The Genesys adapter's worker: what the sans-I/O core does not mirror yet, following what
// the core reports (decision 049): each voicemail event's recording (decision 034; a failed
// one is forgotten by the core, so its next reconcile sends the voicemail again). (The org's
// listings and the agents' queues: decision 056; the sends: decision 055; drafts both ways:
// decision 057 — all on the core.) The adapter is mirrored once the core's first full mirror
// and the recordings it brought are done.
#include <algorithm>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPendingEvents = 500'000;  // as genesys_upstream.cpp

std::string voicemail_key(const upstream::Event& event) {
  const std::string& id =
      event.has_voicemail_left() ? event.voicemail_left().id() : event.voicemail_updated().id();
  return "voicemail/" + event.user() + "/" + id;
}

}  // namespace

void GenesysUpstream::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<upstream::Event> voicemails;
    voicemails.swap(voicemails_);
    std::vector<std::string> forget;
    forget.swap(to_forget_);
    const bool all = all_reconciled_;
    lock.unlock();

    if (!forget.empty()) {
      core_.with_core([&](GenesysCore& core) {
        for (const std::string& key : forget) core.forget(key);
      });
    }
    follow(std::move(voicemails));

    lock.lock();
    if (all && !mirrored_ && voicemails_.empty()) {
      mirrored_ = true;
      wake_.notify_all();
    }
    // Woken by the core's sinks.
    auto ready = [&] { return stopping_ || !voicemails_.empty() || !to_forget_.empty(); };
    wake_.wait_until(lock, Clock::now() + std::chrono::seconds(1), ready);
  }
}

void GenesysUpstream::follow(std::vector<upstream::Event> voicemails) {
  std::vector<std::string> forget;
  for (upstream::Event& event : voicemails) {
    if (event.has_voicemail_deleted()) {  // after the voicemail's own events (decision 063)
      std::lock_guard lock(mutex_);
      if (pending_.size() < kMaxPendingEvents) pending_.push_back(std::move(event));
      continue;
    }
    domain::Voicemail& vm = event.has_voicemail_left() ? *event.mutable_voicemail_left()
                                                       : *event.mutable_voicemail_updated();
    // Without its recording for now: the core sends it again on its next reconcile.
    bool kept = attach_audio(event.user(), vm);
    const std::string key = voicemail_key(event);
    {
      std::lock_guard lock(mutex_);
      kept = kept && pending_.size() < kMaxPendingEvents;  // nobody polls: sent again later
      if (pending_.size() < kMaxPendingEvents) pending_.push_back(std::move(event));
    }
    if (!kept) forget.push_back(key);
  }
  if (!forget.empty()) {
    core_.with_core([&](GenesysCore& core) {
      for (const std::string& key : forget) core.forget(key);
    });
  }
}

}  // namespace outpost::genesys
