// The core's I/O: a thread per request in flight (RestClient is blocking; the core bounds
// the intents in flight, so the threads are bounded too), a timer thread for the core's
// deadlines (request timeouts, retries due, heartbeats, renewals, reconciles), a thread per
// notification channel's socket, and the bounded wait of decision 023.
#include "adapters/genesys/genesys_core_driver.h"

#include <algorithm>
#include <deque>

#include "adapters/genesys/genesys_socket.h"
#include "adapters/genesys/genesys_socket_lives.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
// A socket thread reads this long at a time, then looks for the core's next command.
constexpr std::chrono::milliseconds kSocketSlice{100};

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct GenesysCoreDriver::Request {
  bool done = false;  // set under mutex_ as the thread's last act
  std::thread thread;
};

// One channel's socket. Its commands, queued by pump() under mutex_, run in order on its
// thread. Opens and closes are counted as queued and as done (genesys_socket_lives.h): while
// they differ, what the socket reports belongs to a life the core has already ended, and is
// dropped.
struct GenesysCoreDriver::Socket {
  size_t channel = 0;
  std::deque<SocketCommand> commands;
  SocketLives lives;
  std::thread thread;
  bool current() const { return lives.current(); }
};

GenesysCoreDriver::GenesysCoreDriver(CoreDriverOptions options, RestClient& rest)
    : options_(std::move(options)),
      rest_(rest),
      core_(options_.core),
      // The RestClient's own deadline (budget waits included) ends before the core's request
      // timeout, so the core normally hears the transport error rather than timing out.
      request_deadline_(std::max<int64_t>(options_.core.request_timeout_ms / 2, 1)) {}

GenesysCoreDriver::~GenesysCoreDriver() {
  stop();
}

void GenesysCoreDriver::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  if (options_.core.run_mirror) {
    for (size_t i = 0; i < core_.channel_count(); ++i) {
      auto socket = std::make_unique<Socket>();
      socket->channel = i;
      Socket* raw = socket.get();
      socket->thread = std::thread([this, raw] { run_socket(*raw); });
      sockets_.push_back(std::move(socket));
    }
  }
  timer_ = std::thread([this] { run(); });
}

void GenesysCoreDriver::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  socket_wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& socket : sockets_)
    if (socket->thread.joinable()) socket->thread.join();
  std::vector<std::shared_ptr<Request>> requests;
  {
    std::lock_guard lock(mutex_);
    requests.swap(requests_);
  }
  for (auto& r : requests)
    if (r->thread.joinable()) r->thread.join();
}

void GenesysCoreDriver::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    core_.tick(wall_ms());
    pump();
    reap();
    // At most a second asleep: the wall clock may jump, and finished threads get joined.
    int64_t sleep_ms = 1'000;
    if (auto next = core_.next_deadline()) {
      sleep_ms = std::clamp<int64_t>(*next - wall_ms(), 1, sleep_ms);
    }
    wake_.wait_for(lock, std::chrono::milliseconds(sleep_ms));
  }
}

void GenesysCoreDriver::pump() {
  if (stopping_) return;
  for (CoreRequest& request : core_.take_requests()) {
    auto r = std::make_shared<Request>();
    requests_.push_back(r);
    r->thread = std::thread([this, r, request = std::move(request)] {
      perform(request);
      std::lock_guard lock(mutex_);
      r->done = true;
    });
  }
  bool socket_commands = false;
  for (SocketCommand& command : core_.take_socket_commands()) {
    if (command.channel >= sockets_.size()) continue;
    Socket& socket = *sockets_[command.channel];
    socket.lives.queued(command.kind);
    socket.commands.push_back(std::move(command));
    socket_commands = true;
  }
  if (socket_commands) socket_wake_.notify_all();
  std::vector<upstream::Event> events = core_.take_events();
  if (!events.empty() && options_.events) options_.events(std::move(events));
  for (CoreMedia& media : core_.take_media()) media_.push_back(std::move(media));
  CoreReconciled reconciled = core_.take_reconciled();
  if ((reconciled.org || reconciled.all || !reconciled.users.empty()) && options_.reconciled) {
    options_.reconciled(std::move(reconciled));
  }
  wake_.notify_all();  // the timer's deadline may have moved; waiting intents look again
}

void GenesysCoreDriver::run_socket(Socket& s) {
  NotificationSocket socket;
  std::unique_lock lock(mutex_);
  auto log = [this](const std::string& line) {
    if (options_.core.log) options_.core.log("genesys: notification socket: " + line);
  };
  while (!stopping_) {
    if (!s.commands.empty()) {
      SocketCommand command = std::move(s.commands.front());
      s.commands.pop_front();
      lock.unlock();
      Status opened = Status::Ok();
      switch (command.kind) {
        case SocketCommand::Kind::kOpen:
          opened = socket.open(command.text, options_.ca_file, options_.socket_timeout);
          break;
        case SocketCommand::Kind::kSend:
          // A failed send shows as a failed read next.
          if (socket.is_open()) (void)socket.send(command.text);
          break;
        case SocketCommand::Kind::kClose:
          socket.close();
          break;
      }
      lock.lock();
      if (command.kind == SocketCommand::Kind::kSend) continue;
      if (!s.lives.done(command.kind) || stopping_) continue;  // a close, or late news
      if (opened.ok()) {
        core_.on_socket_opened(wall_ms(), s.channel);
      } else {
        log(opened.to_string());
        core_.on_socket_closed(wall_ms(), s.channel);
      }
      pump();
      continue;
    }
    if (!socket.is_open()) {
      socket_wake_.wait(lock, [&] { return stopping_ || !s.commands.empty(); });
      continue;
    }
    lock.unlock();
    auto message = socket.read(kSocketSlice);
    lock.lock();
    if (stopping_) break;
    if (!message.ok()) {
      socket.close();
      if (!s.current()) continue;
      log(message.status().to_string());
      core_.on_socket_closed(wall_ms(), s.channel);
      pump();
    } else if (message->has_value() && s.current()) {
      core_.on_socket_message(**message, wall_ms(), s.channel);
      pump();
    }
  }
  lock.unlock();
  socket.close();
}

void GenesysCoreDriver::reap() {
  // A finished thread set `done` under this lock and returns right after: joining it here
  // does not wait on the lock we hold.
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (!(*it)->done) {
      ++it;
      continue;
    }
    (*it)->thread.join();
    it = requests_.erase(it);
  }
}

void GenesysCoreDriver::perform(const CoreRequest& request) {
  const auto deadline = Clock::now() + request_deadline_;
  // A download link (decision 064): no bearer, no budget, bounded; past the bound a 413.
  auto got =
      request.kind == CoreRequest::Kind::kDownload
          ? rest_.download(request.target, request.max_bytes, deadline)
          : rest_.call_single(request.user, request.method, request.target, request.body, deadline);
  CoreAnswer answer;
  if (!got.ok() && got.status().code() == ErrorCode::kTooLarge) {
    answer.status = 413;
  } else if (got.ok()) {
    answer.status = got->status;
    answer.body = std::move(got->body);
    answer.correlation_id = std::move(got->correlation_id);
    answer.retry_after_ms = got->retry_after_ms;
  } else {
    answer.transport_error = true;  // timeouts, refused connections, a spent budget
  }
  std::vector<CoreMedia> media;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    core_.on_answer(request.id, answer, wall_ms());
    pump();
    media.swap(media_);
  }
  if (!media.empty() && options_.media) options_.media(std::move(media));
}

Result<PlatformAnswer> GenesysCoreDriver::intent(const IntentCall& call,
                                                 std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (stopping_) return error(ErrorCode::kUnavailable, "the adapter is stopping");
  const auto deadline = Clock::now() + wait;
  while (true) {
    reap();
    const uint64_t not_yet = core_.intents_not_yet();
    Result<PlatformAnswer> answer = call(core_, wall_ms());
    pump();
    if (core_.intents_not_yet() == not_yet) return answer;  // answered (or refused at once)
    const uint64_t answered = core_.intents_answered();
    const bool changed = wake_.wait_until(
        lock, deadline, [&] { return stopping_ || core_.intents_answered() != answered; });
    if (!changed || stopping_) {
      ++intents_pending_;
      return answer;
    }
    // Some intent was answered: ours, maybe; asking again takes it or finds it still running.
  }
}

void GenesysCoreDriver::with_core(const std::function<void(GenesysCore&)>& fn) {
  std::lock_guard lock(mutex_);
  fn(core_);
  pump();
}

bool GenesysCoreDriver::connected() const {
  std::lock_guard lock(mutex_);
  return options_.core.run_mirror && !stopping_ && core_.connected();
}

bool GenesysCoreDriver::mirrored() const {
  std::lock_guard lock(mutex_);
  return core_.mirrored();
}

CoreCounters GenesysCoreDriver::counters() const {
  std::lock_guard lock(mutex_);
  return core_.counters();
}

uint64_t GenesysCoreDriver::intents_pending() const {
  std::lock_guard lock(mutex_);
  return intents_pending_;
}

}  // namespace outpost::genesys
