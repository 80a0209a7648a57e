"""The Python API on the CPU backend: building, engines, contexts, callbacks, errors, refit."""
import inspect
import os
import pydoc
import threading

import numpy as np
import pytest

import _common
import kiln


def test_library_and_version():
    assert kiln.version() == kiln.__version__
    assert os.path.exists(kiln.library_path)
    assert isinstance(kiln.gpu_available(), bool)


def test_errors_are_typed_and_carry_kiln_message(tmp_path):
    with pytest.raises(kiln.IoError) as e:
        kiln.Network.from_file(tmp_path / "missing.onnx")
    assert e.value.code == kiln.ErrorCode.IO and "missing.onnx" in str(e.value)
    with pytest.raises(kiln.InvalidModelError, match="junk.onnx"):
        kiln.Network.from_bytes(b"garbage", name="junk.onnx")
    with pytest.raises(kiln.InvalidPlanError, match="bad magic"):
        kiln.Engine(b"not a plan")
    with pytest.raises(kiln.InvalidCacheError):
        kiln.TimingCache.from_bytes(b"junk")
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError too
        kiln.BuilderConfig().optimization_level = 42
    assert kiln.error_class(8) is kiln.CancelledError and issubclass(kiln.CancelledError, kiln.Error)


def test_network(mlp_bytes, tiny_cnn_path):
    net = kiln.Network.from_bytes(mlp_bytes)
    assert net.input_names == ["x"] and net.output_names == ["y"]
    assert net.get_tensor_shape("x") == (-1, 8) and net.get_tensor_dtype("x") == kiln.DataType.FLOAT
    assert net.weight_names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert net.num_layers == 5
    cnn = kiln.parse_onnx(tiny_cnn_path)
    with pytest.raises(kiln.InvalidArgumentError, match="nope"):
        cnn.mark_debug("nope")


def test_builder_config_round_trips():
    c = kiln.BuilderConfig()
    c.fp16 = True
    assert c.get_flag(kiln.BuilderFlag.FP16) and kiln.BuilderFlag.FP16 in c.flags
    c.flags = {kiln.BuilderFlag.REFIT, kiln.BuilderFlag.VERSION_COMPATIBLE}
    assert not c.fp16 and c.refittable and c.version_compatible
    c.tactic_sources = ["reference", kiln.TacticSource.CPU]
    assert c.tactic_sources == {kiln.TacticSource.REFERENCE, kiln.TacticSource.CPU}
    c.set_tactic_source("openblas", True)
    assert c.get_tactic_source(kiln.TacticSource.OPENBLAS)
    with pytest.raises(kiln.InvalidArgumentError, match="nosuch"):
        c.set_tactic_source("nosuch")
    c.workspace_limit = 1 << 20
    c.optimization_level = 0
    c.hardware_compatibility = kiln.HardwareCompatibility.AMPERE_PLUS
    c.device = "cpu"
    assert (c.workspace_limit, c.optimization_level, c.hardware_compatibility, c.device) == (
        1 << 20, 0, kiln.HardwareCompatibility.AMPERE_PLUS, kiln.DeviceKind.CPU)
    p = kiln.OptimizationProfile()
    p.set_shape("x", (1, 8), (2, 8), (4, 8))
    assert p.get_shape("x") == ((1, 8), (2, 8), (4, 8)) and "x: [1, 8]" in repr(p)
    with pytest.raises(kiln.InvalidArgumentError):
        p.get_shape("y")
    assert c.add_optimization_profile(p) == 0 and c.num_optimization_profiles == 1


def test_engine_info_and_profiles(mlp_engine, tmp_path):
    e = mlp_engine
    assert e.device == kiln.DeviceKind.CPU and e.input_names == ["x"] and e.output_names == ["y"]
    assert e.get_tensor_mode("x") == kiln.TensorIOMode.INPUT and e.get_tensor_shape("x") == (-1, 8)
    assert e.num_optimization_profiles == 2 and e.get_profile_shape("x", 1) == ((9, 8), (16, 8), (64, 8))
    assert e.refittable and not e.weights_stripped and e.weights_size > 0 and e.device_memory_size(1) > 0
    # fc1's MatMul, bias Add and Relu are one fused layer named after them.
    assert [l.name for l in e.layers()][0].startswith("fc1") and e.compatibility["device"] == "cpu"
    e.save(tmp_path / "mlp.plan")
    again = kiln.Engine.load(tmp_path / "mlp.plan")
    assert again.serialize() == e.serialize() == kiln.Engine.from_bytes(e.serialize()).serialize()


def test_execute_picks_profiles_and_matches_numpy(mlp_engine):
    ctx = mlp_engine.create_execution_context()
    w = _common.mlp_weights()
    for batch, profile in ((3, 0), (20, 1), (8, 0), (64, 1)):
        x = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
        y = ctx.execute({"x": x})["y"]
        assert ctx.optimization_profile == profile and y.shape == (batch, 4)
        np.testing.assert_allclose(y, _common.mlp_reference(x, w), rtol=1e-5, atol=1e-5)
    # lists and float64 are converted; outputs can be given
    out = np.empty((2, 4), np.float32)
    res = ctx.execute(x=[[0.5] * 8, [1.0] * 8], outputs={"y": out})
    assert res["y"] is out
    np.testing.assert_allclose(out, _common.mlp_reference(np.array([[0.5] * 8, [1.0] * 8], np.float32), w),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(kiln.InvalidArgumentError, match="fits no optimization profile"):
        ctx.execute(x=np.zeros((100, 8), np.float32))
    with pytest.raises(kiln.InvalidArgumentError, match="unknown input 'z'"):
        ctx.execute(z=np.zeros((1, 8), np.float32))
    with pytest.raises(kiln.InvalidArgumentError, match="no safe conversion"):
        ctx.execute(x=np.zeros((1, 8), np.complex64))
    with pytest.raises(kiln.InvalidArgumentError, match="outside optimization profile 1"):
        ctx.optimization_profile = 1  # the last shape, batch 2, is not in profile 1
    fresh = mlp_engine.create_execution_context()
    fresh.optimization_profile = 1
    with pytest.raises(kiln.InvalidArgumentError):
        fresh.set_input_shape("x", (2, 8))
    fresh.set_input_shape("x", (12, 8))
    assert fresh.optimization_profile == 1


def test_addresses_and_execute_async(mlp_engine):
    ctx = mlp_engine.create_execution_context()
    x = np.ones((4, 8), np.float32)
    y = np.zeros((4, 4), np.float32)
    ctx.set_input_shape("x", x.shape)
    assert ctx.all_input_shapes_specified and ctx.get_tensor_shape("y") == (4, 4)
    ctx.set_tensor_address("x", x.ctypes.data)
    ctx.set_tensor_address("y", y.ctypes.data)
    assert ctx.get_tensor_address("x") == x.ctypes.data
    stream = kiln.Stream("cpu")
    ctx.execute_async(stream)
    stream.synchronize()
    np.testing.assert_allclose(y, _common.mlp_reference(x, _common.mlp_weights()), rtol=1e-5, atol=1e-5)
    ctx.cuda_graph_mode = True  # accepted on the CPU, no graphs
    ctx.execute_async()
    assert ctx.cuda_graph_mode and ctx.cuda_graph_count == 0


def test_pinned_and_device_buffers_on_cpu():
    buf = kiln.PinnedBuffer(64, "cpu")
    a = buf.array((4, 4), np.float32)
    a[...] = 3
    dst = kiln.DeviceBuffer(64, "cpu")
    kiln.copy_to_device(kiln.DeviceKind.CPU, dst.ptr, buf.ptr, 64)
    back = kiln.PinnedBuffer(64, "cpu")
    kiln.copy_to_host(kiln.DeviceKind.CPU, back.ptr, dst.ptr, 64)
    assert (back.array((16,), np.float32) == 3).all()


def test_profiler_and_debug_tensors(tiny_cnn_path, cpu_config):
    net = kiln.Network.from_file(tiny_cnn_path)
    net.mark_debug("pool_out")
    engine = kiln.Builder().build_engine(net, cpu_config)
    assert engine.debug_tensors == ["pool_out"]
    ctx = engine.create_execution_context()

    class Times(kiln.Profiler):
        def __init__(self):
            self.layers = []

        def report_layer_time(self, layer, tactic, source, ms):
            self.layers.append((layer, source, ms))

    times = Times()
    ctx.profiler = times
    image = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    probs = ctx.execute(image=image)["probabilities"]
    ctx.report_profile()
    assert abs(float(probs.sum()) - 1) < 1e-4
    kernels = [l for l in engine.layers() if l.tactic != "view:alias"]  # views run nothing
    assert len(times.layers) == len(kernels) and all(ms >= 0 for _, _, ms in times.layers)
    pool = ctx.read_debug_tensor("pool_out")
    assert pool.shape == (1, 32, 16, 16) and pool.dtype == np.float32 and (pool >= 0).all()

    class Broken(kiln.Profiler):
        def report_layer_time(self, layer, tactic, source, ms):
            raise KeyError("from the profiler")

    ctx.profiler = Broken()
    with pytest.raises(KeyError, match="from the profiler"):
        ctx.execute(image=image)
        ctx.report_profile()
    ctx.profiler = None
    ctx.execute(image=image)


def test_algorithm_selector_and_progress_monitor(tiny_cnn_path, cpu_config):
    net = kiln.Network.from_file(tiny_cnn_path)

    class Selector(kiln.AlgorithmSelector):
        def __init__(self):
            self.seen, self.reported, self.denied = {}, {}, {}

        def select_algorithms(self, layer, op, profile, candidates):
            self.seen[layer] = candidates
            if len(candidates) > 1:
                self.denied[layer] = candidates[0].id
                return range(1, len(candidates))
            return [0]

        def report_algorithms(self, profile, layers, choices):
            self.reported.update(zip(layers, choices))

    class Monitor(kiln.ProgressMonitor):
        calls = []

        def layer_done(self, done, total, layer):
            self.calls.append((done, total, layer))
            return True

    sel, mon = Selector(), Monitor()
    cpu_config.optimization_level = 2
    cpu_config.algorithm_selector, cpu_config.progress_monitor = sel, mon
    engine = kiln.Builder().build_engine(net, cpu_config)
    # Views (the Flatten) alias their input: nothing to choose, so the selector never sees them.
    kernels = [l for l in engine.layers() if l.tactic != "view:alias"]
    assert sel.denied and set(sel.reported) == set(sel.seen) == {l.name for l in kernels}
    for layer in kernels:
        assert layer.tactic_id == sel.reported[layer.name].id != sel.denied.get(layer.name)
    assert mon.calls[-1][0] == mon.calls[-1][1] == len(mon.calls)

    class Cancel(kiln.ProgressMonitor):
        def layer_done(self, done, total, layer):
            return done < 2

    cpu_config.progress_monitor = Cancel()
    with pytest.raises(kiln.CancelledError, match="cancelled"):
        kiln.Builder().build_serialized_network(net, cpu_config)

    class Raises(kiln.ProgressMonitor):
        def layer_done(self, done, total, layer):
            raise ZeroDivisionError("monitor bug")

    cpu_config.progress_monitor = Raises()
    with pytest.raises(ZeroDivisionError, match="monitor bug") as e:
        kiln.Builder().build_serialized_network(net, cpu_config)
    assert isinstance(e.value.__cause__, kiln.CancelledError)
    cpu_config.progress_monitor = None

    class DenyAll(kiln.AlgorithmSelector):
        def select_algorithms(self, layer, op, profile, candidates):
            return []

    cpu_config.algorithm_selector = DenyAll()
    with pytest.raises(kiln.Error, match="conv1"):
        kiln.Builder().build_serialized_network(net, cpu_config)

    class BadIndex(kiln.AlgorithmSelector):
        def select_algorithms(self, layer, op, profile, candidates):
            return [len(candidates) + 5]

    cpu_config.algorithm_selector = BadIndex()
    with pytest.raises(kiln.InvalidArgumentError, match="index"):
        kiln.Builder().build_serialized_network(net, cpu_config)
    cpu_config.algorithm_selector = None
    kiln.Builder().build_serialized_network(net, cpu_config)


def test_timing_cache(tiny_cnn_path, cpu_config, tmp_path):
    net = kiln.Network.from_file(tiny_cnn_path)
    cache = kiln.TimingCache()
    cpu_config.optimization_level = 2
    cpu_config.timing_cache = cache
    builder = kiln.Builder()
    plan1 = builder.build_serialized_network(net, cpu_config)
    assert builder.last_report["timing_cache"]["misses"] > 0 and len(cache) > 0
    cache.save(tmp_path / "c.cache")
    loaded = kiln.TimingCache.load(tmp_path / "c.cache")
    assert loaded.serialize() == cache.serialize() and len(kiln.TimingCache.load(tmp_path / "none")) == 0
    merged = kiln.TimingCache.from_bytes(cache.serialize())
    merged.combine(loaded)
    assert len(merged) == len(cache) and merged.entries()[0]["timings"]
    cpu_config.timing_cache = loaded
    plan2 = builder.build_serialized_network(net, cpu_config)
    assert builder.last_report["timing_cache"]["misses"] == 0 and plan1 == plan2


def test_refitter(mlp_engine, tiny_cnn_path, cpu_config):
    ctx = mlp_engine.create_execution_context()
    x = np.ones((2, 8), np.float32)
    r = kiln.Refitter(mlp_engine)
    assert set(r.weight_names) == set(_common.mlp_weights())
    w2 = _common.mlp_weights(seed=7)
    with pytest.raises(kiln.InvalidArgumentError, match="fc1.weight"):
        r.set_named_weights("fc1.weight", np.zeros((3, 3), np.float32))
    for k, v in w2.items():
        r.set_named_weights(k, v)
    assert r.get_missing() == [] and sorted(r.refit()) == sorted(w2)
    np.testing.assert_allclose(ctx.execute(x=x)["y"], _common.mlp_reference(x, w2), rtol=1e-5, atol=1e-5)

    cpu_config = kiln.BuilderConfig()  # the fixture's was used for the MLP
    cpu_config.device, cpu_config.optimization_level = "cpu", 1
    cpu_config.refittable = True
    cnn = kiln.Builder().build_engine(kiln.Network.from_file(tiny_cnn_path), cpu_config)
    r = kiln.Refitter(cnn)
    r.set_named_weights("conv1.weight", np.zeros((16, 3, 3, 3), np.float32))
    assert "bn1.var" in r.get_missing()
    with pytest.raises(kiln.InvalidArgumentError, match="bn1.var"):
        r.refit()
    cpu_config.refittable = False
    with pytest.raises(kiln.InvalidArgumentError, match="not refittable"):
        kiln.Refitter(kiln.Builder().build_engine(kiln.Network.from_file(tiny_cnn_path), cpu_config))


def test_contexts_in_threads(mlp_engine):
    x = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    expected = mlp_engine.create_execution_context().execute(x=x)["y"]
    failures = []

    def run():
        ctx = mlp_engine.create_execution_context()
        for _ in range(50):
            if not np.array_equal(ctx.execute(x=x)["y"], expected):
                failures.append(1)

    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not failures


def test_logger(tiny_cnn_path, cpu_config):
    got = []
    kiln.set_logger(lambda severity, message: got.append((severity, message)))
    kiln.set_log_level(kiln.Severity.VERBOSE)
    try:
        kiln.Builder().build_serialized_network(kiln.Network.from_file(tiny_cnn_path), cpu_config)
    finally:
        kiln.set_log_level(kiln.Severity.WARNING)
        kiln.set_logger(None)
    assert all(isinstance(s, kiln.Severity) and isinstance(m, str) for s, m in got)


def test_every_public_name_is_documented():
    for name in kiln.__all__:
        obj = getattr(kiln, name)
        if isinstance(obj, str):
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr}"
    text = pydoc.render_doc(kiln.BuilderConfig, renderer=pydoc.plaintext)
    assert "optimization_level" in text and "algorithm_selector" in text and "Example" in text


def _reshape_input_model():
    """x [2, 3, 4] float32, shape int64 [2] (a shape input) -> Reshape -> y (shape left open)."""
    c = _common
    shape_type = c._bytes(1, c._int(1, 7) + c._bytes(2, c._bytes(1, c._int(1, 2))))  # int64 [2]
    shape_vi = c._bytes(1, "shape") + c._bytes(2, shape_type)
    y_vi = c._bytes(1, "y") + c._bytes(2, c._bytes(1, c._int(1, 1)))
    return c.model([c.node("Reshape", ["x", "shape"], ["y"], "reshape")], [], [c.value_info("x", [2, 3, 4]), shape_vi],
                   [y_vi])


def test_shape_inputs_take_their_values_from_the_profile(cpu_config):
    net = kiln.Network.from_bytes(_reshape_input_model())
    with pytest.raises(kiln.InvalidArgumentError, match="shape input 'shape'.*setShapeValues"):
        kiln.Builder().build_engine(net, cpu_config)
    profile = kiln.OptimizationProfile()
    profile.set_shape_values("shape", (6, 4), (6, 4), (6, 4))
    cpu_config.add_optimization_profile(profile)
    engine = kiln.Builder().build_engine(net, cpu_config)
    assert engine.is_shape_input("shape") and not engine.is_shape_input("x")
    ctx = engine.create_execution_context()
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(ctx.execute(x=x, shape=np.array([6, 4]))["y"], x.reshape(6, 4))
    assert ctx.execute(x=x)["y"].shape == (6, 4)  # the one profile's values, when none are given
    with pytest.raises(kiln.InvalidArgumentError, match=r"shape input 'shape' values \[4, 6\]"):
        ctx.execute(x=x, shape=[4, 6])
    with pytest.raises(kiln.InvalidArgumentError, match="not a shape input"):
        ctx.set_input_shape_values("x", [1])
