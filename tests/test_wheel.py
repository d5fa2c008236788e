"""A normal wheel works: built from the checkout, installed (not editable) and run from elsewhere,
with conf/ shipped inside it as nlprnn/conf."""

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_the_wheel_lists_every_package_and_config_folder():
    packages = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "nlprnn").rglob("*.py")}
    conf = {"nlprnn.conf"} | {f"nlprnn.conf.{p.name}" for p in (REPO / "conf").iterdir() if p.is_dir()}
    assert packages == code | conf
    # every config file ships: matched by package-data in its folder's package or a folder above it
    from fnmatch import fnmatch

    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in (REPO / "conf").rglob("*.yaml"):
        parts = path.relative_to(REPO / "conf").parts
        shipped = False
        for depth in range(len(parts)):
            package = ".".join(["nlprnn", "conf", *parts[:depth]])
            inside = "/".join(parts[depth:])
            patterns = (data.get("*", []) if package in packages else []) + data.get(package, [])
            shipped |= package in packages and any(
                fnmatch(inside, p) and p.count("/") == inside.count("/") for p in patterns
            )
        assert shipped, f"conf/{'/'.join(parts)} is not in the wheel: add its folder to package-data"


def test_installed_wheel_runs_a_recipe_from_another_directory(data_dir, tmp_path):
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist"],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("nlprnn-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    demo = {f"nlprnn/inference/demo/{p.name}" for p in (REPO / "nlprnn/inference/demo").iterdir()}
    assert demo and demo <= shipped  # the serve mode's page
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", tmp_path / "site", wheel], check=True, capture_output=True
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "site"),
        "NLPRNN_DATA": str(data_dir),
        "OMP_NUM_THREADS": "1",
    }
    where = subprocess.run(
        [sys.executable, "-c", "import nlprnn.__main__ as m; print(m.__file__, m.CONF)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    site = tmp_path / "site" / "nlprnn"
    assert where == [str(site / "__main__.py"), str(site / "conf")]  # the wheel's copy, its own conf
    run = [sys.executable, "-m", "nlprnn", "recipe=char_lm", "debug=tiny", f"hydra.run.dir={tmp_path}/run"]
    proc = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run/best.pt").is_file() and "best checkpoint (step 6)" in proc.stdout
