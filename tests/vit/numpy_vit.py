"""A small Vision Transformer in numpy: forward, hand-written backward, AdamW.

The training model and the numpy reference that the pure-Python engine
(``pe_engine.vit``) is tested against.  No deep-learning framework.

Architecture (timm ``VisionTransformer`` conventions, pre-norm):

    patches (B, N, K)           K = C*P*P, (C, P, P) order (= timm PatchEmbed)
    t   = patches @ patch_w + patch_b                         (B, N, D)
    z   = [cls; t] (+ pos)                                    (B, L, D), L = N + 1
    for each block:
        z = z + Attn(LN1(z))      multi-head, qkv bias, scale 1/sqrt(D/H)
        z = z + MLP(LN2(z))       fc1 -> GELU (tanh form) -> fc2
    logits = LN(z[:, 0]) @ head_w + head_b                    (B, classes)

LayerNorm eps 1e-6 (timm ViT).  GELU is the tanh approximation
0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch approximate="tanh"),
because numpy has tanh and no erf; the engine uses the same formula.

Weights are x @ W (in_features x out_features).  The positional table is
either the trainable ``pos`` parameter, a fixed array passed in, or None.
"""

import math

import numpy as np

LN_EPS = 1e-6
GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715

BLOCK_KEYS = ("ln1_g", "ln1_b", "qkv_w", "qkv_b", "proj_w", "proj_b",
              "ln2_g", "ln2_b", "fc1_w", "fc1_b", "fc2_w", "fc2_b")


# --- data helpers --------------------------------------------------------------

def patchify(images, patch):
    """(B, H, W) single-channel images -> (B, N, P*P) patches, grid row-major,
    pixels inside a patch row-major (timm's (C, P, P) order for C = 1)."""
    b, h, w = images.shape
    gh, gw = h // patch, w // patch
    x = images[:, :gh * patch, :gw * patch].reshape(b, gh, patch, gw, patch)
    return x.transpose(0, 1, 3, 2, 4).reshape(b, gh * gw, patch * patch)


# --- parameters ----------------------------------------------------------------

def _trunc_normal(rng, shape, std=0.02, bound=2.0):
    x = rng.normal(0.0, std, size=shape)
    bad = np.abs(x) > bound
    while bad.any():
        x[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(x) > bound
    return x


def _xavier(rng, fan_in, fan_out, shape):
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def init_params(cfg, seed, pos_table=None):
    """Parameters as a dict name -> float64 array, drawn from numpy's
    default_rng(seed).

    cfg["init"] = "jax" (default): timm ``init_weights_vit_jax``, the original
    ViT's: Linear weights Xavier-uniform (qkv with fan_out / 3, as timm),
    biases 0.  "timm": ``init_weights_vit_timm``: trunc normal std .02.
    Patch projection: PyTorch's Conv2d default U(-1/sqrt(K), 1/sqrt(K)) for
    weight and bias (timm PatchEmbed; the engine's ``init_projection``).
    LayerNorm 1/0, [CLS] trunc normal std .02 (DeiT / MAE; timm's 1e-6 relies
    on a PE row for [CLS] and makes the fixed sin-cos model, whose [CLS] row
    is 0, unstable).  ``pos_table`` ((N+1) x D, e.g. the engine's ``learned``)
    becomes the trainable ``pos`` when given.  Head: like the other Linears.
    """
    rng = np.random.default_rng(seed)
    d, k, m, c = cfg["dim"], cfg["patch"] ** 2 * cfg.get("channels", 1), cfg["mlp"], cfg["classes"]
    mode = cfg.get("init", "jax")
    if mode not in ("jax", "timm"):
        raise ValueError("init must be 'jax' or 'timm' (got %r)" % (mode,))

    def lin(fan_in, fan_out, shape=None):
        shape = shape or (fan_in, fan_out)
        return _xavier(rng, fan_in, fan_out, shape) if mode == "jax" else _trunc_normal(rng, shape)

    bound = 1.0 / math.sqrt(k)
    p = {
        "patch_w": rng.uniform(-bound, bound, size=(k, d)),
        "patch_b": rng.uniform(-bound, bound, size=d),
        "cls": _trunc_normal(rng, (d,)),
    }
    for i in range(cfg["depth"]):
        pre = "blocks.%d." % i
        p[pre + "ln1_g"], p[pre + "ln1_b"] = np.ones(d), np.zeros(d)
        p[pre + "qkv_w"], p[pre + "qkv_b"] = lin(d, d, (d, 3 * d)), np.zeros(3 * d)
        p[pre + "proj_w"], p[pre + "proj_b"] = lin(d, d), np.zeros(d)
        p[pre + "ln2_g"], p[pre + "ln2_b"] = np.ones(d), np.zeros(d)
        p[pre + "fc1_w"], p[pre + "fc1_b"] = lin(d, m), np.zeros(m)
        p[pre + "fc2_w"], p[pre + "fc2_b"] = lin(m, d), np.zeros(d)
    p["norm_g"], p["norm_b"] = np.ones(d), np.zeros(d)
    p["head_w"], p["head_b"] = lin(d, c), np.zeros(c)
    if pos_table is not None:
        p["pos"] = np.array(pos_table, dtype=np.float64)
    return p


def no_decay(name):
    """timm's rule: no weight decay on 1-D parameters, pos and cls."""
    return not name.endswith("_w") or name in ("pos", "cls")


# --- pieces ----------------------------------------------------------------------

def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + LN_EPS)
    xhat = xc * rstd
    return xhat * g + b, (xhat, rstd, g)


def layer_norm_back(dy, cache):
    xhat, rstd, g = cache
    axes = tuple(range(dy.ndim - 1))
    dg = (dy * xhat).sum(axes)
    db = dy.sum(axes)
    dxhat = dy * g
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return dx, dg, db


def gelu(x):
    t = np.tanh(GELU_C * (x + GELU_A * x ** 3))
    return 0.5 * x * (1.0 + t), t


def gelu_back(dy, x, t):
    dt = GELU_C * (1.0 + 3.0 * GELU_A * x * x)
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dt)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sum_batch(a):
    """Sum over every axis but the last two (or last one for vectors)."""
    return a.reshape(-1, *a.shape[-2:]).sum(0) if a.ndim > 2 else a


# --- forward / backward -----------------------------------------------------------------

def forward(params, patches, cfg, pos=None, keep=False):
    """patches (B, N, K) -> logits (B, classes).

    pos: (N+1, D) table added after the [CLS] concatenation, or None; when
    ``params`` has "pos" and pos is None, params["pos"] is used.  With
    keep=True also returns the cache for ``backward`` (which includes the
    attention weights ``cache["attn"][i]`` of shape (B, H, L, L), (B, H, 1, L)
    for the last block, which computes the [CLS] row only, and the
    final [CLS] vector ``cache["cls_out"]`` (B, D), after the final norm).
    """
    b, n, _ = patches.shape
    d, h = cfg["dim"], cfg["heads"]
    dh = d // h
    scale = 1.0 / math.sqrt(dh)
    if pos is None:
        pos = params.get("pos")
    cache = {"patches": patches, "blocks": [], "attn": []}
    t = patches @ params["patch_w"] + params["patch_b"]
    z = np.concatenate([np.broadcast_to(params["cls"], (b, 1, d)), t], axis=1)
    if pos is not None:
        z = z + pos
    L = n + 1
    depth = cfg["depth"]
    for i in range(depth):
        pre = "blocks.%d." % i
        last = i == depth - 1  # only the [CLS] row of the last block reaches the head
        nq = 1 if last else L
        a, ln1 = layer_norm(z, params[pre + "ln1_g"], params[pre + "ln1_b"])
        qkv = a @ params[pre + "qkv_w"] + params[pre + "qkv_b"]            # B L 3D
        qkv = qkv.reshape(b, L, 3, h, dh).transpose(2, 0, 3, 1, 4)          # 3 B H L dh
        q, k, v = qkv[0][:, :, :nq], qkv[1], qkv[2]
        att = softmax((q @ k.transpose(0, 1, 3, 2)) * scale)                # B H nq L
        o = (att @ v).transpose(0, 2, 1, 3).reshape(b, nq, d)               # B nq D
        z = z[:, :nq] + o @ params[pre + "proj_w"] + params[pre + "proj_b"]
        m, ln2 = layer_norm(z, params[pre + "ln2_g"], params[pre + "ln2_b"])
        hid = m @ params[pre + "fc1_w"] + params[pre + "fc1_b"]
        g, tg = gelu(hid)
        z = z + g @ params[pre + "fc2_w"] + params[pre + "fc2_b"]
        cache["blocks"].append((a, ln1, q, k, v, att, o, m, ln2, hid, g, tg))
        cache["attn"].append(att)
    c, lnf = layer_norm(z[:, 0], params["norm_g"], params["norm_b"])
    logits = c @ params["head_w"] + params["head_b"]
    cache.update(lnf=lnf, cls_out=c, L=L, pos_used=pos is not None)
    return (logits, cache) if keep else logits


def backward(params, cache, dlogits, cfg):
    """Gradients (dict like params) of sum(dlogits * logits)."""
    d, h = cfg["dim"], cfg["heads"]
    dh = d // h
    scale = 1.0 / math.sqrt(dh)
    patches, L = cache["patches"], cache["L"]
    b = patches.shape[0]
    grads = {}
    c = cache["cls_out"]
    grads["head_w"] = c.T @ dlogits
    grads["head_b"] = dlogits.sum(0)
    dc = dlogits @ params["head_w"].T
    dz0, grads["norm_g"], grads["norm_b"] = layer_norm_back(dc, cache["lnf"])
    dz = dz0[:, None, :]                                                    # B 1 D
    for i in reversed(range(cfg["depth"])):
        pre = "blocks.%d." % i
        a, ln1, q, k, v, att, o, m, ln2, hid, g, tg = cache["blocks"][i]
        nq = q.shape[2]
        # MLP branch: z += fc2(gelu(fc1(LN2(z))))
        grads[pre + "fc2_w"] = _sum_batch(g.transpose(0, 2, 1) @ dz)
        grads[pre + "fc2_b"] = dz.sum((0, 1))
        dg = dz @ params[pre + "fc2_w"].T
        dhid = gelu_back(dg, hid, tg)
        grads[pre + "fc1_w"] = _sum_batch(m.transpose(0, 2, 1) @ dhid)
        grads[pre + "fc1_b"] = dhid.sum((0, 1))
        dm = dhid @ params[pre + "fc1_w"].T
        dzm, grads[pre + "ln2_g"], grads[pre + "ln2_b"] = layer_norm_back(dm, ln2)
        dz = dz + dzm
        # attention branch: z += proj(attn(LN1(z)))
        grads[pre + "proj_w"] = _sum_batch(o.transpose(0, 2, 1) @ dz)
        grads[pre + "proj_b"] = dz.sum((0, 1))
        do = (dz @ params[pre + "proj_w"].T).reshape(b, nq, h, dh).transpose(0, 2, 1, 3)
        datt = do @ v.transpose(0, 1, 3, 2)                                  # B H nq L
        dv = att.transpose(0, 1, 3, 2) @ do
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) * scale
        dq = np.zeros_like(k)
        dq[:, :, :nq] = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(b, L, 3 * d)
        grads[pre + "qkv_w"] = _sum_batch(a.transpose(0, 2, 1) @ dqkv)
        grads[pre + "qkv_b"] = dqkv.sum((0, 1))
        da = dqkv @ params[pre + "qkv_w"].T
        dza, grads[pre + "ln1_g"], grads[pre + "ln1_b"] = layer_norm_back(da, ln1)
        if nq < L:  # the residual stream of the rows the last block skipped
            dz = np.concatenate([dz, np.zeros((b, L - nq, d))], axis=1)
        dz = dz + dza
    if "pos" in params and cache["pos_used"]:
        grads["pos"] = dz.sum(0)
    grads["cls"] = dz[:, 0].sum(0)
    dt = dz[:, 1:]
    grads["patch_w"] = _sum_batch(patches.transpose(0, 2, 1) @ dt)
    grads["patch_b"] = dt.sum((0, 1))
    return grads


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient with respect to logits."""
    p = softmax(logits)
    n = len(labels)
    loss = -np.log(p[np.arange(n), labels] + 1e-300).mean()
    dl = p.copy()
    dl[np.arange(n), labels] -= 1.0
    return loss, dl / n


def loss_and_grads(params, patches, labels, cfg, pos=None):
    logits, cache = forward(params, patches, cfg, pos, keep=True)
    loss, dl = cross_entropy(logits, labels)
    return loss, backward(params, cache, dl, cfg)


# --- optimiser ----------------------------------------------------------------------

class AdamW:
    """Decoupled weight decay (Loshchilov & Hutter; torch.optim.AdamW):
    p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p), no decay where
    ``no_decay(name)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05):
        self.lr, self.betas, self.eps, self.wd = lr, betas, eps, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        for k, g in grads.items():
            p = params[k]
            if not no_decay(k):
                p *= 1.0 - lr * self.wd
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * g
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * g * g
            p -= lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def lr_at(step, total, base, warmup):
    """Linear warm-up then cosine decay to 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    return 0.5 * base * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
