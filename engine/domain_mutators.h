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

// A process-wide registry holding exactly the domain mutators, built once. Errors: the
// registration's status (a defect of the build: two mutators of one name, say). Apps call
// it once at startup and report it.
Result<const MutatorRegistry*> load_domain_mutators();
// load_domain_mutators() for code that runs after it succeeded, and tests: throws
// std::logic_error with the status on a broken build (decision 016).
const MutatorRegistry& domain_mutators();

// Builds the domain's schema and mutators: Ok, or the first one's error. Every app's
// main() calls it before anything uses Schema::domain() or domain_mutators().
Status check_built_in_domain();

// remove_push_target: the device's target goes, or with `token` set only while it still
// has that token. The server runs it too when a push service reports a token dead.
Status remove_push_target(MutationContext& ctx, const mutations::RemovePushTarget& args);

// The user_setting holding the queue last used on a channel ("last_queue.email").
std::string last_queue_setting(domain::MediaType media);

}  // namespace outpost
