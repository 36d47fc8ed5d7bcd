"""Model.from_torch: a live module exported in memory gives the same
predictions and gradients as torch itself and as its ONNX file."""

import io

import numpy as np
import pytest

import sensie

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


@pytest.fixture(scope="module")
def net_and_inputs():
    net = SmallNet().eval()
    x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    return net, x


def test_predictions_match_torch_and_the_onnx_export(net_and_inputs):
    net, x = net_and_inputs
    model = sensie.Model.from_torch(net, torch.from_numpy(x[:1]))
    ours = model.predict(x)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    exported = io.BytesIO()
    torch.onnx.export(net, (torch.from_numpy(x[:1]),), exported, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}}, opset_version=17, dynamo=False)
    np.testing.assert_array_equal(sensie.Model(exported.getvalue()).predict(x), ours)
    assert model.info["output_kind"] == "logits"
    assert not net.training


def test_gradients_match_torch_autograd(net_and_inputs):
    net, x = net_and_inputs
    model = sensie.Model.from_torch(net, x[:1])
    ours = sensie.explain(model, x, method="gradient", target=3)
    inputs = torch.from_numpy(x).requires_grad_(True)
    net(inputs)[:, 3].sum().backward()
    np.testing.assert_allclose(ours, inputs.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_a_from_torch_model_pickles(net_and_inputs):
    import pickle

    net, x = net_and_inputs
    model = sensie.Model.from_torch(net, x[:1])
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_from_torch_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        sensie.Model.from_torch(lambda x: x, np.zeros((1, 1, 28, 28)))


def test_from_torch_refuses_a_module_with_several_outputs(net_and_inputs):
    # (features, logits): the first output was explained and probed as if
    # it were the class scores.
    net, x = net_and_inputs

    class Both(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, batch):
            logits = self.net(batch)
            return logits.relu(), logits

    with pytest.raises(TypeError, match="returns 2 outputs, not one tensor"):
        sensie.Model.from_torch(Both(), x[:1])


def test_from_torch_leaves_each_submodules_mode_as_it_was(net_and_inputs):
    """A module training with a frozen layer (net.train(); net.conv.eval()):
    exporting it puts back each submodule's own mode, not the module's."""
    net, x = net_and_inputs
    net.train()
    net.conv.eval()
    before = [m.training for m in net.modules()]
    sensie.Model.from_torch(net, x[:1])
    assert [m.training for m in net.modules()] == before == [True, False, True, True]
    net.eval()


def test_from_torch_takes_the_layout_of_a_channels_last_module():
    """A module that takes N x H x W x C batches of 4 x 4 x 4 images, whose
    layout the input's shape cannot tell: ``layout`` was taken by
    sensie.Model but refused by from_torch (a TypeError), so the user could
    not say it where sensie's detection might guess wrong."""
    import pickle

    torch.manual_seed(0)

    class ChannelsLast(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)
            self.fc = torch.nn.Linear(3 * 4 * 4, 5)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x.permute(0, 3, 1, 2))).flatten(1))

    net = ChannelsLast().eval()
    x = np.random.default_rng(1).random((6, 4, 4, 4), dtype=np.float32)
    model = sensie.Model.from_torch(net, x[:1], layout="nhwc")
    assert model.info["layout"] == "NHWC"
    assert pickle.loads(pickle.dumps(model)).info["layout"] == "NHWC"
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(x), net(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)
    inputs = torch.from_numpy(x).requires_grad_(True)
    net(inputs)[:, 2].sum().backward()
    ours = sensie.explain(model, x, method="gradient", target=2)
    np.testing.assert_allclose(ours, inputs.grad.numpy(), rtol=1e-4, atol=1e-6)
