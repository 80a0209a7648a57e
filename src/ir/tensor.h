// A host tensor: element type, shape and owned bytes. Used for initializers, constant
// folding, the CPU reference backend and test data.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ir/half.h"
#include "kiln/errors.h"
#include "kiln/types.h"

namespace kiln::ir {

using Shape = std::vector<int64_t>;

class Tensor {
 public:
  Tensor() = default;
  //! Zero-filled tensor that owns its bytes. Every dimension must be known (>= 0).
  Tensor(DataType type, Shape shape);
  //! A view of memory owned elsewhere (a runtime buffer); `data` must outlive the view.
  //! Copying any Tensor, a view included, makes an owning deep copy.
  static Tensor view(DataType type, Shape shape, void* data);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor() = default;

  DataType type() const { return type_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t byteSize() const { return size_; }

  std::byte* raw() { return data_; }
  const std::byte* raw() const { return data_; }
  std::span<std::byte> bytes() { return {data_, size_}; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

  //! Typed view; T must match type() in size (checked).
  template <typename T>
  std::span<T> values() {
    checkElement(sizeof(T));
    return {reinterpret_cast<T*>(data_), static_cast<size_t>(numel_)};
  }
  template <typename T>
  std::span<const T> values() const {
    checkElement(sizeof(T));
    return {reinterpret_cast<const T*>(data_), static_cast<size_t>(numel_)};
  }

  //! Same bytes, new shape of equal volume.
  void reshape(Shape shape);

  //! Element i converted to double / int64 (any type). For small tensors and tests.
  double at(int64_t i) const;
  int64_t intAt(int64_t i) const;
  //! All elements as int64 (shape tensors, axes, indices).
  std::vector<int64_t> toInt64() const;
  //! All elements converted to float / double.
  std::vector<float> toFloat() const;
  std::vector<double> toDouble() const;
  //! Tensor of `type` and `shape` from doubles (rounded/cast as the type requires).
  static Tensor fromDouble(DataType type, Shape shape, std::span<const double> values);
  static Tensor fromInt64(Shape shape, std::span<const int64_t> values);
  static Tensor scalarInt64(int64_t v) { return fromInt64({}, std::span<const int64_t>(&v, 1)); }
  //! Copy converted to another element type (ONNX Cast semantics for the numeric types).
  Tensor cast(DataType to) const;

 private:
  void checkElement(size_t size) const;

  DataType type_ = DataType::kFLOAT;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<std::byte> owned_;  // empty for a view
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

//! Strides in elements of a contiguous row-major shape.
std::vector<int64_t> contiguousStrides(const Shape& shape);

}  // namespace kiln::ir
