#include "apps/outpost-bench/bench_context.h"

#include <filesystem>

namespace outpost::bench {

Status BenchContext::start_servers() {
  if (!servers.empty()) return Status::Ok();
  for (int i = 0; i < options.servers; ++i) {
    auto server = ServerProcess::start(setup, i);
    if (!server.ok()) {
      (void)stop_servers();
      return server.status();
    }
    servers.push_back(std::move(server).value());
  }
  return Status::Ok();
}

Status BenchContext::stop_servers() {
  Status first = Status::Ok();
  for (auto& server : servers) {
    Status stopped = server->stop();
    if (!stopped.ok() && first.ok()) first = stopped;
  }
  servers.clear();
  return first;
}

std::string BenchContext::server_url(size_t device_index) const {
  return servers.at(device_index % servers.size())->url();
}

std::string BenchContext::scenario_dir(const std::string& name) const {
  const std::string dir = work_dir + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<Param> BenchContext::common_params() const {
  // Only the URL's scheme: the rest may hold a password.
  const std::string store = options.embedded_store()
                                ? std::string("embedded")
                                : options.store_url.substr(0, options.store_url.find(':'));
  return {param("store", store), param("servers", options.servers)};
}

}  // namespace outpost::bench
