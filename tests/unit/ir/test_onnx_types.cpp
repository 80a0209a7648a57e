// The ONNX data type table: every kiln type round-trips through its ONNX number, the types
// kiln does not store have names but no kiln type, and typeAttribute (Cast's "to", BitCast's)
// refuses them as unsupported and a number that is no ONNX type as an invalid model.
#include <gtest/gtest.h>

#include "ir/onnx_types.h"
#include "ir/op_schema.h"
#include "support/op_test.h"

namespace kiln::ir {
namespace {

TEST(OnnxTypes, EveryKilnTypeRoundTrips) {
  for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT8,
                     DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32, DataType::kUINT32,
                     DataType::kINT64, DataType::kUINT64, DataType::kBOOL}) {
    const int64_t code = toOnnxType(t);
    EXPECT_GT(code, 0) << toString(t);
    EXPECT_EQ(fromOnnxType(code), t) << toString(t);
  }
  EXPECT_EQ(toOnnxType(DataType::kHALF), 10);
  EXPECT_EQ(toOnnxType(DataType::kBF16), 16);
}

TEST(OnnxTypes, TypesKilnDoesNotStoreHaveNamesOnly) {
  for (int64_t code : {8, 14, 15, 17, 21, 23, 26}) {
    EXPECT_FALSE(fromOnnxType(code).has_value()) << code;
    EXPECT_FALSE(onnxTypeName(code).empty()) << code;
  }
  EXPECT_EQ(onnxTypeName(17), "float8e4m3fn");
  EXPECT_EQ(onnxTypeName(8), "string");
  for (int64_t code : {0, -1, 27, 99}) {
    EXPECT_FALSE(fromOnnxType(code).has_value()) << code;
    EXPECT_TRUE(onnxTypeName(code).empty()) << code;
  }
}

//! The error code and message of Cast's shape rule for `to`, or kInternal and "" if it passed.
std::pair<ErrorCode, std::string> castError(int64_t to) {
  ir::Attributes a;
  a.set("to", to);
  try {
    testing::inferNode("Cast", {testing::info(DataType::kFLOAT, {2})}, a, 1, 21);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {ErrorCode::kInternal, ""};
}

TEST(OnnxTypes, TypeAttributeRefusesWhatKilnCannotStoreAndWhatIsNoType) {
  EXPECT_EQ(testing::inferNode(
                "Cast", {testing::info(DataType::kFLOAT, {2})},
                [] {
                  ir::Attributes a;
                  a.set("to", int64_t{16});
                  return a;
                }(),
                1, 21)
                .at(0)
                .type,
            DataType::kBF16);
  const auto [float8, float8_message] = castError(17);
  EXPECT_EQ(float8, ErrorCode::kUnsupported);
  EXPECT_NE(float8_message.find("cast to float8e4m3fn is not supported"), std::string::npos) << float8_message;
  const auto [bad, bad_message] = castError(99);
  EXPECT_EQ(bad, ErrorCode::kInvalidModel);
  EXPECT_NE(bad_message.find("99 is not a valid ONNX data type"), std::string::npos) << bad_message;
}

}  // namespace
}  // namespace kiln::ir
