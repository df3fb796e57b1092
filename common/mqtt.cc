// MqttLink over libmosquitto 2.0. The link runs its own network thread
// (mosquitto_loop in a loop, with mosquitto_threaded_set) rather than
// mosquitto_loop_start, because libmosquitto's built-in reconnection has no
// jitter and reuses the will set at creation: here every attempt sets a fresh
// will and waits a jittered, growing delay after a failure.
#include "common/mqtt.h"

#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/text.h"
#include "common/this_thread.h"

namespace edgefleet::mqtt {
namespace {

using common::Error;
using common::ErrorCode;

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });  // never cleaned up: process lifetime
}

std::string MosqError(int rc) { return mosquitto_strerror(rc); }

}  // namespace

const char* ToString(PublishOutcome outcome) {
  switch (outcome) {
    case PublishOutcome::kSent: return "sent";
    case PublishOutcome::kQueued: return "queued";
    case PublishOutcome::kDropped: return "dropped";
  }
  return "unknown";
}

std::chrono::milliseconds ReconnectDelay(std::uint32_t failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double unit) {
  const std::int64_t lo = std::max<std::int64_t>(1, initial.count());
  const std::int64_t hi = std::max<std::int64_t>(lo, max.count());
  std::int64_t delay = lo;
  for (std::uint32_t i = 1; i < failures && delay < hi; ++i) delay = std::min(hi, delay * 2);
  // Equal jitter: half fixed, half random, so a fleet that lost the broker
  // together does not come back together.
  const double u = std::clamp(std::isfinite(unit) ? unit : 0.0, 0.0, 1.0);
  const double half = static_cast<double>(delay) / 2.0;
  return std::chrono::milliseconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(half + half * u))));
}

class MqttLink::Impl {
 public:
  explicit Impl(MqttOptions options) : options_(std::move(options)) {
    std::uint64_t seed = options_.seed;
    if (seed == 0) seed = std::hash<std::string>{}(options_.client_id) | 1;
    rng_.seed(seed);
  }

  ~Impl() {
    (void)Close(std::nullopt, std::chrono::milliseconds(0));
    if (mosq_ != nullptr) mosquitto_destroy(mosq_);
  }

  Expected<void> Init() {
    InitLibrary();
    mosq_ = mosquitto_new(options_.client_id.c_str(), /*clean_session=*/true, this);
    if (mosq_ == nullptr) return Error(ErrorCode::kInternal, "mosquitto_new failed");
    int rc = mosquitto_threaded_set(mosq_, true);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (rc == MOSQ_ERR_SUCCESS && !options_.username.empty()) {
      rc = mosquitto_username_pw_set(mosq_, options_.username.c_str(), options_.password.c_str());
    }
    if (rc != MOSQ_ERR_SUCCESS) return Error(ErrorCode::kInternal, "mosquitto setup: " + MosqError(rc));
    mosquitto_connect_callback_set(mosq_, &Impl::OnConnect);
    mosquitto_disconnect_callback_set(mosq_, &Impl::OnDisconnect);
    mosquitto_publish_callback_set(mosq_, &Impl::OnPublish);
    mosquitto_message_callback_set(mosq_, &Impl::OnMessage);
    mosquitto_subscribe_callback_set(mosq_, &Impl::OnSubscribe);
    return common::Ok();
  }

  Expected<void> Start() {
    std::lock_guard lock(mu_);
    if (started_ || closed_) return Error(ErrorCode::kFailedPrecondition, "MQTT link already started or closed");
    started_ = true;
    thread_ = std::thread([this] {
      common::NameThisThread("ef-mqtt");
      Run();
    });
    return common::Ok();
  }

  Expected<PublishOutcome> Publish(std::string_view topic, std::string_view payload, Qos qos, bool retain) {
    if (!IsValidPublishTopic(topic)) return Error(ErrorCode::kInvalidArgument, "invalid MQTT topic");
    if (payload.size() > 256 * 1024 * 1024) return Error(ErrorCode::kInvalidArgument, "payload too large");
    std::lock_guard lock(mu_);
    if (connected_) {
      const int rc = SendLocked(topic, payload, qos, retain, nullptr);
      if (rc == MOSQ_ERR_SUCCESS) return PublishOutcome::kSent;
      // Lost the connection under our feet (the callback has not run yet):
      // fall through to the offline policy.
    }
    return QueueLocked(Message{std::string(topic), std::string(payload), qos, retain});
  }

  Expected<void> Subscribe(std::string_view filter, Qos qos, MessageHandler handler) {
    const std::string f(filter);
    if (f.empty() || !common::IsValidUtf8(f) || mosquitto_sub_topic_check(f.c_str()) != MOSQ_ERR_SUCCESS) {
      return Error(ErrorCode::kInvalidArgument, "invalid MQTT topic filter");
    }
    {
      std::lock_guard lock(subs_mu_);
      subs_.push_back(Subscription{f, qos, std::move(handler)});
    }
    std::lock_guard lock(mu_);
    if (connected_) {
      const int rc = mosquitto_subscribe(mosq_, nullptr, f.c_str(), static_cast<int>(qos));
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        return Error(ErrorCode::kUnavailable, "subscribe: " + MosqError(rc));
      }
    }
    return common::Ok();
  }

  bool connected() const {
    std::lock_guard lock(mu_);
    return connected_;
  }

  bool WaitConnected(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return connected_; });
  }

  Expected<void> Close(std::optional<Message> final_message, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (closed_) return common::Ok();
    closed_ = true;
    std::optional<Error> error;
    if (final_message) {
      if (!connected_) {
        error = Error(ErrorCode::kUnavailable, "not connected: the final message was not sent");
      } else {
        int mid = 0;
        awaited_mid_ = -1;
        acked_ = false;
        const int rc = SendLocked(final_message->topic, final_message->payload, final_message->qos,
                                  final_message->retain, &mid);
        if (rc != MOSQ_ERR_SUCCESS) {
          error = Error(ErrorCode::kUnavailable, "final message: " + MosqError(rc));
        } else {
          awaited_mid_ = mid;
          if (!cv_.wait_for(lock, timeout, [this] { return acked_ || !connected_; }) || !acked_) {
            error = Error(ErrorCode::kDeadlineExceeded, "the final message was not acknowledged in time");
          }
        }
      }
    }
    stopping_ = true;
    if (connected_) {
      (void)mosquitto_disconnect(mosq_);  // the network thread writes it, then the loop ends
      cv_.wait_for(lock, std::max(timeout, std::chrono::milliseconds(200)), [this] { return !connected_; });
    }
    lock.unlock();
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (error) return *error;
    return common::Ok();
  }

  void RenewWill() {
    std::lock_guard lock(mu_);
    if (!connected_ || stopping_) return;
    renew_will_ = true;
    connected_ = false;  // what is published from now on waits in the offline queue
    (void)mosquitto_disconnect(mosq_);  // the network thread writes it; the loop then reconnects
  }

  MqttStats stats() const {
    std::lock_guard lock(mu_);
    MqttStats s = stats_;
    s.queued = queue_.size();
    s.received = received_.load();
    return s;
  }

 private:
  struct Subscription {
    std::string filter;
    Qos qos;
    MessageHandler handler;
  };

  // mu_ held. The message goes to libmosquitto, which queues it for the
  // network thread (threaded mode: it never writes from the caller's thread).
  int SendLocked(std::string_view topic, std::string_view payload, Qos qos, bool retain, int* mid) {
    const std::string t(topic);
    const int rc = mosquitto_publish(mosq_, mid, t.c_str(), static_cast<int>(payload.size()),
                                     payload.data(), static_cast<int>(qos), retain);
    if (rc == MOSQ_ERR_SUCCESS) ++stats_.sent;
    return rc;
  }

  // mu_ held. The offline policy of the header.
  PublishOutcome QueueLocked(Message message) {
    if (options_.max_queued == 0) {
      ++stats_.dropped;
      return PublishOutcome::kDropped;
    }
    if (message.retain) {
      auto same = std::find_if(queue_.begin(), queue_.end(), [&](const Message& m) {
        return m.retain && m.topic == message.topic;
      });
      if (same != queue_.end()) {
        queue_.erase(same);
        ++stats_.dropped;  // superseded: counted, since it is never sent
      }
    }
    while (queue_.size() >= options_.max_queued) {
      queue_.pop_front();
      ++stats_.dropped;
    }
    queue_.push_back(std::move(message));
    return PublishOutcome::kQueued;
  }

  void Run() {
    std::uint32_t failures = 0;
    bool socket_open = false;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_ && !connected_) break;
      }
      if (!socket_open) {
        SetWill();
        const int rc = mosquitto_connect(mosq_, options_.host.c_str(), options_.port,
                                         static_cast<int>(options_.keepalive.count()));
        if (rc == MOSQ_ERR_SUCCESS) {
          socket_open = true;  // CONNACK (OnConnect) tells whether the broker accepted us
        } else {
          {
            std::lock_guard lock(mu_);
            ++stats_.connect_failures;
          }
          WaitBackoff(++failures);
          continue;
        }
      }
      const int rc = mosquitto_loop(mosq_, 100, 1);
      if (rc != MOSQ_ERR_SUCCESS) {
        socket_open = false;
        bool was_connected = false;
        {
          std::lock_guard lock(mu_);
          was_connected = connected_;
          if (connected_) {
            connected_ = false;
            ++stats_.disconnects;
          } else if (!stopping_ && !renew_will_) {
            ++stats_.connect_failures;  // refused at CONNACK, or lost before it
          }
          if (stopping_) break;
        }
        cv_.notify_all();
        bool renew = false;
        {
          std::lock_guard lock(mu_);
          renew = renew_will_;
          renew_will_ = false;
        }
        if (renew) continue;  // our own clean disconnect: reconnect now, with the new will
        failures = was_connected ? 1 : failures + 1;
        WaitBackoff(failures);
      } else {
        std::lock_guard lock(mu_);
        if (connected_) failures = 0;
      }
    }
    std::lock_guard lock(mu_);
    connected_ = false;
    cv_.notify_all();
  }

  void SetWill() {
    mosquitto_will_clear(mosq_);
    if (!options_.will) return;
    std::optional<Message> will = options_.will();
    if (!will || !IsValidPublishTopic(will->topic)) return;
    (void)mosquitto_will_set(mosq_, will->topic.c_str(), static_cast<int>(will->payload.size()),
                             will->payload.data(), static_cast<int>(will->qos), will->retain);
  }

  void WaitBackoff(std::uint32_t failures) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto delay = ReconnectDelay(failures, options_.reconnect_initial, options_.reconnect_max, unit(rng_));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay, [this] { return stopping_; });
  }

  static void OnConnect(mosquitto* mosq, void* obj, int rc) {
    auto* self = static_cast<Impl*>(obj);
    {
      std::lock_guard lock(self->mu_);
      self->stats_.last_connack = rc;
      if (rc != 0 || self->stopping_) return;
      self->stats_.subscriptions_acked = 0;
    }
    {
      std::lock_guard lock(self->subs_mu_);
      for (const Subscription& s : self->subs_) {
        (void)mosquitto_subscribe(mosq, nullptr, s.filter.c_str(), static_cast<int>(s.qos));
      }
    }
    {
      std::lock_guard lock(self->mu_);
      self->connected_ = true;
      ++self->stats_.connects;
      // Flush the offline queue in order before any new message can go.
      while (!self->queue_.empty()) {
        Message& m = self->queue_.front();
        if (self->SendLocked(m.topic, m.payload, m.qos, m.retain, nullptr) != MOSQ_ERR_SUCCESS) break;
        self->queue_.pop_front();
      }
    }
    self->cv_.notify_all();
  }

  static void OnDisconnect(mosquitto*, void* obj, int) {
    auto* self = static_cast<Impl*>(obj);
    {
      std::lock_guard lock(self->mu_);
      if (self->connected_) {
        self->connected_ = false;
        ++self->stats_.disconnects;
      }
    }
    self->cv_.notify_all();
  }

  static void OnSubscribe(mosquitto*, void* obj, int, int, const int*) {
    auto* self = static_cast<Impl*>(obj);
    std::lock_guard lock(self->mu_);
    ++self->stats_.subscriptions_acked;
  }

  static void OnPublish(mosquitto*, void* obj, int mid) {
    auto* self = static_cast<Impl*>(obj);
    {
      std::lock_guard lock(self->mu_);
      if (mid != self->awaited_mid_) return;
      self->acked_ = true;
    }
    self->cv_.notify_all();
  }

  static void OnMessage(mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* self = static_cast<Impl*>(obj);
    if (msg == nullptr || msg->topic == nullptr) return;
    Message m;
    m.topic = msg->topic;
    if (msg->payload != nullptr && msg->payloadlen > 0) {
      m.payload.assign(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
    }
    m.qos = msg->qos > 0 ? Qos::kAtLeastOnce : Qos::kAtMostOnce;
    m.retain = msg->retain;
    std::vector<MessageHandler> handlers;
    {
      std::lock_guard lock(self->subs_mu_);
      for (const Subscription& s : self->subs_) {
        bool match = false;
        if (mosquitto_topic_matches_sub(s.filter.c_str(), msg->topic, &match) == MOSQ_ERR_SUCCESS && match) {
          handlers.push_back(s.handler);
        }
      }
    }
    if (!handlers.empty()) self->received_.fetch_add(1);
    for (const MessageHandler& h : handlers) h(m);
  }

  const MqttOptions options_;
  mosquitto* mosq_ = nullptr;
  std::mt19937_64 rng_;  // network thread only

  mutable std::mutex mu_;  // guards everything below up to subs_mu_
  mutable std::condition_variable cv_;
  bool started_ = false;
  bool closed_ = false;
  bool stopping_ = false;
  bool connected_ = false;
  bool renew_will_ = false;  // RenewWill's disconnect: reconnect without waiting
  int awaited_mid_ = -1;
  bool acked_ = false;
  std::deque<Message> queue_;
  MqttStats stats_;

  std::mutex subs_mu_;
  std::vector<Subscription> subs_;
  std::atomic<std::uint64_t> received_{0};

  std::thread thread_;
};

Expected<std::unique_ptr<MqttLink>> MqttLink::Create(MqttOptions options) {
  if (options.client_id.empty() || options.client_id.size() > 65535) {
    return Error(ErrorCode::kInvalidArgument, "MQTT client id must be 1 to 65535 bytes");
  }
  if (options.port <= 0 || options.port > 65535) return Error(ErrorCode::kInvalidArgument, "MQTT port out of range");
  if (options.host.empty()) return Error(ErrorCode::kInvalidArgument, "MQTT host is empty");
  if (options.reconnect_initial.count() <= 0 || options.reconnect_max.count() <= 0) {
    return Error(ErrorCode::kInvalidArgument, "MQTT reconnect delays must be positive");
  }
  if (options.keepalive.count() < 5 || options.keepalive.count() > 65535) {
    return Error(ErrorCode::kInvalidArgument, "MQTT keepalive must be 5 to 65535 seconds");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  EDGEFLEET_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<MqttLink>(new MqttLink(std::move(impl)));
}

MqttLink::MqttLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttLink::~MqttLink() = default;

Expected<void> MqttLink::Start() { return impl_->Start(); }

Expected<PublishOutcome> MqttLink::Publish(std::string_view topic, std::string_view payload, Qos qos,
                                           bool retain) {
  return impl_->Publish(topic, payload, qos, retain);
}

Expected<void> MqttLink::Subscribe(std::string_view filter, Qos qos, MessageHandler handler) {
  return impl_->Subscribe(filter, qos, std::move(handler));
}

bool MqttLink::connected() const { return impl_->connected(); }
bool MqttLink::WaitConnected(std::chrono::milliseconds timeout) const { return impl_->WaitConnected(timeout); }

Expected<void> MqttLink::Close(std::optional<Message> final_message, std::chrono::milliseconds timeout) {
  return impl_->Close(std::move(final_message), timeout);
}

MqttStats MqttLink::stats() const { return impl_->stats(); }

void MqttLink::RenewWill() { impl_->RenewWill(); }

}  // namespace edgefleet::mqtt
