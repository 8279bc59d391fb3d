"""The wheel a user installs: one ``whyrec`` namespace, and a core that works without the extras.

Building and installing the real wheel is the only way to see what a user gets: an editable
install maps the source folders on the fly and can hide a missing package or a stray top-level
``tools`` or ``agent`` that the wheel would put into someone else's site-packages.

How "core only" is proven without the network: the wheel is installed with ``--no-deps`` into a
fresh venv (no ``--system-site-packages``, which would expose gradio and langchain from our
venv). Its site-packages then gets links to exactly the distributions the core needs: the
wheel's own ``Requires-Dist`` without extras, followed transitively through the metadata of
our venv, where ``.ci/install`` put them at the pinned versions. Nothing else is visible, so
an import of gradio, langchain, llama.cpp (or of anything the core forgot to declare) fails
there the way it would on a user's machine. A blocklist on top of our full venv would prove
less: it only hides the names it lists.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow  # builds a wheel and installs it: deselect with -m 'not slow'

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "whyrec", "store", "tools", "agent", "ui")
FOREIGN_TOP_LEVEL = {"store", "tools", "agent", "ui"}
EXTRAS_ONLY = {"gradio", "langchain", "langchain_core", "langchain_openai", "langgraph", "openai", "mcp", "xllamacpp", "datasets", "accelerate"}


def core_distributions(wheel_requires: list[str]) -> set[str]:
    """The installed distributions a core install pulls: ``Requires-Dist`` without extras, transitively."""
    environment = default_environment()
    wanted: dict[str, set[str]] = {}  # distribution -> the extras it is asked for with
    queue = [(Requirement(r), "") for r in wheel_requires]
    while queue:
        requirement, asked_extra = queue.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": asked_extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in wanted and extras <= wanted[name]:
            continue
        wanted.setdefault(name, set()).update(extras)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} (a core dependency) is not installed in this venv — run .ci/install")
        for sub in dist.requires or []:
            for extra in {"", *wanted[name]}:
                queue.append((Requirement(sub), extra))
    return set(wanted)


def link_distributions(names: set[str], site_packages: Path) -> None:
    """Make exactly ``names`` importable in ``site_packages``: link each one's top-level files and folders."""
    for name in names:
        dist = metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            source = Path(str(dist.locate_file(top)))
            target = site_packages / top
            if top in ("..", "__pycache__") or top.endswith(".pth") or target.exists() or not source.exists():
                continue  # scripts outside site-packages; a folder two distributions share is linked once
            target.symlink_to(source)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources, so no build/ folder of the checkout leaks in."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(work / "dist"), str(source)],
        check=True, capture_output=True, text=True,
    )
    (built,) = (work / "dist").glob("whyrec-*.whl")
    return built


def test_the_wheel_installs_only_the_whyrec_namespace(wheel) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names}

    assert not top_level & FOREIGN_TOP_LEVEL, f"the wheel would install top-level {sorted(top_level & FOREIGN_TOP_LEVEL)}"
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"whyrec"}
    for module in ("whyrec/store/records.py", "whyrec/tools/langchain_tools.py", "whyrec/agent/chat.py", "whyrec/ui/cli.py"):
        assert module in names


def test_the_core_install_pulls_no_extra(wheel) -> None:
    """A ``pip install whyrec`` must not bring LangChain, Gradio, llama.cpp or torch along (it embeds through ONNX Runtime)."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    core = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    core_names = {canonicalize_name(Requirement(r).name) for r in core}

    assert not core_names & {canonicalize_name(n) for n in EXTRAS_ONLY | {"langchain-openai", "langgraph-checkpoint-sqlite"}}
    assert not core_names & {"torch", "sentence-transformers", "transformers"}
    assert {"onnxruntime", "tokenizers", "chromadb", "numpy", "scipy", "pydantic-settings"} <= core_names


def test_core_only_imports_the_public_api_from_the_wheel(wheel, tmp_path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        check=True, capture_output=True, text=True).stdout.strip())
    installed = {p.name for p in site_packages.iterdir()}
    assert not installed & FOREIGN_TOP_LEVEL, f"installed top-level {sorted(installed & FOREIGN_TOP_LEVEL)}"

    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    core = core_distributions(requires)
    assert not core & {canonicalize_name(n) for n in EXTRAS_ONLY}, "an extra's package is a core dependency"
    link_distributions(core, site_packages)

    script = f"""
import importlib.util, json, sys
from whyrec import Recommender, Settings, Store
import whyrec

try:
    whyrec.get_tools
    hint = ""
except ImportError as err:
    hint = str(err)
visible = [name for name in {sorted(EXTRAS_ONLY)!r} if importlib.util.find_spec(name) is not None]
print(json.dumps({{"file": whyrec.__file__, "modules": sorted({{m.split(".")[0] for m in sys.modules}}), "hint": hint, "visible": visible}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["visible"] == [], "the extras must not even be importable there, or this test proves nothing"
    assert Path(seen["file"]).is_relative_to(site_packages), "the wheel's copy was imported, not the checkout"
    assert not set(seen["modules"]) & EXTRAS_ONLY
    assert "pip install 'whyrec[agent]'" in seen["hint"], "the agent's names say which extra they need"

    cli = subprocess.run([str(venv / "bin" / "whyrec"), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert cli.returncode == 0 and "recommend" in cli.stdout, "the console script starts on a core install"
