# tests/reference/inception.py: the Inception-v3 of FID as pytorch-fid
# runs it, written here from its description on top of torchvision's
# Inception3 modules (whose convolutions, batch norms and tensor names are
# the checkpoint's): the same network, except that the average pools
# before Mixed_5*, Mixed_6b-e and Mixed_7b's branch_pool convolutions
# leave the padding out of the mean, and Mixed_7c pools with a 3x3
# maximum. Input: [N, 3, 299, 299] in [-1, 1]; output: [N, 2048].
import torch
import torch.nn.functional as F
import torchvision


def make(seed):
    """torchvision's Inception3 with 1008 classes (the FID checkpoint's),
    random weights and batch-norm statistics, in float64, eval mode."""
    torch.manual_seed(seed)
    net = torchvision.models.inception.Inception3(num_classes=1008, aux_logits=False, transform_input=False,
                                                  init_weights=False)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("conv.weight"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("bn.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return net.double().eval()


def _pool_avg(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def _block_a(m, x):
    b1 = m.branch1x1(x)
    b5 = m.branch5x5_2(m.branch5x5_1(x))
    b3 = m.branch3x3dbl_3(m.branch3x3dbl_2(m.branch3x3dbl_1(x)))
    bp = m.branch_pool(_pool_avg(x))
    return torch.cat([b1, b5, b3, bp], 1)


def _block_c(m, x):
    b1 = m.branch1x1(x)
    b7 = m.branch7x7_3(m.branch7x7_2(m.branch7x7_1(x)))
    bd = x
    for layer in (m.branch7x7dbl_1, m.branch7x7dbl_2, m.branch7x7dbl_3, m.branch7x7dbl_4, m.branch7x7dbl_5):
        bd = layer(bd)
    bp = m.branch_pool(_pool_avg(x))
    return torch.cat([b1, b7, bd, bp], 1)


def _block_e(m, x, maximum):
    b1 = m.branch1x1(x)
    t = m.branch3x3_1(x)
    b3 = torch.cat([m.branch3x3_2a(t), m.branch3x3_2b(t)], 1)
    d = m.branch3x3dbl_2(m.branch3x3dbl_1(x))
    bd = torch.cat([m.branch3x3dbl_3a(d), m.branch3x3dbl_3b(d)], 1)
    pooled = F.max_pool2d(x, 3, 1, 1) if maximum else _pool_avg(x)
    bp = m.branch_pool(pooled)
    return torch.cat([b1, b3, bd, bp], 1)


def fid_features(net, x):
    """pytorch-fid's pool3 features of x in [-1, 1] at 299x299."""
    x = net.Conv2d_2b_3x3(net.Conv2d_2a_3x3(net.Conv2d_1a_3x3(x)))
    x = F.max_pool2d(x, 3, 2)
    x = net.Conv2d_4a_3x3(net.Conv2d_3b_1x1(x))
    x = F.max_pool2d(x, 3, 2)
    for m in (net.Mixed_5b, net.Mixed_5c, net.Mixed_5d):
        x = _block_a(m, x)
    x = net.Mixed_6a(x)  # no average pool in InceptionB
    for m in (net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e):
        x = _block_c(m, x)
    x = net.Mixed_7a(x)  # nor in InceptionD
    x = _block_e(net.Mixed_7b, x, maximum=False)
    x = _block_e(net.Mixed_7c, x, maximum=True)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def torchvision_features(net, x):
    """torchvision's own forward, to its pooled features."""
    out = {}
    handle = net.avgpool.register_forward_hook(lambda m, i, o: out.setdefault("pool", o.flatten(1)))
    net(x)
    handle.remove()
    return out["pool"]


def prepare(images):
    """pytorch-fid's input path: [N, C, H, W] in [0, 1] (gray replicated)
    -> bilinear to 299 (align_corners=False) -> [-1, 1]."""
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
    return 2 * x - 1
