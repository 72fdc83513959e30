"""Timed calls of the digit-ViT benchmark, standard library only, so the same
code runs under CPython and inside Pyodide (tests/bench/vit_pyodide.mjs).

    run(weights_bytes, repeats) -> {"times": {name: median ms}, "correct": {...}}
"""

import time

from bench_engine import _median_ms  # the same timing (one warm-up, then the median) as the engine bench
from pe_engine import vit as E


def run(data, repeats=7):
    times, correct = {}, {}
    t0 = time.perf_counter()
    bundle = E.load(data)
    times["load weights file (first)"] = (time.perf_counter() - t0) * 1e3
    times["load weights file"] = _median_ms(lambda: E.load(data), repeats)
    models, imgs, labels = bundle["models"], bundle["test_images"], bundle["test_labels"]
    img = imgs[0]
    for name, m in models.items():
        times["forward 1 image, %s" % name] = _median_ms(lambda: E.forward(m, img), repeats)
    for name, m in models.items():
        times["predict 1 image, %s" % name] = _median_ms(lambda: E.predict(m, img), repeats)
    m = models["learned"]
    fresh = E.load(data)["models"]["learned"]
    t0 = time.perf_counter()
    E.forward(fresh, img)
    times["forward 1 image, learned, first call (builds tables)"] = (time.perf_counter() - t0) * 1e3
    for size in (12, 16):
        big = E.upsample(img, 8, size)
        times["forward 1 image %dx%d, learned, timm" % (size, size)] = _median_ms(
            lambda: E.forward(m, big, size, "timm"), repeats)
    for name, mm in models.items():
        res = {}
        times["accuracy, %d test images, %s" % (len(imgs), name)] = _median_ms(
            lambda: res.update(E.accuracy(mm, imgs, labels)), repeats)
        correct[name] = res["correct"]
    orders = E.shuffle_orders(len(imgs), 64, 0)
    times["accuracy shuffled, %d test images, learned" % len(imgs)] = _median_ms(
        lambda: E.accuracy(m, imgs, labels, orders=orders), repeats)
    big12 = [E.upsample(im, 8, 12) for im in imgs]
    times["accuracy 12x12, %d test images, learned, timm" % len(imgs)] = _median_ms(
        lambda: E.accuracy(m, big12, labels, size=12, method="timm"), repeats)
    return {"times": times, "correct": correct}
