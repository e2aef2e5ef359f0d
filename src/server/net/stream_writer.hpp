#pragma once

// Private to server/net (included by session.cpp only; Beast inside): the part of a Session
// that writes a streamed body (api::StreamBody, server-sent events) as chunked HTTP. A mixin:
// Session<Stream> derives from StreamWriter<Session<Stream>> and befriends it; the writer uses
// the session's socket, options, response and log fields, and keeps the stream's own state.

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server/api/http_types.hpp"

namespace oxide::server::net::internal {

template <class Session>
class StreamWriter {
 public:
  // The headers, then one chunk per Read() of the body whenever it wakes us (or a keepalive),
  // never more than one write at a time. No thread waits: between writes the session is just
  // a parked object with a timer and a watch on the socket. The connection keeps its slot.
  void StartStream() {
    stream_body_ = std::move(S().resp_.stream);
    S().keep_alive_ = false;  // a stream ends only by closing
    stream_res_.emplace(static_cast<boost::beast::http::status>(S().resp_.status), 11);
    S().SetHeaders(*stream_res_);
    stream_res_->chunked(true);
    stream_res_->body().data = nullptr;
    stream_res_->body().more = true;
    stream_sr_.emplace(*stream_res_);
    S().log_status_ = S().resp_.status;
    S().body_written_ = 0;
    S().resp_ = api::Response();
    streaming_ = true;
    std::weak_ptr<Session> weak = S().shared_from_this();
    stream_body_->Start([weak, ex = S().stream_.get_executor(), gate = S().gate_] {
      gate->Run([&] {
        boost::asio::post(ex, [weak] {
          if (auto self = weak.lock()) self->OnStreamWake();
        });
      });
    });
    keepalive_.emplace(S().stream_.get_executor());
    S().writing_ = true;
    S().Lowest().expires_after(S().opt_.write_timeout);
    boost::beast::http::async_write_header(
        S().stream_, *stream_sr_,
        [self = S().shared_from_this()](boost::beast::error_code ec, size_t) {
          self->writing_ = false;
          if (ec) return self->EndStream(ec);
          self->WatchPeer();
          self->ArmKeepalive();
          self->PumpStream();
        });
  }

  void OnStreamWake() {
    if (!streaming_) return;
    if (!S().writing_) return PumpStream();
    // The reader fell so far behind that it was dropped while a write is still stuck: close
    // now rather than wait for the write timeout.
    if (stream_body_->Over())
      EndStream(boost::asio::error::make_error_code(boost::asio::error::no_buffer_space));
  }

  void PumpStream() {
    if (!streaming_ || S().writing_) return;
    std::string out;
    if (!stream_body_->Read(&out)) {
      // Over (the reader fell too far behind): end the chunked body properly, then close.
      return WriteStreamChunk(std::move(out), false);
    }
    if (!out.empty()) WriteStreamChunk(std::move(out), true);
  }

  void WriteStreamChunk(std::string data, bool more) {
    stream_buf_ = std::move(data);
    auto& body = stream_res_->body();
    body.data = stream_buf_.empty() ? nullptr : stream_buf_.data();
    body.size = stream_buf_.size();
    body.more = more;
    S().writing_ = true;
    S().Lowest().expires_after(S().opt_.write_timeout);
    boost::beast::http::async_write(
        S().stream_, *stream_sr_,
        [self = S().shared_from_this()](boost::beast::error_code ec, size_t) {
          self->writing_ = false;
          if (ec == boost::beast::http::error::need_buffer) ec = {};
          if (!ec) self->body_written_ += self->stream_buf_.size();
          if (ec || self->stream_sr_->is_done()) return self->EndStream(ec);
          self->PumpStream();
        });
  }

  // The client sends nothing after its request: the socket turning readable means it closed
  // (or misbehaves). Noticed at once, so a closed stream gives its slot back without waiting
  // for the next write to fail.
  void WatchPeer() {
    S().Lowest().socket().async_wait(
        tcp::socket::wait_read,
        boost::asio::bind_executor(S().stream_.get_executor(), [self = S().shared_from_this()](
                                                                   boost::beast::error_code ec) {
          if (ec == boost::asio::error::operation_aborted) return;
          self->EndStream(ec ? ec : boost::asio::error::make_error_code(boost::asio::error::eof));
        }));
  }

  void ArmKeepalive() {
    keepalive_->expires_after(stream_body_->keepalive_interval());
    keepalive_->async_wait([self = S().shared_from_this()](boost::beast::error_code ec) {
      if (ec || !self->streaming_) return;
      if (!self->writing_) self->WriteStreamChunk(self->stream_body_->Keepalive(), true);
      self->ArmKeepalive();
    });
  }

  // Once. `ec` empty: the final chunk went out, close politely. Otherwise (write error, peer
  // gone, slow reader) close the socket now, which also aborts a write in flight.
  void EndStream(boost::beast::error_code ec) {
    if (!streaming_) return;
    streaming_ = false;
    keepalive_->cancel();
    S().LogRequest(ec ? ec.message() : std::string(), S().body_written_);
    stream_body_.reset();  // leaves the event bus now
    boost::beast::error_code ignored;
    if (ec || S().writing_) return S().Lowest().close();
    S().Lowest().socket().cancel(ignored);  // the peer watch
    S().Close();
  }

 private:
  using tcp = boost::asio::ip::tcp;
  Session& S() { return static_cast<Session&>(*this); }

  // The serializer lives as long as the session (a cancelled write may still be unwinding when
  // the stream ends).
  std::shared_ptr<api::StreamBody> stream_body_;
  std::optional<boost::beast::http::response<boost::beast::http::buffer_body>> stream_res_;
  std::optional<boost::beast::http::response_serializer<boost::beast::http::buffer_body>>
      stream_sr_;
  std::string stream_buf_;  // the chunk being written
  std::optional<boost::asio::steady_timer> keepalive_;
  bool streaming_ = false;
};

}  // namespace oxide::server::net::internal
