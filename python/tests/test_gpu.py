"""GPU tests (marker `gpu`): PyTorch CUDA tensors in and out without a copy, a torch stream,
CUDA graphs, NumPy staged through device memory. Skipped without a GPU, CUDA kiln or PyTorch."""
import numpy as np
import pytest

import _common
import kiln

torch = pytest.importorskip("torch", reason="PyTorch is needed for the GPU tests")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not (kiln.gpu_available() and torch.cuda.is_available()),
                       reason="needs a CUDA GPU and kiln built with CUDA"),
]


@pytest.fixture(scope="module")
def gpu_mlp():
    config = kiln.BuilderConfig()
    config.device = kiln.DeviceKind.GPU
    config.optimization_level = 1
    config.add_optimization_profile(_common.batch_profile(1, 8, 64))
    return kiln.Engine(kiln.Builder().build_serialized_network(kiln.Network.from_bytes(_common.mlp_model()), config))


def reference(x):
    return _common.mlp_reference(x.cpu().numpy(), _common.mlp_weights())


def test_torch_in_torch_out_zero_copy(gpu_mlp):
    ctx = gpu_mlp.create_execution_context()
    x = torch.randn(16, 8, device="cuda")
    y = ctx.execute(x=x)["y"]
    assert isinstance(y, torch.Tensor) and y.is_cuda and y.shape == (16, 4)
    assert ctx.get_tensor_address("x") == x.data_ptr() and ctx.get_tensor_address("y") == y.data_ptr()
    torch.cuda.current_stream().synchronize()
    np.testing.assert_allclose(y.cpu().numpy(), reference(x), rtol=1e-3, atol=1e-3)


def test_given_torch_output_and_torch_stream(gpu_mlp):
    ctx = gpu_mlp.create_execution_context()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        x = torch.randn(32, 8, device="cuda")
        out = torch.empty(32, 4, device="cuda")
        res = ctx.execute(x=x, outputs={"y": out}, stream=stream)
        assert res["y"] is out and ctx.get_tensor_address("y") == out.data_ptr()
    stream.synchronize()
    np.testing.assert_allclose(out.cpu().numpy(), reference(x), rtol=1e-3, atol=1e-3)
    # the TensorRT way: addresses and execute_async on a torch stream
    ctx.set_input_shape("x", (32, 8))
    ctx.set_tensor_address("x", x.data_ptr())
    out2 = torch.zeros_like(out)
    ctx.set_tensor_address("y", out2.data_ptr())
    ctx.execute_async(stream)
    stream.synchronize()
    assert torch.equal(out, out2)


def test_dlpack_and_cai_views(gpu_mlp):
    ctx = gpu_mlp.create_execution_context()
    x = torch.randn(4, 8, device="cuda")

    class CaiOnly:
        def __init__(self, t):
            self.t = t
            self.__cuda_array_interface__ = t.__cuda_array_interface__

    class DlpackOnly:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, stream=None):
            return self.t.__dlpack__()

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    outs = []
    for wrapped in (CaiOnly(x), DlpackOnly(x)):
        out = torch.empty(4, 4, device="cuda")
        ctx.execute(x=wrapped, outputs={"y": out})
        torch.cuda.synchronize()
        outs.append(out)
    assert torch.equal(outs[0], outs[1])
    with pytest.raises(kiln.InvalidArgumentError, match="float64"):
        ctx.execute(x=x.double())
    with pytest.raises(kiln.InvalidArgumentError, match="contiguous"):
        ctx.execute(x=torch.randn(8, 4, device="cuda").t())


def test_numpy_on_gpu_engine(gpu_mlp):
    ctx = gpu_mlp.create_execution_context()
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    y = ctx.execute(x=x)["y"]
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, _common.mlp_reference(x, _common.mlp_weights()), rtol=1e-3, atol=1e-3)


def test_cuda_graph_recapture(gpu_mlp):
    ctx = gpu_mlp.create_execution_context()
    ctx.cuda_graph_mode = True
    plain = gpu_mlp.create_execution_context()
    for batch in (8, 8, 16):
        x = torch.randn(batch, 8, device="cuda")
        out = torch.empty(batch, 4, device="cuda")
        ctx.execute(x=x, outputs={"y": out})
        torch.cuda.synchronize()
        assert torch.allclose(out, plain.execute(x=x)["y"])
    assert ctx.cuda_graph_count >= 2


def test_cpu_engine_refuses_gpu_tensor():
    config = kiln.BuilderConfig()
    config.device = "cpu"
    config.add_optimization_profile(_common.batch_profile(1, 2, 4))
    engine = kiln.Builder().build_engine(kiln.Network.from_bytes(_common.mlp_model()), config)
    with pytest.raises(kiln.InvalidArgumentError, match="on a GPU"):
        engine.create_execution_context().execute(x=torch.randn(2, 8, device="cuda"))
