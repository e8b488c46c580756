#include "apps/outpost-bench/idle_reader.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace outpost::bench {

namespace {

constexpr size_t kReadBuffer = 64 * 1024;
constexpr int kEventsPerWake = 1024;
// Larger than anything the server sends an idle client (a carried frame is at most 256 KiB).
constexpr uint64_t kMaxFrame = 64ull << 20;

}  // namespace

IdleReader::IdleReader(OnMessage on_message, OnClosed on_closed)
    : on_message_(std::move(on_message)),
      on_closed_(std::move(on_closed)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      buffer_(kReadBuffer) {}

IdleReader::~IdleReader() {
  if (epoll_ >= 0) ::close(epoll_);
}

Status IdleReader::add(int fd) {
  if (epoll_ < 0) return error(ErrorCode::kUnavailable, "epoll_create1 failed");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = clients_.size();
  // Each received segment carries the kernel's receive time (decision 052).
  int on = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return error(ErrorCode::kUnavailable, std::string("epoll_ctl: ") + std::strerror(errno));
  }
  clients_.push_back(Client{fd});
  return Status::Ok();
}

std::string IdleReader::client_frame(unsigned opcode, const std::string& payload) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | (opcode & 0x0F)));
  const uint64_t size = payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(0x80 | size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  }
  out.append(4, '\0');  // the mask key: zero, so the payload goes as it is
  out += payload;
  return out;
}

void IdleReader::send(size_t index, const std::string& message) {
  Client& client = clients_[index];
  if (!client.open) return;
  client.out += client_frame(0x2, message);
  flush(index);
}

void IdleReader::flush(size_t index) {
  Client& client = clients_[index];
  while (client.open && !client.out.empty()) {
    const ssize_t sent =
        ::send(client.fd, client.out.data(), client.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
      client.out.erase(0, static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return end(index);
  }
  if (!client.open) return;
  epoll_event event{};
  event.events = EPOLLIN | (client.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  event.data.u64 = index;
  (void)::epoll_ctl(epoll_, EPOLL_CTL_MOD, client.fd, &event);
}

void IdleReader::poll(std::chrono::milliseconds timeout) {
  epoll_event events[kEventsPerWake];
  const int ready = ::epoll_wait(epoll_, events, kEventsPerWake, static_cast<int>(timeout.count()));
  if (ready <= 0) return;
  // Every socket of this wake-up was readable by now: one clock read for all of them.
  const Clock::time_point readable = Clock::now();
  timespec real{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  realtime_to_steady_ = readable.time_since_epoch() - (std::chrono::seconds(real.tv_sec) +
                                                       std::chrono::nanoseconds(real.tv_nsec));
  for (int i = 0; i < ready; ++i) {
    const auto index = static_cast<size_t>(events[i].data.u64);
    if (index >= clients_.size() || !clients_[index].open) continue;
    if (events[i].events & EPOLLOUT) flush(index);
    if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_client(index, readable);
  }
}

void IdleReader::read_client(size_t index, Clock::time_point readable) {
  for (;;) {
    Client& client = clients_[index];
    if (!client.open) return;
    iovec data{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(client.fd, &message, MSG_DONTWAIT);
    if (got > 0) {
      client.in.append(buffer_.data(), static_cast<size_t>(got));
      // The receive time of the first segment this read returned (a round's frame is one
      // segment); without one, when the socket was found readable.
      Clock::time_point arrived = readable;
      for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec at{};
          std::memcpy(&at, CMSG_DATA(c), sizeof at);
          arrived = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
              std::chrono::seconds(at.tv_sec) + std::chrono::nanoseconds(at.tv_nsec) +
              realtime_to_steady_));
        }
      }
      if (!parse(index, readable, arrived)) return end(index);
      if (static_cast<size_t>(got) < buffer_.size()) return;  // drained
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return end(index);  // closed by the server, or an error
  }
}

bool IdleReader::parse(size_t index, Clock::time_point readable, Clock::time_point arrived) {
  size_t at = 0;
  for (;;) {
    Client& client = clients_[index];
    const std::string& in = client.in;
    if (in.size() - at < 2) break;
    const auto b0 = static_cast<uint8_t>(in[at]);
    const auto b1 = static_cast<uint8_t>(in[at + 1]);
    if (b1 & 0x80) return false;  // a server never masks
    uint64_t size = b1 & 0x7F;
    size_t header = 2;
    if (size >= 126) {
      const size_t bytes = size == 126 ? 2 : 8;
      if (in.size() - at < 2 + bytes) break;
      size = 0;
      for (size_t i = 0; i < bytes; ++i) size = (size << 8) | static_cast<uint8_t>(in[at + 2 + i]);
      header += bytes;
    }
    if (size > kMaxFrame) return false;
    if (in.size() - at < header + size) break;
    const unsigned opcode = b0 & 0x0F;
    const bool fin = (b0 & 0x80) != 0;
    const size_t payload = at + header;
    at += header + size;
    switch (opcode) {
      case 0x0:
      case 0x1:
      case 0x2:
        if (fin) on_message_(index, readable, std::min(arrived, readable));
        break;
      case 0x8:
        return false;  // closed by the server
      case 0x9: {      // a keep-alive ping: answered, as Beast would
        std::string pong = client_frame(0xA, in.substr(payload, size));
        client.out += pong;
        flush(index);
        if (!clients_[index].open) return false;
        break;
      }
      case 0xA:
        break;
      default:
        return false;
    }
  }
  clients_[index].in.erase(0, at);
  return true;
}

void IdleReader::end(size_t index) {
  Client& client = clients_[index];
  if (!client.open) return;
  client.open = false;
  (void)::epoll_ctl(epoll_, EPOLL_CTL_DEL, client.fd, nullptr);
  std::string().swap(client.in);
  std::string().swap(client.out);
  on_closed_(index);
}

}  // namespace outpost::bench
