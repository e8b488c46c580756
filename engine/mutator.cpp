#include "engine/mutator.h"

#include <google/protobuf/util/json_util.h>

namespace outpost {
namespace {

std::unique_ptr<google::protobuf::Message> new_message(const google::protobuf::Descriptor* type) {
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
  return std::unique_ptr<google::protobuf::Message>(prototype->New());
}

}  // namespace

Status MutatorRegistry::add(Mutator mutator) {
  if (mutator.name.empty() || mutator.args_type == nullptr || !mutator.local) {
    return error(ErrorCode::kInvalidArgument,
                 "a mutator needs a name, an args type and a function");
  }
  if (!mutator.server) mutator.server = mutator.local;
  std::string name = mutator.name;
  if (!mutators_.emplace(name, std::move(mutator)).second) {
    return error(ErrorCode::kAlreadyExists, "mutator '" + name + "' is registered twice");
  }
  return Status::Ok();
}

const Mutator* MutatorRegistry::find(const std::string& name) const {
  auto it = mutators_.find(name);
  return it == mutators_.end() ? nullptr : &it->second;
}

Result<const Mutator*> MutatorRegistry::require(const std::string& name) const {
  const Mutator* mutator = find(name);
  if (mutator == nullptr) return error(ErrorCode::kNotFound, "unknown mutator '" + name + "'");
  return mutator;
}

Result<std::unique_ptr<google::protobuf::Message>> MutatorRegistry::parse_args(
    const Mutator& mutator, const std::string& bytes) const {
  auto args = new_message(mutator.args_type);
  if (!args->ParseFromString(bytes)) {
    return error(ErrorCode::kInvalidArgument, "malformed arguments for mutator '" + mutator.name +
                                                  "' (expected " + mutator.args_type->full_name() +
                                                  ")");
  }
  return args;
}

Result<std::unique_ptr<google::protobuf::Message>> MutatorRegistry::parse_json_args(
    const Mutator& mutator, const std::string& json) const {
  auto args = new_message(mutator.args_type);
  auto status = google::protobuf::util::JsonStringToMessage(json, args.get());
  if (!status.ok()) {
    return error(ErrorCode::kInvalidArgument, "malformed JSON arguments for mutator '" +
                                                  mutator.name +
                                                  "': " + std::string(status.message()));
  }
  return args;
}

}  // namespace outpost
