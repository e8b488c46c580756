#include "apps/outpost-server/periodic_thread.h"

namespace outpost::server_app {

PeriodicThread::PeriodicThread(std::chrono::milliseconds every, std::function<void()> task)
    : every_(every), task_(std::move(task)) {
  thread_ = std::thread([this] { run(); });
}

void PeriodicThread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    task_();
    lock.lock();
    wake_.wait_for(lock, every_, [this] { return stopping_; });
  }
}

}  // namespace outpost::server_app
