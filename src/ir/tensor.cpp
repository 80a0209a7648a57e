#include "ir/tensor.h"

#include <cmath>
#include <cstring>
#include <cstddef>
#include <limits>

#include "ir/dispatch.h"

namespace kiln::ir {

namespace {
// Empty tensors point here rather than at null, so that memcpy/memset of zero bytes on them
// are well defined. Nothing is ever written to it (its size is zero).
std::byte* emptyStorage() {
  static std::byte storage[alignof(std::max_align_t)];
  return storage;
}

int64_t checkedVolume(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::kInternal, "tensor with unknown dimension " + toString(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error(ErrorCode::kInvalidModel, "tensor shape " + toString(shape) + " is too large");
    n *= d;
  }
  return n;
}

// Element conversion with ONNX Cast semantics: float -> int truncates toward zero, any -> bool
// is "!= 0", NaN/inf to integer are undefined in ONNX and give 0 here.
template <typename To, typename From>
To convertElement(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return static_cast<float>(v) != 0.0f || static_cast<double>(v) != 0.0;
  } else if constexpr (std::is_integral_v<To> && !std::is_integral_v<From>) {
    double d = static_cast<double>(v);
    if (!std::isfinite(d)) return To{0};
    return static_cast<To>(static_cast<int64_t>(d));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return static_cast<To>(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}
}  // namespace

Tensor::Tensor(DataType type, Shape shape) : type_(type), shape_(std::move(shape)) {
  numel_ = checkedVolume(shape_);
  size_ = static_cast<size_t>(numel_) * elementSize(type_);
  owned_.assign(size_, std::byte{0});
  data_ = size_ ? owned_.data() : emptyStorage();
}

Tensor Tensor::view(DataType type, Shape shape, void* data) {
  Tensor t;
  t.type_ = type;
  t.shape_ = std::move(shape);
  t.numel_ = checkedVolume(t.shape_);
  t.size_ = static_cast<size_t>(t.numel_) * elementSize(type);
  t.data_ = data || t.size_ ? static_cast<std::byte*>(data) : emptyStorage();
  return t;
}

Tensor::Tensor(const Tensor& other)
    : type_(other.type_), shape_(other.shape_), numel_(other.numel_), owned_(other.data_, other.data_ + other.size_),
      data_(other.size_ ? owned_.data() : emptyStorage()), size_(other.size_) {}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) *this = Tensor(other);
  return *this;
}

Tensor::Tensor(Tensor&& other) noexcept
    : type_(other.type_), shape_(std::move(other.shape_)), numel_(other.numel_), size_(other.size_) {
  bool owning = other.data_ == other.owned_.data();
  owned_ = std::move(other.owned_);  // a moved vector keeps its buffer
  data_ = owning ? owned_.data() : other.data_;
  other.data_ = emptyStorage();
  other.size_ = 0;
  other.numel_ = 0;
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this == &other) return *this;
  type_ = other.type_;
  shape_ = std::move(other.shape_);
  numel_ = other.numel_;
  size_ = other.size_;
  bool owning = other.data_ == other.owned_.data();
  owned_ = std::move(other.owned_);
  data_ = owning ? owned_.data() : other.data_;
  other.data_ = emptyStorage();
  other.size_ = 0;
  other.numel_ = 0;
  return *this;
}

void Tensor::checkElement(size_t size) const {
  if (size != elementSize(type_))
    throw Error(ErrorCode::kInternal, "tensor of " + std::string(toString(type_)) + " viewed with element size " +
                                          std::to_string(size));
}

void Tensor::reshape(Shape shape) {
  if (checkedVolume(shape) != numel_)
    throw Error(ErrorCode::kInternal, "reshape " + toString(shape_) + " to " + toString(shape));
  shape_ = std::move(shape);
}

double Tensor::at(int64_t i) const {
  return dispatchType(type_, [&]<typename T>() { return convertElement<double>(values<T>()[i]); });
}

int64_t Tensor::intAt(int64_t i) const {
  return dispatchType(type_, [&]<typename T>() { return convertElement<int64_t>(values<T>()[i]); });
}

std::vector<int64_t> Tensor::toInt64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  dispatchType(type_, [&]<typename T>() {
    auto v = values<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = convertElement<int64_t>(v[i]);
  });
  return out;
}

std::vector<float> Tensor::toFloat() const {
  std::vector<float> out(static_cast<size_t>(numel_));
  dispatchType(type_, [&]<typename T>() {
    auto v = values<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = convertElement<float>(v[i]);
  });
  return out;
}

std::vector<double> Tensor::toDouble() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  dispatchType(type_, [&]<typename T>() {
    auto v = values<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = convertElement<double>(v[i]);
  });
  return out;
}

Tensor Tensor::fromDouble(DataType type, Shape shape, std::span<const double> values) {
  Tensor t(type, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(ErrorCode::kInternal, "fromDouble: value count does not match shape");
  dispatchType(type, [&]<typename T>() {
    auto out = t.values<T>();
    for (size_t i = 0; i < values.size(); ++i) out[i] = convertElement<T>(values[i]);
  });
  return t;
}

Tensor Tensor::fromInt64(Shape shape, std::span<const int64_t> values) {
  Tensor t(DataType::kINT64, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(ErrorCode::kInternal, "fromInt64: value count does not match shape");
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

Tensor Tensor::cast(DataType to) const {
  Tensor out(to, shape_);
  dispatchType(type_, [&]<typename From>() {
    auto in = values<From>();
    dispatchType(to, [&]<typename To>() {
      auto o = out.values<To>();
      for (int64_t i = 0; i < numel_; ++i) o[i] = convertElement<To>(in[i]);
    });
  });
  return out;
}

std::vector<int64_t> contiguousStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

}  // namespace kiln::ir
