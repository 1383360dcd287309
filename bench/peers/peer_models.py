"""The networks of the peer benchmark (design doc §4, shared/reference/zennit/README.md):
random weights, torch.manual_seed(0) right before construction, eval mode."""
import torch
from torch import nn

INPUT_SHAPES = {
    'mlp': (784,),
    'mnist_cnn': (1, 28, 28),
    'vgg16': (3, 224, 224),
    'resnet50': (3, 224, 224),
}
MODELS = tuple(INPUT_SHAPES)


def randomize_batchnorm(model):
    """Shared recipe: every BN in named_modules() order, one generator seeded 1234, per BN
    weight ~ U(0.5,1.5), bias ~ N(0,0.1^2), running_mean ~ N(0,0.1^2), running_var ~ U(0.5,2)."""
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for _, module in model.named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.normal_(0.0, 0.1, generator=gen)
                module.running_mean.normal_(0.0, 0.1, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)


def build(name):
    torch.manual_seed(0)
    if name == 'mlp':
        model = nn.Sequential(
            nn.Linear(784, 1296), nn.ReLU(), nn.Linear(1296, 1296), nn.ReLU(),
            nn.Linear(1296, 1296), nn.ReLU(), nn.Linear(1296, 10))
    elif name == 'mnist_cnn':
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
    elif name in ('vgg16', 'resnet50'):
        import torchvision
        model = getattr(torchvision.models, name)(weights=None)
        randomize_batchnorm(model)  # no-op for vgg16 (no BN)
    else:
        raise ValueError(f'unknown model {name!r}; known: {", ".join(MODELS)}')
    return model.eval()


def bench_input(name, batch):
    """Benchmark input: standard normal from torch.Generator().manual_seed(0)."""
    return torch.randn((batch,) + INPUT_SHAPES[name], generator=torch.Generator().manual_seed(0))
