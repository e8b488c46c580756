// Runs the sans-I/O GenesysCore (decision 038) with real I/O (decision 043): its requests go
// through the RestClient (OAuth, a 401's refresh, the org's budget and the inin-ratelimit
// holds stay there; the retry rules are the core's, so RestClient::call_single makes one
// attempt), each on its own thread; the answers are fed back; a timer thread ticks the core
// at its next deadline with the wall clock. A download request (a voicemail recording's
// link, decision 064) goes through RestClient::download (no bearer, no budget, bounded).
// An intent call (decision 023) runs the core's
// intent under the driver's lock and then waits at most `wait` for its answer: the caller's
// store transaction is never held longer, a slow platform's answer is kept by the core for
// the device's retry (answer_keep).
// With CoreOptions::run_mirror (production, decision 049) the driver also owns a
// notification socket per channel: a thread each executes the core's SocketCommands for its
// channel in order (open, send, close) and, between them, reads the socket, feeding
// on_socket_opened/message/closed back under the driver's lock. An event of a socket the core
// has already asked to close or re-open is dropped (it belongs to the channel's old life).
// Thread rules: every public method is safe from several threads. The sinks are called
// under the driver's lock: they must not call back into the driver.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "adapters/genesys/genesys_core.h"
#include "adapters/genesys/genesys_rest.h"

namespace outpost::genesys {

struct CoreDriverOptions {
  CoreOptions core;
  // The core's events (with run_mirror off: the read-backs after an accepted presence write).
  std::function<void(std::vector<upstream::Event>)> events;
  // With run_mirror: what each reconcile finished (after the events of the same step).
  std::function<void(CoreReconciled)> reconciled;
  // The voicemail recordings the core downloaded (decision 064), called outside the lock on
  // the download's thread (a blob store's write must not hold the core).
  std::function<void(std::vector<CoreMedia>)> media;
  // The notification sockets (run_mirror): wss:// trust, and the connect and upgrade bound.
  std::string ca_file;
  std::chrono::milliseconds socket_timeout{10'000};
};

class GenesysCoreDriver {
 public:
  // `rest` outlives the driver; stopping it (RestClient::stop) ends every call in flight.
  GenesysCoreDriver(CoreDriverOptions options, RestClient& rest);
  ~GenesysCoreDriver();
  GenesysCoreDriver(const GenesysCoreDriver&) = delete;
  GenesysCoreDriver& operator=(const GenesysCoreDriver&) = delete;

  void start();
  // Joins the timer thread and every request thread (stop the RestClient first so they end
  // at once). Idempotent.
  void stop();

  // Calls `intent` (one of the core's intent methods) with the core and the time, then, while
  // that call's answer has not come, waits at most `wait` and asks again (the same arguments
  // find the same intent). Past `wait`: the core's kUnavailable ("not answered yet"); the
  // call goes on and the device's retry takes its answer.
  using IntentCall = std::function<Result<PlatformAnswer>(GenesysCore&, int64_t now_ms)>;
  Result<PlatformAnswer> intent(const IntentCall& intent, std::chrono::milliseconds wait);
  // Runs `fn` on the core under the driver's lock (inputs such as set_presence_map).
  void with_core(const std::function<void(GenesysCore&)>& fn);

  CoreCounters counters() const;
  // Every notification channel's socket is open (run_mirror).
  bool connected() const;
  // The first full mirror finished (run_mirror).
  bool mirrored() const;
  // Intent calls that returned before their answer came (the wait ran out).
  uint64_t intents_pending() const;

 private:
  struct Request;
  struct Socket;
  void run();
  // A channel's socket thread.
  void run_socket(Socket& socket);
  // Sends what the core asks for and hands its events on. Caller holds mutex_.
  void pump();
  void perform(const CoreRequest& request);
  void reap();

  CoreDriverOptions options_;
  RestClient& rest_;
  GenesysCore core_;
  std::chrono::milliseconds request_deadline_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread timer_;
  std::vector<std::shared_ptr<Request>> requests_;
  std::condition_variable socket_wake_;
  std::vector<std::unique_ptr<Socket>> sockets_;  // by channel (run_mirror)
  std::vector<CoreMedia> media_;                  // taken from the core, for options_.media
  uint64_t intents_pending_ = 0;
};

}  // namespace outpost::genesys
