#include "tests/support/postgres_environment.h"

namespace edgefleet::testsupport {

namespace {
PostgresEnvironment* g_environment = nullptr;
}  // namespace

PostgresEnvironment* PostgresEnvironment::Register() {
  if (g_environment == nullptr) {
    g_environment = new PostgresEnvironment();
    ::testing::AddGlobalTestEnvironment(g_environment);  // GoogleTest owns it
  }
  return g_environment;
}

PostgresEnvironment* PostgresEnvironment::Get() { return g_environment; }

common::Expected<PostgresServer*> PostgresEnvironment::Server() {
  std::lock_guard lock(mu_);
  if (!tried_) {
    tried_ = true;
    auto server = PostgresServer::Start();
    if (server.ok()) {
      server_ = std::move(server).value();
    } else {
      error_ = std::move(server).error();
    }
  }
  if (error_) return *error_;
  return server_.get();
}

void PostgresEnvironment::TearDown() {
  std::lock_guard lock(mu_);
  if (server_) {
    auto stopped = server_->Stop();
    server_.reset();
    if (!stopped.ok()) ADD_FAILURE() << "stopping PostgreSQL: " << stopped.error().ToString();
  }
}

}  // namespace edgefleet::testsupport
