// The fixture of the buffer's unit tests: a fresh directory per test
// (removed after it) and OpenBuffer on buffer.db in it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "agent/buffer.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {

class BufferFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Buffer> OpenBuffer(BufferOptions options = {}) {
    auto b = Buffer::Open(dir_ / "buffer.db", options);
    EXPECT_TRUE(b.ok()) << b.error().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  TempDir tmp_;
  const std::filesystem::path dir_{tmp_.path()};
};

}  // namespace edgefleet::agent
