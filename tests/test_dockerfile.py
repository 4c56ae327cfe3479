"""The image recipe cannot rot silently: its build steps run here in a clean environment.

No Docker engine runs on these machines, so the build stage's own COPY and RUN lines are
replayed in a temporary directory: the same locked install and catalog compilation.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TIMEOUT = 600
pytestmark = pytest.mark.slow


def instructions() -> list[tuple[str, str]]:
    """Every instruction of the Dockerfile, as (instruction, arguments)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            found.append((instruction, arguments.strip()))
    return found


def build_stage() -> list[tuple[str, str]]:
    """The instructions of the first stage."""
    every = instructions()
    second = next(i for i, (name, _args) in enumerate(every) if name == "FROM" and i > 0)
    return every[:second]


def test_the_build_stage_installs_and_compiles_in_a_clean_environment(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    ran = []
    for instruction, arguments in build_stage():
        if instruction == "COPY":
            *sources, _target = shlex.split(arguments)
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        tmp_path / source,
                        ignore=shutil.ignore_patterns("*.mo", "__pycache__"),
                    )
                else:
                    shutil.copy(origin, tmp_path / source)
        elif instruction == "RUN" and not arguments.startswith("pip install"):
            subprocess.run(
                arguments, shell=True, cwd=tmp_path, env=environment, check=True,
                timeout=BUILD_TIMEOUT, capture_output=True,
            )  # fmt: skip
            ran.append(arguments)
    assert any("uv sync --locked --no-dev" in command for command in ran)
    assert sorted(
        path.parent.parent.name
        for path in (tmp_path / "locales").glob("*/LC_MESSAGES/messages.mo")
    )
    help_text = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "sicheck"), "--help"],
        cwd=tmp_path, env=environment, check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "console" in help_text
    # Only runtime packages: the tests' tools are not in the image.
    assert not list((tmp_path / ".venv").glob("lib/python*/site-packages/pytest"))


def test_the_healthcheck_is_valid_python_that_asks_for_healthz() -> None:
    [command] = [args for instruction, args in instructions() if instruction == "HEALTHCHECK"]
    exec_form = json.loads(command.split("CMD", 1)[1])
    assert exec_form[:2] == ["python", "-c"]
    compile(exec_form[2], "HEALTHCHECK", "exec")
    assert "/healthz" in exec_form[2]
