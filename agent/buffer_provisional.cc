// Provisional rows in the buffer (agent/buffer.h, "Provisional rows"): the
// final decision of an escalation in flight, and the release at open of those
// a previous process left.
#include <algorithm>

#include "agent/buffer_impl.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Ok;

Expected<void> Buffer::CompleteProvisional(std::int64_t inference_seq, const FinalDecision& final_decision) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  if (final_decision.decision.empty() || final_decision.decision.size() > sync_codec::kMaxDecisionBytes ||
      !(final_decision.confidence >= 0 && final_decision.confidence <= 1)) {
    return Error(ErrorCode::kInvalidArgument, "a final decision of 1 to 32 bytes and a confidence in [0, 1] are needed");
  }
  auto& db = *impl_->db;
  EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(db));
  std::int64_t hard_seq = -1;
  {
    EDGEFLEET_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT hard_sample_seq FROM inferences "
                                                  "WHERE seq = ? AND provisional = 1"));
    q.Bind(1, inference_seq);
    EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) {
      return Error(ErrorCode::kNotFound,
                   "no provisional inference row " + std::to_string(inference_seq) + " (released or never one)");
    }
    hard_seq = q.Int(0);
    EDGEFLEET_RETURN_IF_ERROR(q.Run());
  }
  const auto& critical = impl_->options.critical_decisions;
  const bool is_critical =
      std::find(critical.begin(), critical.end(), final_decision.decision) != critical.end();
  const std::int64_t fallback = final_decision.fallback ? 1 : 0;
  {
    EDGEFLEET_ASSIGN_OR_RETURN(auto upd, db.Prepare("UPDATE inferences SET decision = ?, confidence = ?, fallback = ?, "
                                                    "critical = ?, provisional = 0 WHERE seq = ?"));
    upd.Bind(1, final_decision.decision).Bind(2, final_decision.confidence).Bind(3, fallback);
    upd.Bind(4, std::int64_t{is_critical ? 1 : 0}).Bind(5, inference_seq);
    EDGEFLEET_RETURN_IF_ERROR(upd.Run());
  }
  if (hard_seq >= 0) {
    // The final confidence decides: below 0.7 it stays a hard sample (with the
    // final decision); otherwise it never was one.
    if (final_decision.confidence < kHardSampleConfidence) {
      EDGEFLEET_ASSIGN_OR_RETURN(auto upd, db.Prepare("UPDATE hard_samples SET decision = ?, confidence = ?, "
                                                      "fallback = ?, provisional = 0 WHERE seq = ?"));
      upd.Bind(1, final_decision.decision).Bind(2, final_decision.confidence).Bind(3, fallback).Bind(4, hard_seq);
      EDGEFLEET_RETURN_IF_ERROR(upd.Run());
    } else {
      EDGEFLEET_ASSIGN_OR_RETURN(auto del, db.Prepare("DELETE FROM hard_samples WHERE seq = ?"));
      del.Bind(1, hard_seq);
      EDGEFLEET_RETURN_IF_ERROR(del.Run());
      EDGEFLEET_ASSIGN_OR_RETURN(auto unlink, db.Prepare("UPDATE inferences SET hard_sample_seq = -1 WHERE seq = ?"));
      unlink.Bind(1, inference_seq);
      EDGEFLEET_RETURN_IF_ERROR(unlink.Run());
    }
  }
  return tx.Commit();
}

Expected<std::int64_t> Buffer::Impl::ReleaseProvisionalLocked() {
  EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db));
  // Decided by the fallback decision they were stored with; their hard
  // samples stay (the window was ambiguous and no cloud answer is known).
  EDGEFLEET_RETURN_IF_ERROR(db->Exec("UPDATE inferences SET provisional = 0, fallback = 1 WHERE provisional = 1"));
  const std::int64_t released = db->Changes();
  EDGEFLEET_RETURN_IF_ERROR(db->Exec("UPDATE hard_samples SET provisional = 0, fallback = 1 WHERE provisional = 1"));
  if (released > 0) EDGEFLEET_RETURN_IF_ERROR(AddCounter("released_provisional", released));
  EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
  return released;
}

Expected<std::int64_t> Buffer::ReleaseProvisional() {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  return impl_->ReleaseProvisionalLocked();
}

std::int64_t Buffer::released_at_open() const { return impl_->released_at_open; }

}  // namespace edgefleet::agent
