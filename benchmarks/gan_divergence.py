"""How far two dcgan64 trainings drift apart in 70 steps when one starts with float-rounding-sized noise.

GAN training is chaotic: a difference at the level of float32 rounding (a different cuDNN algorithm, a CUDA
graph replay, TF32) grows to a visible weight difference within tens of steps. This measures that growth on
the CPU, where two identical runs are bit-identical, so a graphed-vs-eager comparison on a GPU can be read
against it.

    python benchmarks/gan_divergence.py
"""
import sys, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from train_throughput import build, Z, LR_G, LR_D, BETAS
from emojigan.training.step import GANStep, make_optimizers
torch.set_num_threads(1)
def run(eps, steps=70):
    torch.manual_seed(0)
    G, D = build("dcgan", 64, 3, Z, 64, 64, 512)
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(1 + eps * torch.randn_like(p))
    og, od = make_optimizers(G, D, LR_G, LR_D, BETAS, torch.device("cpu"))
    gan = GANStep(G, D, og, od)
    g = torch.Generator().manual_seed(1)
    data = torch.rand(111, 3, 64, 64, generator=g) * 2 - 1
    for i in range(steps):
        idx = torch.randint(0, 111, (16,), generator=g)
        out = gan.step(data[idx], torch.randn(16, Z, generator=g))
    return {k: v.clone() for k, v in G.state_dict().items()}, out
a, oa = run(0.0)
b, ob = run(0.0)
print("same start, max |dG| after 70 steps:", max((a[k].float() - b[k].float()).abs().max().item() for k in a))
for eps in (1e-7, 1e-5):
    c, oc = run(eps)
    print(f"start perturbed by {eps:g} relative: max |dG| =", max((a[k].float() - c[k].float()).abs().max().item() for k in a),
          "losses", [round(x, 4) for x in oa[:2].tolist()], [round(x, 4) for x in oc[:2].tolist()])
