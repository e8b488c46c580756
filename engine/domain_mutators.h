// The Mobile Office mutators: what an agent does on the device (state, drafts, notepad,
// voicemail, wrap-up, queues, favourites, settings). Each has a device version, run by
// Replica::mutate(), and an authoritative server version. docs/domain.md describes them.
// Thread rules: the registry returned by domain_mutators() is immutable and shared.
#pragma once

#include <string>

#include "engine/mutator.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace outpost {

// Adds every domain mutator to `registry`.
Status register_domain_mutators(MutatorRegistry& registry);

// A process-wide registry holding exactly the domain mutators.
const MutatorRegistry& domain_mutators();

// remove_push_target: the device's target goes, or with `token` set only while it still
// has that token. The server runs it too when a push service reports a token dead.
Status remove_push_target(MutationContext& ctx, const mutations::RemovePushTarget& args);

// The user_setting holding the queue last used on a channel ("last_queue.email").
std::string last_queue_setting(domain::MediaType media);

}  // namespace outpost
