// Internal to the server runtime: the bytes of a blob download written piece by piece
// (kBlobStreamPiece, 64 KiB) from its BlobReader onto the connection, each piece read only
// when the previous one was written, so a download holds one piece of memory whatever the
// blob's size and a peer that stops reading holds nothing but its socket until the
// connection's write timeout cuts it.
// Thread rules: a BlobStream belongs to its connection's strand.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "transport/blob_http.h"
#include "transport/limits.h"

namespace outpost::server_impl {

class BlobStream {
 public:
  explicit BlobStream(blob_http::BlobAnswer answer)
      : reader_(std::move(answer.body)), offset_(answer.first), remaining_(answer.length) {
    response_.result(answer.head.result());
    response_.version(answer.head.version());
    for (const auto& field : answer.head) response_.set(field.name_string(), field.value());
    response_.content_length(answer.length);
    response_.keep_alive(answer.head.keep_alive());
    response_.body().data = nullptr;
    response_.body().more = true;
  }
  BlobStream(const BlobStream&) = delete;
  BlobStream& operator=(const BlobStream&) = delete;

  // Writes everything (headers, then the pieces); `done` gets the first error, or none.
  // `stream` and this object must live until `done` runs.
  template <class Stream>
  void write(Stream& stream, std::chrono::milliseconds piece_timeout,
             std::function<void(boost::beast::error_code)> done) {
    done_ = std::move(done);
    write_next(stream, piece_timeout);
  }

  bool keep_alive() const { return response_.keep_alive(); }

 private:
  template <class Stream>
  void write_next(Stream& stream, std::chrono::milliseconds piece_timeout) {
    if (remaining_ > 0) {
      Status read =
          reader_->read(offset_, std::min<uint64_t>(remaining_, limits::kBlobStreamPiece), piece_);
      if (!read.ok() || piece_.empty()) {
        // The file vanished or failed under us: the headers promised more, so the
        // connection must end (the device resumes with a Range).
        finish(boost::beast::errc::make_error_code(boost::beast::errc::io_error));
        return;
      }
      offset_ += piece_.size();
      remaining_ -= piece_.size();
    } else {
      piece_.clear();
    }
    response_.body().data = piece_.empty() ? nullptr : piece_.data();
    response_.body().size = piece_.size();
    response_.body().more = remaining_ > 0;
    boost::beast::get_lowest_layer(stream).expires_after(piece_timeout);
    boost::beast::http::async_write(
        stream, serializer_, [this, &stream, piece_timeout](boost::beast::error_code ec, size_t) {
          if (ec == boost::beast::http::error::need_buffer) {
            write_next(stream, piece_timeout);
            return;
          }
          finish(ec);
        });
  }

  // `done` may destroy this object: nothing is touched after it.
  void finish(boost::beast::error_code ec) {
    auto done = std::move(done_);
    done(ec);
  }

  boost::beast::http::response<boost::beast::http::buffer_body> response_;
  boost::beast::http::response_serializer<boost::beast::http::buffer_body> serializer_{response_};
  std::unique_ptr<BlobReader> reader_;
  uint64_t offset_;
  uint64_t remaining_;
  std::string piece_;
  std::function<void(boost::beast::error_code)> done_;
};

}  // namespace outpost::server_impl
