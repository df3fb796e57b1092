// The core's acceptance program on a Cortex-M4F (`make mcu`).
//
// Parses the artifact of fixture.h in place from flash, runs the detector on
// the fixture's real window with arenas in static memory, and checks that the
// device computes what the host computed (edgefleet-mcu-fixture); then
// exercises FeatureSummary and Backoff. Prints one line per check and ends
// with "edgefleet-mcu: PASS" or "edgefleet-mcu: FAIL" (board.h: semihosting
// under QEMU, exit status 0 or 1).
//
// Float results are compared with a relative tolerance of 1e-4: both sides run
// the same code, so any difference comes from the compilers' instruction
// choice (contraction into fused multiply-adds) or the C libraries' libm; the
// ULP distance is printed to show how large it actually is.
#include <bit>
#include <cstddef>
#include <cstdint>

#include "board.h"
#include "core/artifact.h"
#include "core/backoff.h"
#include "core/detector.h"
#include "core/status.h"
#include "core/summary.h"
#include "fixture.h"

namespace edgefleet::mcu {
namespace {

// The arenas: fixed at build time, as on a device. The program fails when the
// core asks for more, so a change that grows the core's memory shows here.
constexpr std::size_t kDetectorArenaBytes = 2048;
constexpr std::size_t kSummaryArenaBytes = 2688;
alignas(8) std::uint8_t g_detector_arena[kDetectorArenaBytes];
alignas(8) std::uint8_t g_summary_arena[kSummaryArenaBytes];

constexpr float kRelativeTolerance = 1e-4f;

// One line of output, built in fixed memory (no printf: newlib's stdio
// allocates its buffers with malloc).
class Line {
 public:
  Line& operator<<(const char* text) {
    while (*text != '\0') Put(*text++);
    return *this;
  }

  Line& operator<<(std::uint32_t v) {
    char digits[10];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) Put(digits[--n]);
    return *this;
  }

  Line& operator<<(std::int32_t v) {
    if (v < 0) Put('-');
    return *this << (v < 0 ? 0u - static_cast<std::uint32_t>(v) : static_cast<std::uint32_t>(v));
  }

  // Seven significant digits, d.dddddde+xx; enough to read, not exact (the
  // bits are printed where exactness matters).
  Line& operator<<(float v) {
    if (v != v) return *this << "nan";
    if (v < 0.0f) {
      Put('-');
      v = -v;
    }
    if (v > 3.4e38f) return *this << "inf";
    if (v == 0.0f) return *this << "0";
    std::int32_t exponent = 0;
    while (v >= 10.0f) {
      v /= 10.0f;
      ++exponent;
    }
    while (v < 1.0f) {
      v *= 10.0f;
      --exponent;
    }
    auto digits = static_cast<std::uint32_t>(v * 1e6f + 0.5f);
    if (digits >= 10'000'000u) {
      digits /= 10;
      ++exponent;
    }
    char text[8];
    for (int i = 6; i >= 0; --i) {
      text[i] = static_cast<char>('0' + digits % 10);
      digits /= 10;
    }
    Put(text[0]);
    Put('.');
    for (int i = 1; i < 7; ++i) Put(text[i]);
    Put('e');
    Put(exponent < 0 ? '-' : '+');
    const std::uint32_t magnitude = static_cast<std::uint32_t>(exponent < 0 ? -exponent : exponent);
    if (magnitude < 10) Put('0');
    return *this << magnitude;
  }

  Line& Hex(std::uint32_t v) {
    *this << "0x";
    for (int shift = 28; shift >= 0; shift -= 4) Put("0123456789abcdef"[(v >> shift) & 0xFu]);
    return *this;
  }

  // Ends the line and writes it.
  void Flush() {
    Put('\n');
    text_[length_] = '\0';
    Write(text_);
    length_ = 0;
  }

 private:
  void Put(char c) {
    if (length_ + 2 < sizeof(text_)) text_[length_++] = c;
  }

  char text_[160] = {};
  std::size_t length_ = 0;
};

std::uint32_t g_failures = 0;

// A line that starts with the verdict of a check; counts failures.
Line Verdict(bool ok) {
  if (!ok) ++g_failures;
  Line line;
  line << (ok ? "  ok   " : "  FAIL ");
  return line;
}

// Distance in units in the last place between two finite floats.
std::uint32_t UlpDistance(float a, float b) {
  auto ordered = [](float v) {
    const auto bits = std::bit_cast<std::int32_t>(v);
    return bits < 0 ? static_cast<std::int64_t>(INT32_MIN) - bits : static_cast<std::int64_t>(bits);
  };
  const std::int64_t d = ordered(a) - ordered(b);
  const std::int64_t magnitude = d < 0 ? -d : d;
  return magnitude > 0xFFFFFFFF ? 0xFFFFFFFFu : static_cast<std::uint32_t>(magnitude);
}

bool Close(float actual, float expected) {
  const float diff = actual > expected ? actual - expected : expected - actual;
  const float a = actual < 0.0f ? -actual : actual;
  const float e = expected < 0.0f ? -expected : expected;
  return diff <= kRelativeTolerance * (a > e ? a : e);
}

// "name: actual (host expected, N ulp)" and the verdict.
void CheckFloat(const char* name, float actual, float expected) {
  Line line = Verdict(Close(actual, expected));
  line << name << ": " << actual << " (host " << expected << ", "
       << UlpDistance(actual, expected) << " ulp)";
  line.Flush();
}

void CheckStatus(const char* what, core::Status status) {
  Line line = Verdict(status == core::Status::kOk);
  line << what << ": " << core::ToString(status);
  line.Flush();
}

void CheckEqual(const char* name, std::uint32_t actual, std::uint32_t expected) {
  Line line = Verdict(actual == expected);
  line << name << ": " << actual << " (host " << expected << ")";
  line.Flush();
}

// Returns false when the rest cannot run (no model or no detector).
bool CheckDetector() {
  auto model = core::ParseArtifact(fixture::kArtifact, sizeof(fixture::kArtifact));
  CheckStatus("ParseArtifact", model.status);
  if (!model.ok()) return false;
  {
    Line line;
    line << "       model " << model.value.model_id << ", " << static_cast<std::uint32_t>(model.value.size)
         << " bytes in flash at ";
    line.Hex(static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(fixture::kArtifact)));
    line.Flush();
  }

  const std::size_t required = core::RequiredArenaBytes(model.value);
  {
    Line line = Verdict(required <= kDetectorArenaBytes);
    line << "detector arena: RequiredArenaBytes "
         << static_cast<std::uint32_t>(required) << " <= " << static_cast<std::uint32_t>(kDetectorArenaBytes);
    line.Flush();
  }
  auto detector = core::Detector::Create(model.value, g_detector_arena, sizeof(g_detector_arena));
  CheckStatus("Detector::Create", detector.status);
  if (!detector.ok()) return false;

  auto inference = detector.value.Run(fixture::kWindow, sizeof(fixture::kWindow) / sizeof(float));
  CheckStatus("Detector::Run", inference.status);
  if (!inference.ok()) return false;
  const core::Inference& r = inference.value;
  CheckFloat("mse", r.mse, fixture::kExpectedMse);
  CheckFloat("score", r.score, fixture::kExpectedScore);
  {
    Line line;
    line << "       score bits ";
    line.Hex(std::bit_cast<std::uint32_t>(r.score)) << ", host ";
    line.Hex(std::bit_cast<std::uint32_t>(fixture::kExpectedScore));
    line.Flush();
  }
  CheckEqual("zone", static_cast<std::uint32_t>(r.decision.zone), fixture::kExpectedZone);
  CheckEqual("label", static_cast<std::uint32_t>(r.decision.label), fixture::kExpectedLabel);
  CheckEqual("mode", r.mode, fixture::kExpectedMode);
  CheckFloat("confidence", r.decision.confidence, fixture::kExpectedConfidence);
  {
    Line line;
    line << "       decision: " << core::ToString(r.decision.zone) << ", escalate "
         << (r.decision.escalate() ? "yes" : "no");
    line.Flush();
  }

  // The trust boundary holds on the device too.
  auto rejected = detector.value.Run(fixture::kWindow, 299);
  Line line = Verdict(rejected.status == core::Status::kBadInput);
  line << "Run with 299 values: " << core::ToString(rejected.status);
  line.Flush();
  return true;
}

void CheckSummary() {
  const core::SummaryConfig config{fixture::kSummaryWindowLen, fixture::kSummarySampleRateHz,
                                   fixture::kSummaryScoreMin, fixture::kSummaryScoreMax};
  const std::size_t required = core::FeatureSummary::RequiredBytes(config.window_len);
  {
    Line line = Verdict(required <= kSummaryArenaBytes);
    line << "summary arena: RequiredBytes "
         << static_cast<std::uint32_t>(required) << " <= " << static_cast<std::uint32_t>(kSummaryArenaBytes);
    line.Flush();
  }
  auto summary = core::FeatureSummary::Create(config, g_summary_arena, sizeof(g_summary_arena));
  CheckStatus("FeatureSummary::Create", summary.status);
  if (!summary.ok()) return;
  for (int i = 0; i < fixture::kSummaryWindows; ++i) {
    CheckStatus("FeatureSummary::Add",
                summary.value.Add(fixture::kWindow, sizeof(fixture::kWindow) / sizeof(float),
                                  fixture::kExpectedScore));
  }
  float values[core::kSummaryValues] = {};
  summary.value.Values(values);
  // One line for the 20 values; a line for each that differs too much.
  static constexpr const char* kNames[core::kSummaryValues] = {
      "mean x", "mean y", "mean z", "variance x", "variance y", "variance z", "histogram 0",
      "histogram 1", "histogram 2", "histogram 3", "histogram 4", "histogram 5", "histogram 6",
      "histogram 7", "histogram 8", "histogram 9", "peak Hz x", "peak Hz y", "peak Hz z", "windows"};
  bool all_close = true;
  std::uint32_t max_ulp = 0;
  for (std::size_t i = 0; i < core::kSummaryValues; ++i) {
    const std::uint32_t ulp = UlpDistance(values[i], fixture::kExpectedSummary[i]);
    max_ulp = ulp > max_ulp ? ulp : max_ulp;
    if (!Close(values[i], fixture::kExpectedSummary[i])) {
      all_close = false;
      CheckFloat(kNames[i], values[i], fixture::kExpectedSummary[i]);
    }
  }
  Line line = Verdict(all_close);
  line << "FeatureSummary: " << static_cast<std::uint32_t>(core::kSummaryValues) << " values (peak x "
       << values[16] << " Hz), max " << max_ulp << " ulp from host";
  line.Flush();
}

// SPEC section 3: 1, 2, 4, ... minutes, capped at 30; a success resets.
void CheckBackoff() {
  core::Backoff backoff;
  constexpr std::int64_t kMinute = 60'000;
  constexpr std::int64_t kExpectedDelays[] = {1 * kMinute,  2 * kMinute,  4 * kMinute, 8 * kMinute,
                                              16 * kMinute, 30 * kMinute, 30 * kMinute};
  bool ok = backoff.MayAttempt(0) && !backoff.backing_off();
  std::int64_t now = 0;
  for (std::int64_t expected : kExpectedDelays) {
    backoff.OnFailure(now);
    ok = ok && backoff.delay_ms() == expected && !backoff.MayAttempt(now + expected - 1) &&
         backoff.MayAttempt(now + expected);
    now += expected;
  }
  ok = ok && backoff.failures() == 7;
  backoff.OnSuccess();
  ok = ok && backoff.MayAttempt(now) && backoff.failures() == 0;
  Line line = Verdict(ok);
  line << "Backoff: 1, 2, 4, 8, 16, 30, 30 min, reset on success";
  line.Flush();
}

}  // namespace
}  // namespace edgefleet::mcu

int main() {
  using namespace edgefleet::mcu;
  Write("edgefleet-mcu: core on Cortex-M4F\n");
  if (CheckDetector()) {
    CheckSummary();
  }
  CheckBackoff();
  {
    Line line;
    line << "       stack used " << static_cast<std::uint32_t>(StackBytesUsed()) << " of "
         << static_cast<std::uint32_t>(StackBytesReserved()) << " bytes";
    line.Flush();
  }
  Line verdict;
  if (g_failures == 0) {
    verdict << "edgefleet-mcu: PASS";
  } else {
    verdict << "edgefleet-mcu: FAIL (" << g_failures << " checks)";
  }
  verdict.Flush();
  return g_failures == 0 ? 0 : 1;
}
