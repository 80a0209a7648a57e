// kiln's fallback CUDA GEMM: MatMul (batched, broadcast batch dims, 1-D operands promoted as
// numpy does) and Gemm (transA, transB, alpha, beta, C broadcast to [M, N]) in
// fp32/fp16/bf16 with float accumulation, on the 64x64x16 shared-memory tiles of the GEMM core
// (4x4 register blocks per thread). Every operand is read through (row, column) strides, so
// transposes, promotions and broadcasts cost no copies. Constant operands (B, usually) are
// uploaded once in instantiate() and again by refit().
#include <algorithm>

#include "backends/cuda/kernels/compute_common.cuh"

namespace kiln::cuda {
namespace {

constexpr int kMaxBatchDims = 6;

struct GemmGeometry {
  int m = 0, n = 0, k = 0;
  int64_t a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0, c_rs = 0, c_cs = 0;  //!< element strides (row, column)
  float alpha = 1.0f, beta = 0.0f;
  int batches = 1;
  int batch_dims = 0;  //!< output batch dims, innermost last, with A's and B's strides (0: broadcast)
  int batch_size[kMaxBatchDims] = {};
  int64_t a_batch[kMaxBatchDims] = {}, b_batch[kMaxBatchDims] = {};
};

template <typename T>
__global__ void __launch_bounds__(kGemmThreads) tiledGemmKernel(const T* __restrict__ a, const T* __restrict__ b,
                                                                const T* __restrict__ c, T* __restrict__ y,
                                                                GemmGeometry g) {
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  for (int batch = blockIdx.z; batch < g.batches; batch += gridDim.z) {
    int64_t a_off = 0, b_off = 0;
    for (int d = g.batch_dims - 1, rest = batch; d >= 0; --d) {
      const int q = rest / g.batch_size[d], i = rest - q * g.batch_size[d];
      a_off += i * g.a_batch[d];
      b_off += i * g.b_batch[d];
      rest = q;
    }
    const T* ab = a + a_off;
    const T* bb = b + b_off;
    T* yb = y + static_cast<int64_t>(batch) * g.m * g.n;
    auto loadA = [&](int m, int k) { return toFloat(ab[m * g.a_rs + k * g.a_cs]); };
    auto loadB = [&](int k, int n) { return toFloat(bb[k * g.b_rs + n * g.b_cs]); };
    auto store = [&](int m, int n, float acc) {
      float v = g.alpha * acc;
      if (c) v = fmaf(g.beta, toFloat(c[m * g.c_rs + n * g.c_cs]), v);
      yb[static_cast<int64_t>(m) * g.n + n] = fromFloat<T>(v);
    };
    tiledGemm(g.m, g.n, g.k, m0, n0, loadA, loadB, store, g.a_cs == 1, g.b_cs == 1);
  }
}

//! MatMul: numpy semantics. False when there are more batch dims than the kernel takes.
bool matMulGeometry(const ir::Shape& as, const ir::Shape& bs, GemmGeometry& g) {
  g = {};
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  g.m = a_vec ? 1 : static_cast<int>(as[as.size() - 2]);
  g.k = static_cast<int>(as.back());
  g.n = b_vec ? 1 : static_cast<int>(bs.back());
  g.a_rs = g.k;
  g.a_cs = 1;
  g.b_rs = b_vec ? 1 : g.n;
  g.b_cs = b_vec ? 0 : 1;
  const size_t a_batch = a_vec ? 0 : as.size() - 2, b_batch = b_vec ? 0 : bs.size() - 2;
  const size_t dims = std::max(a_batch, b_batch);
  const int64_t a_matrix = static_cast<int64_t>(g.m) * g.k, b_matrix = static_cast<int64_t>(g.k) * g.n;
  // Batch strides of A and B, walking from the innermost batch dim out (right-aligned).
  int64_t a_stride = a_matrix, b_stride = b_matrix;
  std::vector<int> sizes;
  std::vector<int64_t> a_strides, b_strides;
  for (size_t i = 0; i < dims; ++i) {
    const int64_t ad = i < a_batch ? as[a_batch - 1 - i] : 1, bd = i < b_batch ? bs[b_batch - 1 - i] : 1;
    const int64_t size = ad == 1 ? bd : ad;  // 1 broadcasts (to 0 as well)
    if (size != 1) {
      sizes.push_back(static_cast<int>(size));
      a_strides.push_back(ad == 1 ? 0 : a_stride);
      b_strides.push_back(bd == 1 ? 0 : b_stride);
    }
    a_stride *= ad;
    b_stride *= bd;
  }
  if (sizes.size() > static_cast<size_t>(kMaxBatchDims)) return false;
  g.batch_dims = static_cast<int>(sizes.size());
  g.batches = 1;
  for (int d = 0; d < g.batch_dims; ++d) {  // stored outermost first
    const size_t src = sizes.size() - 1 - d;
    g.batch_size[d] = sizes[src];
    g.a_batch[d] = a_strides[src];
    g.b_batch[d] = b_strides[src];
    g.batches *= sizes[src];
  }
  return true;
}

void gemmGeometry(const backend::LayerView& layer, GemmGeometry& g) {
  g = {};
  const ir::Shape& as = layer.inputs[0].shape;
  const ir::Shape& bs = layer.inputs[1].shape;
  const bool ta = layer.attrs().i("transA", 0) != 0, tb = layer.attrs().i("transB", 0) != 0;
  g.m = static_cast<int>(ta ? as[1] : as[0]);
  g.k = static_cast<int>(ta ? as[0] : as[1]);
  g.n = static_cast<int>(tb ? bs[0] : bs[1]);
  // A(m, k) = A[m * a_rs + k * a_cs]; a transposed operand swaps its strides.
  g.a_rs = ta ? 1 : as[1];
  g.a_cs = ta ? as[1] : 1;
  g.b_rs = tb ? 1 : bs[1];
  g.b_cs = tb ? bs[1] : 1;
  g.alpha = layer.attrs().f("alpha", 1.0f);
  g.beta = layer.attrs().f("beta", 1.0f);
  if (hasInput(layer, 2)) {
    const ir::Shape& cs = layer.inputs[2].shape;
    const int64_t rows = cs.size() == 2 ? cs[0] : 1, cols = cs.empty() ? 1 : cs.back();
    g.c_rs = rows == 1 ? 0 : cols;
    g.c_cs = cols == 1 ? 0 : 1;
  }
}

class GemmKernel final : public ComputeKernel {
 public:
  std::unique_ptr<backend::Kernel> clone() const override { return std::make_unique<GemmKernel>(*this); }
  GemmKernel(const backend::LayerView& layer, backend::Device& device) : ComputeKernel(layer, device) {
    is_gemm_ = layer.node->op == "Gemm";
    has_c_ = is_gemm_ && hasInput(layer, 2);
    refit(layer);
    reshape(layer);
  }

  void reshape(const backend::LayerView& layer) override {
    type_ = layer.outputs[0].type;
    if (is_gemm_) gemmGeometry(layer, g_);
    else if (!matMulGeometry(layer.inputs[0].shape, layer.inputs[1].shape, g_))
      throw Error(ErrorCode::kUnsupported, name_ + ": cuda.gemm takes at most 6 broadcast batch dims");
  }

  bool refit(const backend::LayerView& layer) override {
    a_.prepare(device_, layer, 0);
    b_.prepare(device_, layer, 1);
    if (has_c_) c_.prepare(device_, layer, 2);
    return true;
  }

  void run(const backend::RunArgs& args) override {
    if (g_.m == 0 || g_.n == 0 || g_.batches == 0) return;
    cudaStream_t stream = streamOf(args);
    const dim3 grid(gridFor(g_.n, kTileN), gridFor(g_.m, kTileM), static_cast<unsigned>(std::min(g_.batches, 65535)));
    dispatchCompute(type_, [&]<typename T>() {
      const T* c = has_c_ && g_.beta != 0.0f ? static_cast<const T*>(c_.get(args)) : nullptr;
      tiledGemmKernel<T><<<grid, kGemmThreads, 0, stream>>>(static_cast<const T*>(a_.get(args)),
                                                            static_cast<const T*>(b_.get(args)), c,
                                                            static_cast<T*>(args.outputs[0]), g_);
    });
    checkLaunch();
  }

 private:
  bool is_gemm_ = false, has_c_ = false;
  DataType type_ = DataType::kFLOAT;
  GemmGeometry g_;
  ConstantOrInput a_, b_, c_;
};

class GemmProvider final : public backend::TacticProvider {
 public:
  std::string_view name() const override { return "cuda.gemm"; }
  TacticSource source() const override { return TacticSource::kKILN_CUDA; }
  DeviceKind device() const override { return DeviceKind::kGPU; }
  bool supportsOp(std::string_view op) const override { return op == "MatMul" || op == "Gemm"; }

  std::vector<backend::TacticConfig> candidates(const backend::LayerView& min, const backend::LayerView& opt,
                                                const backend::LayerView& max, const backend::BuildOptions&) const override {
    if (opt.inputs.size() < 2 || opt.outputs.empty()) return {};
    const DataType t = opt.outputs[0].type;
    if (!isComputeType(t)) return {};
    for (size_t i = 0; i < opt.inputs.size(); ++i)
      if (opt.inputs[i].present && opt.inputs[i].type != t) return {};
    const bool gemm = opt.node->op == "Gemm";
    for (const backend::LayerView* l : {&min, &opt, &max}) {
      if (!allFitInt32(*l)) return {};
      GemmGeometry g;
      if (gemm) {
        if (l->inputs[0].shape.size() != 2 || l->inputs[1].shape.size() != 2) return {};
        if (hasInput(*l, 2) && l->inputs[2].shape.size() > 2) return {};
      } else if (l->inputs[0].shape.empty() || l->inputs[1].shape.empty() ||
                 !matMulGeometry(l->inputs[0].shape, l->inputs[1].shape, g)) {
        return {};
      }
    }
    return {backend::TacticConfig{.name = "cuda.gemm.64x64x16"}};
  }

  std::unique_ptr<backend::Kernel> instantiate(const backend::LayerView& layer, const backend::TacticConfig&,
                                               backend::Device& device) const override {
    return std::make_unique<GemmKernel>(layer, device);
  }
};

KILN_TACTIC_PROVIDER(GemmProvider);

}  // namespace
}  // namespace kiln::cuda
