// The blob routes over real sockets (docs/protocol.md §9), on SQLite and PostgreSQL, and on
// SQLite served over TLS (decision 022; a CA made at run time, which the device's BlobClient
// trusts as the agent would): the device's BlobClient against a real SyncServer with a
// BlobService over a DirBlobStore, and the hostile cases (foreign blobs, abusive ranges,
// oversized and wrong uploads) with a raw HTTP(S) client. Every refusal changes nothing
// stored.
#include <gtest/gtest.h>

#include <boost/beast/ssl.hpp>

#include <filesystem>
#include <fstream>

#include "adapters/dir_blob_store.h"
#include "adapters/sim_media.h"
#include "engine/blob_service.h"
#include "support/tls_certs.h"
#include "tests/transport/hostile_client.h"
#include "tests/transport/sync_server_fixture.h"
#include "transport/blob_cache.h"
#include "transport/blob_client.h"
#include "transport/blob_http.h"
#include "transport/tls_server.h"

namespace outpost::server_test {
namespace {

namespace d = outpost::domain;

// http_call over TLS (trusting anything: the raw client does not check who answers).
HttpReply https_call(uint16_t port, http::verb verb, const std::string& target,
                     const std::string& body = "", const Headers& headers = {}) {
  HttpReply reply;
  net::io_context context;
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(context, tls);
  beast::get_lowest_layer(stream).expires_after(kIoTimeout);
  reply.ec = run_io(context, [&](auto handler) {
    beast::get_lowest_layer(stream).async_connect(server_endpoint(port), std::move(handler));
  });
  if (!reply.ec) {
    reply.ec = run_io(context, [&](auto handler) {
      stream.async_handshake(net::ssl::stream_base::client, std::move(handler));
    });
  }
  if (reply.ec) return reply;
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  (void)run_io(context,
               [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * limits::kMiB);
  parser.skip(verb == http::verb::head);
  reply.ec = run_io(
      context, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  reply.message = parser.release();
  return reply;
}

// Parameter: "sqlite", "postgres", or "sqlite_tls" (SQLite, the server serving TLS).
class BlobServerTest : public SyncServerTest {
 protected:
  void SetUp() override {
    SyncServerTest::SetUp();
    blob_store_ = DirBlobStore::open(dir_.path() + "/blobs").value();
    BlobServiceOptions options;
    options.limits.max_attachment_bytes = 1024 * 1024;
    options.fetch_media = [this](std::string_view uri, uint64_t max) {
      ++fetches_;
      return fetch_sim_media(uri, max);
    };
    blobs_ = std::make_unique<BlobService>(*store_, *blob_store_, Schema::domain(), options);
    SyncServerOptions server_options;
    server_options.blobs = blobs_.get();
    if (tls()) {
      support::TestCa ca = support::TestCa::create();
      support::CertificatePem pem = ca.issue();
      ca_file_ = dir_.path() + "/ca.pem";
      ASSERT_TRUE(support::write_text_file(ca_file_, ca.certificate_pem()));
      ASSERT_TRUE(support::write_text_file(dir_.path() + "/server.pem", pem.certificate));
      ASSERT_TRUE(support::write_text_file(dir_.path() + "/server.key", pem.key));
      server_options.tls =
          TlsServerContext::load(dir_.path() + "/server.pem", dir_.path() + "/server.key").value();
    }
    start_server(server_options);
    cache_ = BlobCache::open({dir_.path() + "/device-cache", kDefaultBlobCacheBytes}).value();
  }

  void TearDown() override {
    if (server_) server_->stop();
    SyncServerTest::TearDown();
  }

  // A voicemail of alice's with `seconds` of simulated audio, written as the platform would.
  d::Voicemail put_voicemail(const std::string& id, int seconds,
                             const std::string& scope = kUserScope) {
    d::Voicemail voicemail;
    voicemail.set_id(id);
    voicemail.set_duration_s(seconds);
    attach_sim_audio(voicemail);
    auto tx = store_->begin_write().value();
    EXPECT_TRUE(tx->put(scope, "voicemail", id, 0, voicemail.SerializeAsString()).ok());
    EXPECT_TRUE(tx->commit().ok());
    return voicemail;
  }

  bool tls() const { return GetParam() == "sqlite_tls"; }

  // `chunk`: the upload chunk and the download's read buffer (progress comes that often).
  BlobClient client(size_t chunk = limits::kClientBlobChunk, const std::string& bearer = "") {
    BlobClientOptions options;
    options.server_url =
        std::string(tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(server_->port());
    options.token = bearer.empty() ? token() : bearer;
    options.chunk_bytes = chunk;
    options.buffer_bytes = chunk;
    options.tls_options.ca_file = ca_file_;  // the app's CA, as the agent is given it
    return BlobClient(options);
  }

  // One request on a connection of its own, plain or TLS as the server speaks.
  HttpReply call(http::verb verb, const std::string& target, const std::string& body = "",
                 const Headers& headers = {}) {
    return tls() ? https_call(server_->port(), verb, target, body, headers)
                 : http_call(server_->port(), verb, target, body, headers);
  }

  std::string blob_target(const d::Voicemail& voicemail) {
    return "/v1/blobs/" + voicemail.audio_sha256() + "?ref=voicemail/" + voicemail.id();
  }

  HttpReply get(const std::string& target, const Headers& headers = {}) {
    Headers all = headers;
    all.push_back({"Authorization", "Bearer " + token()});
    return call(http::verb::get, target, "", all);
  }

  HttpReply put_chunk(const BlobHash& hash, uint64_t offset, uint64_t total,
                      const std::string& bytes) {
    return call(http::verb::put, "/v1/uploads/" + hash.hex(), bytes,
                {{"Authorization", "Bearer " + token()},
                 {"Upload-Offset", std::to_string(offset)},
                 {"Upload-Length", std::to_string(total)}});
  }

  std::unique_ptr<DirBlobStore> blob_store_;
  std::unique_ptr<BlobService> blobs_;
  std::unique_ptr<BlobCache> cache_;
  std::atomic<int> fetches_{0};
  std::string ca_file_;  // the test CA (TLS only)
};

TEST_P(BlobServerTest, DownloadsTheVoicemailAudioInRangesAndVerifiesIt) {
  auto voicemail = put_voicemail("voicemail-5", 6);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  BlobClient device = client(16 * 1024);
  std::vector<uint64_t> progress;
  auto path =
      device.fetch(*cache_, hash, {"voicemail", "voicemail-5"}, [&](uint64_t done, uint64_t) {
        progress.push_back(done);
        return true;
      });
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  EXPECT_EQ(hash_file(*path).value(), hash);
  const uint64_t size = static_cast<uint64_t>(voicemail.audio_size());
  EXPECT_EQ(device.requests(), 1u);  // one request, read in 16 KiB pieces
  ASSERT_EQ(progress.size(), (size + 16 * 1024 - 1) / (16 * 1024));
  EXPECT_EQ(progress.back(), size);
  EXPECT_EQ(fetches_.load(), 1);  // fetched from the platform once, then stored
  // The cache answers offline now: no request.
  BlobClient offline = client();
  ASSERT_TRUE(offline.fetch(*cache_, hash, {"voicemail", "voicemail-5"}).ok());
  EXPECT_EQ(offline.requests(), 0u);
}

TEST_P(BlobServerTest, ADownloadKilledHalfwayResumesFromItsPartial) {
  auto voicemail = put_voicemail("voicemail-5", 8);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  const uint64_t size = static_cast<uint64_t>(voicemail.audio_size());
  const size_t chunk = 8 * 1024;
  {
    BlobClient device = client(chunk);
    auto cut = device.fetch(*cache_, hash, {"voicemail", "voicemail-5"},
                            [&](uint64_t done, uint64_t total) { return done < total / 2; });
    EXPECT_EQ(cut.status().code(), ErrorCode::kCancelled);
  }  // the app dies
  const uint64_t held = cache_->partial_size(hash);
  EXPECT_GE(held, size / 2);
  EXPECT_LT(held, size);
  EXPECT_FALSE(cache_->contains(hash));
  BlobClient restarted = client(chunk);
  auto path = restarted.fetch(*cache_, hash, {"voicemail", "voicemail-5"});
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  EXPECT_EQ(restarted.requests(), 1u);  // one request for the rest: Range: bytes=<held>-
  EXPECT_EQ(hash_file(*path).value(), hash);
}

TEST_P(BlobServerTest, ACorruptPartialIsNeverUsed) {
  auto voicemail = put_voicemail("voicemail-5", 3);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  // A partial whose bytes are not the blob's prefix: the download completes, the hash
  // check fails, the partial is dropped; the next fetch starts over and succeeds.
  std::ofstream(cache_->partial_path(hash), std::ios::binary) << std::string(100, 'x');
  BlobClient device = client();
  EXPECT_EQ(device.fetch(*cache_, hash, {"voicemail", "voicemail-5"}).status().code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(cache_->partial_size(hash), 0u);
  auto path = device.fetch(*cache_, hash, {"voicemail", "voicemail-5"});
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  // A cached file damaged on disk is deleted, not handed out.
  std::ofstream(*path, std::ios::binary | std::ios::app) << "tail";
  EXPECT_FALSE(cache_->find(hash)->has_value());
  EXPECT_FALSE(cache_->contains(hash));
}

TEST_P(BlobServerTest, ForeignBlobsAreForbidden) {
  auto own = put_voicemail("voicemail-5", 3);
  auto bobs = put_voicemail("voicemail-9", 4, "user/acme/bob");
  // Alice names bob's voicemail (in bob's scope), or her own record with bob's hash.
  HttpReply theirs = get(blob_target(bobs));
  EXPECT_EQ(theirs.status(), 403u);
  EXPECT_EQ(theirs.header("X-Outpost-Error"), "permission_denied");
  HttpReply mixed = get("/v1/blobs/" + bobs.audio_sha256() + "?ref=voicemail/voicemail-5");
  EXPECT_EQ(mixed.status(), 403u);
  // Another tenant's token naming alice's record.
  BlobClient globex = client(limits::kClientBlobChunk, token("globex", "alice"));
  EXPECT_EQ(
      globex
          .fetch(*cache_, BlobHash::parse(own.audio_sha256()).value(), {"voicemail", "voicemail-5"})
          .status()
          .code(),
      ErrorCode::kPermissionDenied);
  EXPECT_EQ(get(blob_target(own), {}).status(), 200u);
  // Without a token, with no reference, with an unknown collection.
  EXPECT_EQ(call(http::verb::get, blob_target(own)).status(), 401u);
  EXPECT_EQ(get("/v1/blobs/" + own.audio_sha256()).status(), 400u);
  EXPECT_EQ(get("/v1/blobs/" + own.audio_sha256() + "?ref=nope/voicemail-5").status(), 400u);
  EXPECT_EQ(fetches_.load(), 1);  // only the allowed read fetched anything
  EXPECT_EQ(blob_store_->list()->size(), 1u);
}

TEST_P(BlobServerTest, RangesAreServedAndAbusiveOnesRefused) {
  auto voicemail = put_voicemail("voicemail-5", 2);
  const std::string wav = sim_voicemail_wav("voicemail-5", 2);
  HttpReply whole = get(blob_target(voicemail));
  ASSERT_EQ(whole.status(), 200u);
  EXPECT_EQ(whole.message.body(), wav);
  EXPECT_EQ(whole.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(whole.header("ETag"), "\"" + voicemail.audio_sha256() + "\"");
  HttpReply part = get(blob_target(voicemail), {{"Range", "bytes=4-11"}});
  ASSERT_EQ(part.status(), 206u);
  EXPECT_EQ(part.message.body(), wav.substr(4, 8));
  EXPECT_EQ(part.header("Content-Range"), "bytes 4-11/" + std::to_string(wav.size()));
  HttpReply suffix = get(blob_target(voicemail), {{"Range", "bytes=-4"}});
  ASSERT_EQ(suffix.status(), 206u);
  EXPECT_EQ(suffix.message.body(), wav.substr(wav.size() - 4));
  HttpReply many = get(blob_target(voicemail), {{"Range", "bytes=0-0,1-1,2-2,3-3"}});
  EXPECT_EQ(many.status(), 400u);
  HttpReply past =
      get(blob_target(voicemail), {{"Range", "bytes=" + std::to_string(wav.size()) + "-"}});
  EXPECT_EQ(past.status(), 416u);
  EXPECT_EQ(past.header("X-Outpost-Error"), "out_of_range");
  EXPECT_EQ(past.header("Content-Range"), "bytes */" + std::to_string(wav.size()));
  // HEAD: the headers of the whole answer, no body.
  HttpReply head =
      call(http::verb::head, blob_target(voicemail), "", {{"Authorization", "Bearer " + token()}});
  EXPECT_EQ(head.status(), 200u);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(wav.size()));
  // Other methods.
  EXPECT_EQ(
      call(http::verb::post, blob_target(voicemail), "x", {{"Authorization", "Bearer " + token()}})
          .status(),
      405u);
}

TEST_P(BlobServerTest, UploadsResumeAndWrongOrOversizedOnesStoreNothing) {
  const std::string bytes(300 * 1024, 'a');
  const BlobHash hash = sha256_of(bytes);
  // Oversized (the test bound is 1 MiB): refused before anything is written.
  HttpReply big = put_chunk(hash, 0, 2 * 1024 * 1024, "x");
  EXPECT_EQ(big.status(), 413u);
  // A first chunk, then one at a stale offset: 409 with the true offset.
  EXPECT_EQ(put_chunk(hash, 0, bytes.size(), bytes.substr(0, 1000)).status(), 200u);
  HttpReply stale = put_chunk(hash, 0, bytes.size(), bytes.substr(0, 1000));
  EXPECT_EQ(stale.status(), 409u);
  EXPECT_EQ(stale.header("Upload-Offset"), "1000");
  // The device client picks up from the server's offset.
  BlobClient device = client(100 * 1024);
  ASSERT_TRUE(device.upload(hash, bytes).ok());
  EXPECT_EQ(device.requests(), 1u + 3u);  // HEAD, then 299,000 bytes in three chunks
  EXPECT_TRUE(blob_store_->stat(hash)->has_value());
  // Content that does not hash to its name: the partial is dropped, nothing stored.
  const BlobHash claimed = sha256_of("what the device claims");
  HttpReply wrong = put_chunk(claimed, 0, 6, "forged");
  EXPECT_EQ(wrong.status(), 400u);
  EXPECT_FALSE(blob_store_->stat(claimed)->has_value());
  EXPECT_EQ(call(http::verb::head, "/v1/uploads/" + claimed.hex(), "",
                 {{"Authorization", "Bearer " + token()}})
                .header("Upload-Offset"),
            "0");
  // Missing or bad headers.
  EXPECT_EQ(call(http::verb::put, "/v1/uploads/" + claimed.hex(), "x",
                 {{"Authorization", "Bearer " + token()}})
                .status(),
            400u);
}

TEST_P(BlobServerTest, RecordSyncIsNotBlockedByABlobDownload) {
  auto voicemail = put_voicemail("voicemail-5", 30);
  // A download that reads slowly holds its connection; pulls on others are answered.
  hostile::RawSocket slow(server_->port(), tls() ? hostile::insecure_tls_client() : nullptr);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send("GET " + blob_target(voicemail) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token() +
                        "\r\n\r\n"));  // and never read the answer
  for (int i = 0; i < 5; ++i) {
    HttpReply reply =
        call(http::verb::post, "/v1/pull",
             compress(pull_request("checker", {kUserScope, kOrgScope})), protobuf_headers(token()));
    EXPECT_EQ(reply.status(), 200u);
  }
}

// A TLS client that does not trust the server's certificate sends nothing: the BlobClient
// without the app's CA (the system store does not know the test CA) fails before its
// request, with the agent's "untrusted server" error.
// The same fixture for the TLS store alone (no skipped twins on the plain ones).
class BlobServerTlsTest : public BlobServerTest {};
INSTANTIATE_TEST_SUITE_P(Stores, BlobServerTlsTest, ::testing::Values("sqlite_tls"),
                         [](const auto& info) { return info.param; });

TEST_P(BlobServerTlsTest, AnUntrustedTlsServerGetsNoRequest) {
  ASSERT_TRUE(tls());
  auto voicemail = put_voicemail("voicemail-5", 2);
  BlobClientOptions options;
  options.server_url = "https://127.0.0.1:" + std::to_string(server_->port());
  options.token = token();
  BlobClient untrusting(options);
  auto fetched = untrusting.fetch(*cache_, BlobHash::parse(voicemail.audio_sha256()).value(),
                                  {"voicemail", "voicemail-5"});
  EXPECT_EQ(fetched.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(fetched.status().message().find(kUntrustedServerPrefix), std::string::npos)
      << fetched.status().to_string();
  EXPECT_EQ(fetches_.load(), 0);  // the server never saw the request
}

INSTANTIATE_TEST_SUITE_P(Stores, BlobServerTest,
                         ::testing::Values("sqlite", "postgres", "sqlite_tls"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost::server_test
