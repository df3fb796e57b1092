// MQTT for agent and server: the one adapter over libmosquitto (SPEC section
// 5). Nothing else in the project includes mosquitto.h.
//
// What it is for: the agent publishes its telemetry (common/telemetry.h says
// the topics and payloads) through the narrow Telemetry interface, so its
// runtime can be tested with a fake; MqttLink is the real implementation. The
// server's bridge (server/bridge.h) and the tests use MqttLink's Subscribe.
//
// MqttLink:
//   - Connects to one broker as client id + username + password (a device:
//     username = device id, password = its token), MQTT 3.1.1, clean session.
//   - Last will: set before every connection attempt from
//     MqttOptions::will (a function, so the will's payload carries the time of
//     that connection and the model version of the moment). The broker
//     publishes it when the connection dies without a DISCONNECT (crash,
//     kill -9, network loss, keepalive expiry).
//   - Publish never blocks the caller on the network. One background thread
//     (started by Start) owns the socket: it connects, runs the libmosquitto
//     loop, and reconnects after a loss with jittered exponential backoff
//     (ReconnectDelay below). Publish hands a connected link's message to
//     libmosquitto (which queues it for that thread) and returns.
//   - Offline policy (documented in docs/mqtt.md): while not connected,
//     Publish puts the message in a bounded queue (MqttOptions::max_queued
//     messages) that is sent, in order, once the link connects. A retained
//     message replaces a queued retained message for the same topic (only the
//     latest state matters). When the queue is full the oldest message is
//     dropped. Every drop is counted (MqttStats::dropped) and reported by the
//     returned PublishOutcome. max_queued = 0 drops everything published while
//     disconnected. MQTT is not the record of truth: the agent's SQLite buffer
//     is (SPEC section 5).
//   - Subscribe registers a topic filter and a callback; the subscriptions are
//     renewed on every (re)connection. Retained messages arrive with
//     retained = true.
//   - Close publishes an optional final message (the agent's retained
//     "offline" status), waits (bounded) until the broker acknowledged it,
//     then disconnects cleanly (so the broker does not send the will) and
//     joins the thread. The destructor calls Close() without a final message.
//     The thread connects with libmosquitto's blocking TCP connect, so Close
//     may wait for an attempt in progress (immediate on loopback and for a
//     refused port; up to the OS connect timeout for an unreachable host).
//
// Ownership and threads: MqttLink is the sole owner of its libmosquitto
// handle and thread. Publish, Subscribe, stats() and connected() may be
// called from any thread concurrently. Callbacks (MessageHandler, the will
// function) run on the link's network thread: they must not call Close() or
// block for long; they may call Publish. Close() must not race with the
// destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/text.h"

namespace edgefleet::mqtt {

template <typename T>
using Expected = common::Expected<T>;

enum class Qos : std::uint8_t { kAtMostOnce = 0, kAtLeastOnce = 1 };

// What Publish did with a message.
enum class PublishOutcome : std::uint8_t {
  kSent,     // handed to the connected client (libmosquitto sends it)
  kQueued,   // not connected: kept in the offline queue
  kDropped,  // not connected and max_queued is 0 (counted in MqttStats::dropped)
};
const char* ToString(PublishOutcome outcome);  // "sent", "queued", "dropped"

// The interface the agent's runtime publishes through. Implementations must
// not block the caller on the network.
class Telemetry {
 public:
  virtual ~Telemetry() = default;
  // kInvalidArgument for an empty topic, a topic with '+' or '#', or one that
  // is not valid UTF-8; otherwise what happened to the message.
  virtual Expected<PublishOutcome> Publish(std::string_view topic, std::string_view payload, Qos qos,
                                           bool retain) = 0;
};

struct Message {
  std::string topic;
  std::string payload;
  Qos qos = Qos::kAtMostOnce;
  bool retain = false;
};

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id;  // required; unique per broker (a second connection with it evicts the first)
  std::string username;   // empty: no credentials
  std::string password;
  std::chrono::seconds keepalive{30};
  // Called before every connection attempt; nullopt (or no function): no will.
  std::function<std::optional<Message>()> will;
  // Reconnection backoff: min(max, initial * 2^(failures-1)), then a uniform
  // jitter in [delay/2, delay]. The random source is seeded by `seed`.
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_max{60'000};
  std::uint64_t seed = 0;
  std::size_t max_queued = 256;  // offline queue bound, in messages
};

struct MqttStats {
  std::uint64_t sent = 0;           // PublishOutcome::kSent and queued messages flushed later
  std::uint64_t queued = 0;         // messages in the offline queue now
  std::uint64_t dropped = 0;        // messages lost to the offline policy
  std::uint64_t received = 0;       // messages delivered to subscription handlers
  std::uint64_t connects = 0;       // successful connections (CONNACK accepted)
  std::uint64_t connect_failures = 0;  // attempts refused or failed
  std::uint64_t disconnects = 0;    // connections lost or closed
  std::uint64_t subscriptions_acked = 0;  // SUBACKs received on the current connection
  int last_connack = 0;             // the broker's last CONNACK code (5: not authorised)
};

// Called on the network thread for each message matching the filter.
using MessageHandler = std::function<void(const Message& message)>;

// The jittered exponential backoff of the reconnection loop; pure, for tests.
// `failures` >= 1 consecutive failures; `unit` is a uniform draw in [0, 1).
std::chrono::milliseconds ReconnectDelay(std::uint32_t failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double unit);

// Whether `topic` is a valid topic to publish to (non-empty, <= 65535 bytes,
// UTF-8, no '+', '#' or NUL). Inline: fakes of Telemetry use it without
// linking libmosquitto.
inline bool IsValidPublishTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 65535 || !common::IsValidUtf8(topic)) return false;
  return topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

class MqttLink final : public Telemetry {
 public:
  // kInvalidArgument for an empty client id, a bad port, or reconnect delays
  // that are not positive. Does not connect: call Start().
  static Expected<std::unique_ptr<MqttLink>> Create(MqttOptions options);

  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;
  ~MqttLink() override;

  // Starts the network thread, which connects (and keeps reconnecting) in the
  // background. Returns at once; kFailedPrecondition if already started or
  // closed.
  Expected<void> Start();

  Expected<PublishOutcome> Publish(std::string_view topic, std::string_view payload, Qos qos,
                                   bool retain) override;

  // Registers `handler` for `filter` (MQTT wildcards + and # allowed) and
  // subscribes now if connected, and on every later connection.
  // kInvalidArgument for an invalid filter.
  Expected<void> Subscribe(std::string_view filter, Qos qos, MessageHandler handler);

  // Renews the last will (after what it says changed, e.g. the model
  // version): disconnects cleanly, so the broker drops the old will without
  // sending it, and the network thread reconnects at once, evaluating
  // MqttOptions::will again. Messages published meanwhile wait in the offline
  // queue. Does nothing when not connected (the next connection sets it).
  void RenewWill();

  bool connected() const;
  // Blocks up to `timeout` until connected; for tests and start-up checks.
  bool WaitConnected(std::chrono::milliseconds timeout) const;

  // Publishes `final_message` if given and connected, waits up to `timeout`
  // for its acknowledgement (QoS 1) or its write (QoS 0), disconnects cleanly
  // and stops the thread. kDeadlineExceeded if the final message was not
  // acknowledged in time (the link is closed anyway); kUnavailable if it could
  // not be sent because the link was down. Idempotent.
  Expected<void> Close(std::optional<Message> final_message = std::nullopt,
                       std::chrono::milliseconds timeout = std::chrono::seconds(2));

  MqttStats stats() const;

  class Impl;  // defined in mqtt.cc

 private:
  explicit MqttLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefleet::mqtt
