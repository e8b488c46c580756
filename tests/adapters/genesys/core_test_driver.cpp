#include "tests/adapters/genesys/core_test_driver.h"

#include <algorithm>

namespace outpost::genesys {

CoreTestDriver::CoreTestDriver(sim::GenesysModel& model, GenesysCore& core, int64_t& now,
                               Options options)
    : model_(model), core_(&core), now_(now), options_(options) {}

size_t CoreTestDriver::count(const std::string& line) const {
  return static_cast<size_t>(std::count(log.begin(), log.end(), line));
}

void CoreTestDriver::run(const Script& script, int64_t horizon_ms) {
  for (int round = 0; round < options_.max_rounds; ++round) {
    if (options_.tick_model) model_.tick(now_);
    core_->tick(now_);
    bool any = false;
    for (const CoreRequest& r : core_->take_requests()) {
      any = true;
      log.push_back(r.method + " " + r.target.substr(0, r.target.find('?')));
      std::optional<CoreAnswer> answer = script ? script(r) : std::nullopt;
      if (!answer) {
        auto a = model_.handle(r.method, r.target, r.body, now_);
        answer = CoreAnswer{a.status, a.body, "corr-" + std::to_string(r.id), -1, false};
      }
      core_->on_answer(r.id, *answer, now_);
    }
    for (const SocketCommand& c : core_->take_socket_commands()) {
      any = true;
      if (c.kind == SocketCommand::Kind::kOpen) {
        log.push_back("socket open");
        if (model_.open_socket(c.text, now_, c.channel)) {
          core_->on_socket_opened(now_, c.channel);
        } else {
          core_->on_socket_closed(now_, c.channel);
        }
      } else if (c.kind == SocketCommand::Kind::kClose) {
        model_.close_socket(c.channel);
      } else {
        model_.socket_send(c.text, c.channel);
      }
    }
    for (size_t slot = 0; slot < core_->channel_count(); ++slot) {
      bool closed = false;
      for (const std::string& m : model_.take_socket_messages(&closed, slot)) {
        any = true;
        core_->on_socket_message(m, now_, slot);
      }
      if (closed) core_->on_socket_closed(now_, slot);
    }
    for (auto& e : core_->take_events()) events.push_back(std::move(e));
    for (auto& m : core_->take_media()) media.push_back(std::move(m));
    if (!any) {
      auto next = core_->next_deadline();
      if (core_->quiet() || !next || *next > now_ + horizon_ms) return;
      now_ = std::max(now_ + 1, *next);
    }
  }
}

}  // namespace outpost::genesys
