#include "common/error.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace edgefleet::common {
namespace {

Expected<int> Half(int x) {
  if (x % 2 != 0) return Error(ErrorCode::kInvalidArgument, std::to_string(x) + " is odd");
  return x / 2;
}

Expected<void> CheckPositive(int x) {
  if (x <= 0) return Error(ErrorCode::kInvalidArgument, "not positive");
  return Ok();
}

Expected<int> Quarter(int x) {
  EDGEFLEET_RETURN_IF_ERROR(CheckPositive(x));
  EDGEFLEET_ASSIGN_OR_RETURN(const int half, Half(x));
  EDGEFLEET_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Expected<void> AssignsToAnExistingVariable(int x, int* out) {
  int value = 0;
  EDGEFLEET_ASSIGN_OR_RETURN(value, Half(x));
  *out = value;
  return Ok();
}

TEST(Error, CodeMessageAndContext) {
  const Error e(ErrorCode::kNotFound, "no such device");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "no such device");
  const Error outer = e.WithContext("loading 'd1'").WithContext("GET /api/devices/d1");
  EXPECT_EQ(outer.message(), "GET /api/devices/d1: loading 'd1': no such device");
  EXPECT_EQ(outer.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "no such device");  // the const& overload copies
  EXPECT_EQ(outer.ToString(), "not_found: GET /api/devices/d1: loading 'd1': no such device");
}

TEST(Error, EveryCodeHasADistinctSnakeCaseName) {
  std::vector<std::string> names;
  for (int c = static_cast<int>(ErrorCode::kInvalidArgument); c <= static_cast<int>(ErrorCode::kInternal);
       ++c) {
    const std::string name = ToString(static_cast<ErrorCode>(c));
    EXPECT_NE(name, "unknown") << c;
    for (const char ch : name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_') << name;
    for (const auto& other : names) EXPECT_NE(name, other);
    names.push_back(name);
  }
  EXPECT_EQ(names.size(), 14u);
  EXPECT_STREQ(ToString(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_STREQ(ToString(static_cast<ErrorCode>(200)), "unknown");
}

TEST(Expected, HoldsAValueOrAnError) {
  const Expected<int> good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 4);
  EXPECT_EQ(*good, 4);
  const Expected<int> bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "3 is odd");
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_EQ(good.value_or(-1), 4);
}

TEST(Expected, MacrosPropagateTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_EQ(Quarter(-4).error().message(), "not positive");
  EXPECT_EQ(Quarter(6).error().message(), "3 is odd");  // the second Half fails
  EXPECT_EQ(Quarter(5).error().message(), "5 is odd");
  int out = 0;
  ASSERT_TRUE(AssignsToAnExistingVariable(10, &out).ok());
  EXPECT_EQ(out, 5);
  EXPECT_FALSE(AssignsToAnExistingVariable(1, &out).ok());
}

TEST(Expected, VoidIsOkByDefault) {
  const Expected<void> ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(Ok().ok());
  const Expected<void> bad = Error(ErrorCode::kIo, "disk");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kIo);
}

TEST(Expected, HoldsMoveOnlyValuesAndConvertsDerivedPointers) {
  struct Base {
    virtual ~Base() = default;
    virtual int Id() const { return 1; }
  };
  struct Derived : Base {
    int Id() const override { return 2; }
  };
  Expected<std::unique_ptr<Base>> p = std::make_unique<Derived>();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->Id(), 2);
  std::unique_ptr<Base> taken = std::move(p).value();
  EXPECT_EQ(taken->Id(), 2);
}

TEST(Expected, StringFromLiteralIsAValue) {
  const Expected<std::string> s = "text";
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "text");
  EXPECT_EQ(s->size(), 4u);
}

TEST(ExpectedDeathTest, ReadingTheValueOfAnErrorAborts) {
  const Expected<int> bad = Half(3);
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of an error.*3 is odd");
  const Expected<int> good = Half(2);
  EXPECT_DEATH((void)good.error(), "error\\(\\) of a value");
}

}  // namespace
}  // namespace edgefleet::common
