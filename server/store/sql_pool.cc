#include "server/store/sql_pool.h"

namespace edgefleet::store::sql {

Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

}  // namespace edgefleet::store::sql
