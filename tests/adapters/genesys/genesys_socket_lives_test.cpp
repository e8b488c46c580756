// The driver's rule for a notification socket's late news (decision 049), step by step:
// opens and closes are counted as queued and as done; while they differ, what the socket
// reports belongs to a life the core has already ended and is dropped. The sequences are
// those the driver's socket thread meets (genesys_core_driver.cpp run_socket).
#include "adapters/genesys/genesys_socket_lives.h"

#include <gtest/gtest.h>

namespace outpost::genesys {
namespace {

using Kind = SocketCommand::Kind;

TEST(GenesysSocketLives, AnOpenWithNothingBehindItIsNewsAndSoAreItsMessages) {
  SocketLives lives;
  EXPECT_TRUE(lives.current());
  lives.queued(Kind::kOpen);
  EXPECT_FALSE(lives.current());  // a read before the open ran belongs to no life yet
  EXPECT_TRUE(lives.done(Kind::kOpen));
  EXPECT_TRUE(lives.current());
  lives.queued(Kind::kSend);  // a ping: the same life
  EXPECT_TRUE(lives.current());
  EXPECT_FALSE(lives.done(Kind::kSend));
  EXPECT_TRUE(lives.current());
}

TEST(GenesysSocketLives, WhatTheOldSocketSaysAfterTheCoreRenewedItIsDropped) {
  SocketLives lives;
  lives.queued(Kind::kOpen);
  ASSERT_TRUE(lives.done(Kind::kOpen));
  // The core renews the channel: a close and the new channel's open are queued while the
  // thread is still reading the old socket.
  lives.queued(Kind::kClose);
  lives.queued(Kind::kOpen);
  EXPECT_FALSE(lives.current());  // a message read now: the old life's, dropped
  EXPECT_FALSE(lives.done(Kind::kClose));
  EXPECT_FALSE(lives.current());  // the closed socket's failed read: dropped too
  EXPECT_TRUE(lives.done(Kind::kOpen));
  EXPECT_TRUE(lives.current());  // the new socket's messages
}

TEST(GenesysSocketLives, AnOpenTheCoreGaveUpOnBeforeItRanIsNotReported) {
  SocketLives lives;
  lives.queued(Kind::kOpen);
  // The core's heartbeat timer (or a failed channel) closes before the open ran.
  lives.queued(Kind::kClose);
  EXPECT_FALSE(lives.done(Kind::kOpen));  // its success is late news
  EXPECT_FALSE(lives.current());
  EXPECT_FALSE(lives.done(Kind::kClose));
  EXPECT_TRUE(lives.current());
  // A second open after the close: news again.
  lives.queued(Kind::kOpen);
  EXPECT_TRUE(lives.done(Kind::kOpen));
}

TEST(GenesysSocketLives, TwoRenewalsQueuedReportOnlyTheLastOpen) {
  SocketLives lives;
  for (Kind kind : {Kind::kOpen, Kind::kClose, Kind::kOpen, Kind::kClose, Kind::kOpen})
    lives.queued(kind);
  EXPECT_FALSE(lives.done(Kind::kOpen));
  EXPECT_FALSE(lives.done(Kind::kClose));
  EXPECT_FALSE(lives.done(Kind::kOpen));
  EXPECT_FALSE(lives.done(Kind::kClose));
  EXPECT_TRUE(lives.done(Kind::kOpen));
}

}  // namespace
}  // namespace outpost::genesys
