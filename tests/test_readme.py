"""The README's two commands are what a new user runs; CI must run the README's test command exactly."""

import re

from tests.conftest import REPO


def _command_after(heading: str) -> str:
    readme = (REPO / "README.md").read_text()
    block = re.search(re.escape(heading) + r".*?```bash\n(.*?)\n```", readme, re.S)
    assert block, f"no bash block after {heading!r} in README.md"
    return block.group(1).strip()


def test_ci_runs_the_readme_test_command_as_written():
    command = _command_after("Run the tests")
    assert command.startswith("NLPRNN_DATA=../shared/data python -m pytest")
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_the_readme_install_command_installs_the_cpu_torch_first():
    command = _command_after("Install and train")
    assert "pip install torch==2.13.0 && pip install -e" in command and "python -m nlprnn recipe=" in command
