"""Build a small real study and take the screenshots of its report that docs/dashboard.md shows.

    .venv/bin/python docs/gen_screenshots.py [WORKDIR]

A quickstart-like study on text the Python interpreter ships (its own source, the language
reference, IDLE's release notes): two fidelities, replicates, one round of proposals, then a
validation and a fit of every run; tiny proxies, so it trains in minutes on a laptop's CPU. Needs Debian's chromium
(`make install` installs it). Writes docs/report-top.png and docs/report-rest.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import yaml

DOCS = Path(__file__).parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def texts(root: Path) -> dict[str, Path]:
    """Three domains of real text from the standard library, and a held-out evaluation set."""
    from pydoc_data.topics import topics

    dirs = {n: root / n for n in ("code", "reference", "news", "heldout")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for src in sorted((STDLIB / "json").glob("*.py")) + sorted((STDLIB / "email").glob("*.py")):
        shutil.copy(src, dirs["code"] / f"{src.parent.name}_{src.name}.txt")
    for i, (name, text) in enumerate(sorted(topics.items())):
        (dirs["heldout" if i % 4 == 0 else "reference"] / f"{name}.txt").write_text(text)
    for rel in ("idlelib/NEWS.txt", "idlelib/README.txt", "LICENSE.txt"):
        shutil.copy(STDLIB / rel, dirs["news"] / Path(rel).name)
    return dirs


def recipe(dirs: dict[str, Path], cache: Path) -> dict:
    return {
        "study": "screenshots", "seed": 0,
        "domains": [{"name": n, "source": {"files": [str(dirs[n] / "*")]}} for n in ("code", "reference", "news")],
        "eval_sets": [{"name": "heldout", "source": {"files": [str(dirs["heldout"] / "*")]}}],
        "data": {"cache_dir": str(cache), "max_tokens_per_domain": 200000},
        "proxy": {"model": {"layers": 1, "width": 32, "heads": 2, "context": 64},
                  "train": {"tokens": 262144, "batch_size": 16, "lr": 0.01, "warmup_steps": 8, "eval_tokens": 8192},
                  "resources": {"num_cpus": 1, "retries": 1},
                  "fidelities": [{"name": "small", "tokens": 65536}, {"name": "target", "tokens": 262144}]},
        "objective": {"kind": "eval", "target": "heldout"},
        "search": {"initial_runs": 10, "initial_fidelities": ["small", "target"], "batch_size": 4, "rounds": 1,
                   "surrogate": "linear", "candidates": 5000, "top_k": 16, "cv_folds": 4,
                   "replicates": {"mixtures": 2, "seeds": 3}},
    }


def mixsearch(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "mixsearch", *args], cwd=cwd, check=True)


def screenshot(page: Path, out: Path, height: int, scroll: int = 0) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size=1280,{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(page.as_uri())
        driver.execute_script(f"window.scrollTo(0, {scroll})")
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main() -> None:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mixsearch-shots-"))
    path = work / "screenshots.yaml"
    path.write_text(yaml.safe_dump(recipe(texts(work / "text"), work / "cache"), sort_keys=False))
    mixsearch("run", str(path), cwd=work)
    mixsearch("validate", str(path), "--seeds", "3", cwd=work)
    mixsearch("fit", str(path), cwd=work)  # a fit of every run: the surrogate's lines on the page
    mixsearch("report", str(path), "--out", str(work / "report.html"), cwd=work)
    screenshot(work / "report.html", DOCS / "report-top.png", 1500)
    screenshot(work / "report.html", DOCS / "report-rest.png", 1500, scroll=1500)
    print(f"study in {work}; wrote {DOCS / 'report-top.png'} and {DOCS / 'report-rest.png'}")


if __name__ == "__main__":
    main()
