#include "common/tensor_codec.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Shapes of rank 0 to 4, one with a zero extent.
std::vector<std::vector<int64_t>> TestShapes() {
  return {{}, {5}, {2, 3}, {2, 0, 3}, {2, 3, 4}, {1, 2, 3, 2}};
}

template <typename T>
std::vector<T> Ramp(int64_t n) {
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>((i * 7) % 11 - 3);
  return v;
}

template <typename T>
void ExpectRoundTripForEveryRank() {
  for (const std::vector<int64_t>& shape : TestShapes()) {
    const int64_t n = *NumElements(shape, "");
    const std::vector<T> values = Ramp<T>(n);
    v1::Tensor tensor;
    ASSERT_TRUE(EncodeTensor<T>(values, shape, &tensor).ok());
    EXPECT_EQ(tensor.dtype(), DTypeOf<T>());
    EXPECT_THAT(tensor.shape(), ::testing::ElementsAreArray(shape));
    EXPECT_EQ(tensor.data().size(), n * sizeof(T));
    ASSERT_TRUE(ValidateTensor(tensor, "t").ok());
    absl::StatusOr<std::vector<T>> back = DecodeTensor<T>(tensor, "t");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, values) << "rank " << shape.size();
  }
}

TEST(TensorCodecTest, Float32RoundTripsAtEveryRank) {
  ExpectRoundTripForEveryRank<float>();
}
TEST(TensorCodecTest, Float64RoundTripsAtEveryRank) {
  ExpectRoundTripForEveryRank<double>();
}
TEST(TensorCodecTest, Int32RoundTripsAtEveryRank) {
  ExpectRoundTripForEveryRank<int32_t>();
}
TEST(TensorCodecTest, Int64RoundTripsAtEveryRank) {
  ExpectRoundTripForEveryRank<int64_t>();
}
TEST(TensorCodecTest, Uint8RoundTripsAtEveryRank) {
  ExpectRoundTripForEveryRank<uint8_t>();
}

TEST(TensorCodecTest, BoolRoundTripsAtEveryRank) {
  for (const std::vector<int64_t>& shape : TestShapes()) {
    const int64_t n = *NumElements(shape, "");
    std::unique_ptr<bool[]> values(new bool[n]);
    for (int64_t i = 0; i < n; ++i) values[i] = (i % 3) == 1;
    v1::Tensor tensor;
    ASSERT_TRUE(
        EncodeTensor<bool>(absl::MakeConstSpan(values.get(), n), shape, &tensor)
            .ok());
    EXPECT_EQ(tensor.dtype(), v1::DTYPE_BOOL);
    std::unique_ptr<bool[]> back(new bool[n]);
    ASSERT_TRUE(
        DecodeTensorInto<bool>(tensor, absl::MakeSpan(back.get(), n), "t")
            .ok());
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(back[i], values[i]);
  }
}

TEST(TensorCodecTest, ExtremeValuesSurviveBitForBit) {
  const std::vector<double> values = {std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::denorm_min(),
                                      -0.0, 1.0 / 3.0};
  v1::Tensor tensor;
  ASSERT_TRUE(EncodeTensor<double>(values, {4}, &tensor).ok());
  std::vector<double> back = *DecodeTensor<double>(tensor, "t");
  EXPECT_EQ(std::memcmp(back.data(), values.data(), sizeof(double) * 4), 0);
  const std::vector<int64_t> ints = {std::numeric_limits<int64_t>::min(), -1,
                                     std::numeric_limits<int64_t>::max()};
  ASSERT_TRUE(EncodeTensor<int64_t>(ints, {3}, &tensor).ok());
  EXPECT_EQ(*DecodeTensor<int64_t>(tensor, "t"), ints);
}

TEST(TensorCodecTest, WireBytesAreLittleEndian) {
  v1::Tensor tensor;
  const std::vector<int32_t> one = {0x01020304};
  ASSERT_TRUE(EncodeTensor<int32_t>(one, {1}, &tensor).ok());
  EXPECT_EQ(tensor.data(), std::string("\x04\x03\x02\x01", 4));
}

TEST(TensorCodecTest, EncodeRejectsAShapeThatDoesNotFitTheValues) {
  v1::Tensor tensor;
  const std::vector<float> values(5);
  absl::Status status = EncodeTensor<float>(values, {2, 3}, &tensor);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "shape [2, 3] needs 6 elements, got 5");
}

TEST(TensorCodecTest, ValidateNamesTheFieldWhenDataSizeIsWrong) {
  v1::Tensor tensor;
  ASSERT_TRUE(EncodeTensor<float>(std::vector<float>(6), {2, 3}, &tensor).ok());
  tensor.mutable_data()->resize(20);
  absl::Status status = ValidateTensor(tensor, "items[2].columns[1]");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "items[2].columns[1]: data has 20 bytes but float32 [2, 3] needs "
            "24");
}

TEST(TensorCodecTest, ValidateRejectsNegativeExtentsAndUnknownDtype) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  tensor.add_shape(2);
  tensor.add_shape(-1);
  EXPECT_EQ(ValidateTensor(tensor, "obs").message(),
            "obs: shape[1] is negative (-1)");
  v1::Tensor unknown;
  EXPECT_EQ(ValidateTensor(unknown, "obs").message(),
            "obs: dtype 0 is not a valid dtype");
}

TEST(TensorCodecTest, ValidateRejectsAnOverflowingShape) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_UINT8);
  for (int i = 0; i < 4; ++i) tensor.add_shape(int64_t{1} << 20);
  EXPECT_THAT(ValidateTensor(tensor, "x").message(),
              HasSubstr("has more than 2^62 elements"));
}

// Shapes whose element count fits but whose byte count does not: before the
// byte count was checked, float32 [2^31, 2^31] with no data passed as 0
// bytes (2^62 * 4 wraps to 0).
TEST(TensorCodecTest, ValidateRejectsShapesWhoseByteCountOverflows) {
  struct Case {
    v1::DType dtype;
    std::vector<int64_t> shape;
  };
  const int64_t two31 = int64_t{1} << 31;
  for (const Case& c : std::vector<Case>{
           {v1::DTYPE_FLOAT32, {two31, two31}},
           {v1::DTYPE_FLOAT32, {int64_t{1} << 62}},
           {v1::DTYPE_FLOAT64, {int64_t{1} << 61}},
           {v1::DTYPE_INT64, {int64_t{1} << 32, int64_t{1} << 30}},
           {v1::DTYPE_INT32, {0, int64_t{1} << 62, 4}},
           {v1::DTYPE_UINT8, {two31, two31, 4}},
           {v1::DTYPE_FLOAT32, {std::numeric_limits<int64_t>::max()}},
           {v1::DTYPE_FLOAT32, {3, std::numeric_limits<int64_t>::max() / 2}},
       }) {
    v1::Tensor tensor;
    tensor.set_dtype(c.dtype);
    tensor.mutable_shape()->Assign(c.shape.begin(), c.shape.end());
    const absl::Status status = ValidateTensor(tensor, "x");
    // A zero extent first makes the whole tensor empty: then 0 bytes is right.
    if (c.shape[0] == 0) {
      EXPECT_TRUE(status.ok()) << ShapeString(c.shape) << ": " << status;
      continue;
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << DTypeName(c.dtype) << " " << ShapeString(c.shape);
    EXPECT_THAT(status.message(), HasSubstr("2^62")) << status;
    EXPECT_FALSE(NumBytes(c.dtype, c.shape, "x").ok());
    EXPECT_FALSE(DecodeTensor<float>(tensor, "x").ok());
  }
  EXPECT_EQ(*NumBytes(v1::DTYPE_FLOAT64, {int64_t{1} << 59}, "x"),
            int64_t{1} << 62);
}

TEST(TensorCodecTest, ValidateRejectsARankOverTheLimit) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  for (int i = 0; i <= kMaxTensorRank; ++i) tensor.add_shape(1);
  tensor.set_data(std::string(4, '\0'));
  EXPECT_EQ(ValidateTensor(tensor, "x").message(),
            "x: shape has 65 dimensions, at most 64");
  tensor.mutable_shape()->RemoveLast();
  EXPECT_TRUE(ValidateTensor(tensor, "x").ok());
}

TEST(TensorCodecTest, AnUnknownDtypeIsNamedByItsNumber) {
  v1::Tensor tensor;
  tensor.set_dtype(static_cast<v1::DType>(999));
  EXPECT_EQ(CheckTensorMatchesSpec(tensor, v1::TensorSpec(), "c").message(),
            "c: dtype 999 != signature dtype unspecified");
  EXPECT_EQ(DecodeTensor<float>(tensor, "c").status().message(),
            "c: dtype 999 is not a valid dtype");
  std::vector<float> out(1);
  EXPECT_EQ(DecodeTensorInto<float>(tensor, absl::MakeSpan(out), "c").message(),
            "c: dtype 999 where float32 was expected");
  EXPECT_EQ(DTypeLabel(v1::DTYPE_INT64), "int64");
}

TEST(TensorCodecTest, ValidateRejectsBoolBytesOtherThanZeroOrOne) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_BOOL);
  tensor.add_shape(3);
  tensor.set_data(std::string("\x00\x01\x02", 3));
  EXPECT_EQ(ValidateTensor(tensor, "done").message(),
            "done: bool element 2 is 2, not 0 or 1");
}

TEST(TensorCodecTest, DecodeRejectsTheWrongDtypeAndSize) {
  v1::Tensor tensor;
  ASSERT_TRUE(EncodeTensor<float>(std::vector<float>(4), {4}, &tensor).ok());
  EXPECT_EQ(DecodeTensor<double>(tensor, "action").status().message(),
            "action: dtype float32 where float64 was expected");
  std::vector<float> out(3);
  EXPECT_EQ(
      DecodeTensorInto<float>(tensor, absl::MakeSpan(out), "action").message(),
      "action: shape [4] holds 4 elements but 3 were expected");
}

v1::TensorSpec MakeSpec(v1::DType dtype, std::vector<int64_t> shape,
                        bool allow_nonfinite = false) {
  v1::TensorSpec spec;
  spec.set_name("observation");
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  spec.set_allow_nonfinite(allow_nonfinite);
  return spec;
}

TEST(TensorCodecTest, SpecCheckAcceptsAMatchingTensorAndWildcardExtents) {
  v1::Tensor tensor;
  ASSERT_TRUE(EncodeTensor<float>(std::vector<float>(8), {2, 4}, &tensor).ok());
  EXPECT_TRUE(
      CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT32, {2, 4}), "c")
          .ok());
  EXPECT_TRUE(
      CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT32, {-1, 4}), "c")
          .ok());
}

TEST(TensorCodecTest, SpecCheckNamesDtypeAndShapeMismatches) {
  v1::Tensor tensor;
  ASSERT_TRUE(EncodeTensor<float>(std::vector<float>(3), {3}, &tensor).ok());
  EXPECT_EQ(CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT64, {3}),
                                   "items[0].columns[0]")
                .message(),
            "items[0].columns[0] (observation): dtype float32 != signature "
            "dtype float64");
  EXPECT_EQ(CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT32, {4}),
                                   "items[0].columns[0]")
                .message(),
            "items[0].columns[0] (observation): shape [3] != signature shape "
            "[4]");
  EXPECT_EQ(CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT32, {3, 1}),
                                   "items[0].columns[0]")
                .message(),
            "items[0].columns[0] (observation): shape [3] != signature shape "
            "[3, 1]");
}

TEST(TensorCodecTest, SpecCheckRejectsNonFiniteUnlessAllowed) {
  v1::Tensor tensor;
  const std::vector<double> values = {1.0, std::nan(""), 2.0};
  ASSERT_TRUE(EncodeTensor<double>(values, {3}, &tensor).ok());
  EXPECT_EQ(
      CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT64, {3}), "col")
          .message(),
      "col (observation): element 1 is not finite (NaN or Inf; the "
      "column does not allow it)");
  EXPECT_TRUE(CheckTensorMatchesSpec(
                  tensor, MakeSpec(v1::DTYPE_FLOAT64, {3}, true), "col")
                  .ok());
  const std::vector<float> inf = {std::numeric_limits<float>::infinity()};
  ASSERT_TRUE(EncodeTensor<float>(inf, {1}, &tensor).ok());
  EXPECT_FALSE(
      CheckTensorMatchesSpec(tensor, MakeSpec(v1::DTYPE_FLOAT32, {1}), "c")
          .ok());
}

TEST(TensorCodecTest, DTypeNamesRoundTrip) {
  for (v1::DType d : {v1::DTYPE_FLOAT32, v1::DTYPE_FLOAT64, v1::DTYPE_INT32,
                      v1::DTYPE_INT64, v1::DTYPE_UINT8, v1::DTYPE_BOOL}) {
    EXPECT_EQ(*DTypeFromName(DTypeName(d)), d);
  }
  EXPECT_EQ(DTypeFromName("float16").status().message(),
            "unknown dtype 'float16' (expected float32, float64, int32, "
            "int64, uint8 or bool)");
}

// Every dtype, and the dtypes whose elements an int64 output accepts.
constexpr v1::DType kAllDTypes[] = {v1::DTYPE_FLOAT32, v1::DTYPE_FLOAT64,
                                    v1::DTYPE_INT32,   v1::DTYPE_INT64,
                                    v1::DTYPE_UINT8,   v1::DTYPE_BOOL};
constexpr v1::DType kIntegerDTypes[] = {v1::DTYPE_INT32, v1::DTYPE_INT64,
                                        v1::DTYPE_UINT8, v1::DTYPE_BOOL};

// `values` ({0, 1, 0} here) as a [3] tensor of element type T.
template <typename T>
v1::Tensor ThreeOf(const std::vector<T>& values) {
  v1::Tensor tensor;
  EXPECT_TRUE(EncodeTensor<T>(values, {3}, &tensor).ok());
  return tensor;
}

std::vector<v1::Tensor> ZeroOneZeroInEveryDType() {
  const bool bools[] = {false, true, false};
  return {ThreeOf<float>({0, 1, 0}),
          ThreeOf<double>({0, 1, 0}),
          ThreeOf<int32_t>({0, 1, 0}),
          ThreeOf<int64_t>({0, 1, 0}),
          ThreeOf<uint8_t>({0, 1, 0}),
          [&] {
            v1::Tensor tensor;
            EXPECT_TRUE(EncodeTensor<bool>(bools, {3}, &tensor).ok());
            return tensor;
          }()};
}

TEST(TensorCodecTest, ConvertIntoFloatAcceptsEveryListedDtype) {
  const int64_t shape[] = {3};
  for (const v1::Tensor& tensor : ZeroOneZeroInEveryDType()) {
    std::vector<float> out(3, -1.0f);
    const absl::Status status = ConvertTensorInto(tensor, {kAllDTypes, shape},
                                                  absl::MakeSpan(out), "obs");
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(out, (std::vector<float>{0, 1, 0})) << tensor.dtype();
  }
}

TEST(TensorCodecTest, ConvertIntoInt64AcceptsIntegersAndRefusesFloats) {
  const int64_t shape[] = {3};
  for (const v1::Tensor& tensor : ZeroOneZeroInEveryDType()) {
    std::vector<int64_t> out(3, -1);
    const absl::Status status = ConvertTensorInto(tensor, {kAllDTypes, shape},
                                                  absl::MakeSpan(out), "a");
    if (tensor.dtype() == v1::DTYPE_FLOAT32 ||
        tensor.dtype() == v1::DTYPE_FLOAT64) {
      EXPECT_EQ(status.message(),
                absl::StrCat("a.dtype is ", DTypeProtoLabel(tensor.dtype()),
                             ", which does not convert to an integer"));
    } else {
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_EQ(out, (std::vector<int64_t>{0, 1, 0})) << tensor.dtype();
    }
  }
}

TEST(TensorCodecTest, ConvertNamesTheSubFieldOfEachMismatch) {
  const int64_t scalar[] = {1};  // one element; the tensors below are [3]
  const int64_t three[] = {3};
  std::vector<float> out(3);
  const v1::Tensor ints = ThreeOf<int32_t>({1, 2, 3});
  EXPECT_EQ(ConvertTensorInto(ints, {absl::MakeConstSpan(kAllDTypes, 1), three},
                              absl::MakeSpan(out), "StepRequest.action")
                .message(),
            "StepRequest.action.dtype is DTYPE_INT32, want DTYPE_FLOAT32");
  EXPECT_EQ(ConvertTensorInto(ints, {absl::MakeConstSpan(kAllDTypes, 2), three},
                              absl::MakeSpan(out), "o")
                .message(),
            "o.dtype is DTYPE_INT32, want DTYPE_FLOAT32 or DTYPE_FLOAT64");
  v1::Tensor unknown = ints;
  unknown.set_dtype(static_cast<v1::DType>(99));
  EXPECT_EQ(ConvertTensorInto(unknown, {kIntegerDTypes, three},
                              absl::MakeSpan(out), "o")
                .message(),
            "o.dtype is 99, want DTYPE_INT32, DTYPE_INT64, DTYPE_UINT8 or "
            "DTYPE_BOOL");
  EXPECT_EQ(ConvertTensorInto(ints, {kAllDTypes, scalar},
                              absl::MakeSpan(out).subspan(0, 1), "o")
                .message(),
            "o.shape is [3], want [1]");
  v1::Tensor short_data = ints;
  short_data.mutable_data()->resize(5);
  EXPECT_EQ(ConvertTensorInto(short_data, {kAllDTypes, three},
                              absl::MakeSpan(out), "o")
                .message(),
            "o.data has 5 bytes, want 12 (3 x DTYPE_INT32)");
  v1::Tensor bad_bool = ThreeOf<uint8_t>({0, 1, 7});
  bad_bool.set_dtype(v1::DTYPE_BOOL);
  EXPECT_EQ(
      ConvertTensorInto(bad_bool, {kAllDTypes, three}, absl::MakeSpan(out), "o")
          .message(),
      "o.data[2] is 7, not a bool (0 or 1)");
  // A dtype the caller lists but the codec cannot size is still refused.
  const v1::DType listed[] = {unknown.dtype()};
  EXPECT_EQ(
      ConvertTensorInto(unknown, {listed, three}, absl::MakeSpan(out), "o")
          .message(),
      "o.dtype is 99, which is not a valid dtype");
  EXPECT_EQ(DTypeProtoLabel(v1::DTYPE_BOOL), "DTYPE_BOOL");
}

TEST(TensorCodecTest, ConvertRefusesNonFiniteFloatsUnlessAllowed) {
  const int64_t three[] = {3};
  std::vector<float> out(3);
  const v1::Tensor nan = ThreeOf<float>({0, std::nanf(""), 0});
  EXPECT_EQ(ConvertTensorInto(nan, {kAllDTypes, three}, absl::MakeSpan(out),
                              "StepRequest.action")
                .message(),
            "StepRequest.action[1] is nan, want finite");
  // Finite as float64 but not as float32: checked after conversion.
  const v1::Tensor huge = ThreeOf<double>({0, 0, 1e300});
  EXPECT_EQ(
      ConvertTensorInto(huge, {kAllDTypes, three}, absl::MakeSpan(out), "o")
          .message(),
      "o[2] is inf, want finite");
  ExpectedTensor allow{kAllDTypes, three};
  allow.allow_nonfinite = true;
  EXPECT_TRUE(ConvertTensorInto(nan, allow, absl::MakeSpan(out), "o").ok());
  EXPECT_TRUE(std::isnan(out[1]));
}

TEST(TensorCodecTest, ConvertChecksTheExpectedShapeAgainstTheOutput) {
  const int64_t three[] = {3};
  std::vector<float> two(2);
  EXPECT_EQ(ConvertTensorInto(ThreeOf<float>({0, 0, 0}), {kAllDTypes, three},
                              absl::MakeSpan(two), "o")
                .message(),
            "o: shape [3] holds 3 elements but the output holds 2");
  // An expected shape past 2^62 elements is refused before any size is
  // computed from it.
  const int64_t huge[] = {int64_t{1} << 31, int64_t{1} << 31, 4};
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  tensor.mutable_shape()->Assign(std::begin(huge), std::end(huge));
  EXPECT_EQ(
      ConvertTensorInto(tensor, {kAllDTypes, huge}, absl::MakeSpan(two), "o")
          .message(),
      "o: shape [2147483648, 2147483648, 4] has more than 2^62 "
      "elements");
}

}  // namespace
}  // namespace shoal
