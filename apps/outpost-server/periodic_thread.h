// A thread of its own that runs one task now and then every `every` until stop(): the
// server's platform mirror (UpstreamLoop) and its event inbox (EventInbox).
// Thread rules: constructed and stopped on one thread; the task runs on the periodic thread
// only. Declare it as the owner's last member, so it starts after and stops before the state
// its task uses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace outpost::server_app {

class PeriodicThread {
 public:
  PeriodicThread(std::chrono::milliseconds every, std::function<void()> task);
  ~PeriodicThread() { stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  // Wakes the thread from its wait and joins it (a running task finishes first).
  void stop();

 private:
  void run();

  const std::chrono::milliseconds every_;
  const std::function<void()> task_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outpost::server_app
