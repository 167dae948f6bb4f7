"""A trainer whose best mixture depends on the scale: `scaled.py --config CONFIG --out OUT`.

Below params.switch training tokens the best mixture is params.small, from it on params.large:
loss_<domain> = 2 + squared distance of the mixture to that optimum + a small term of the seed
(params.noise x a number in [-1, 1] drawn from the mixture and seed)."""

import argparse
import json
import random
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
config = json.loads(Path(args.config).read_text())
params, mixture = config["params"], config["mixture"]
optimum = params["small"] if config["tokens"] < params["switch"] else params["large"]
names = sorted(mixture)
noise = params["noise"] * random.Random(repr([round(mixture[n], 6) for n in names] + [config["seed"]])).uniform(-1, 1)
loss = 2 + sum((mixture[n] - optimum[n]) ** 2 for n in names) + noise
(Path(args.out) / "metrics.json").write_text(json.dumps({f"loss_{n}": loss for n in names}))
