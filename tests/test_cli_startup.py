"""``booth`` starts light: the top-level help and version import no command
module and none of the heavy libraries; a command imports only its own module."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from daemon import cli

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "cv2", "PIL", "onnxruntime", "httpx", "pydantic", "yaml")
# What the console script runs, then the modules it left in sys.modules.
WRAPPER = """
import json, sys
from daemon.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def imported_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules ``booth ARGS`` imports, in a fresh interpreter, and the run."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), done


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_import_no_heavy_library_and_no_command(args):
    modules, done = imported_by(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "daemon.cli" in modules  # the report is real
    assert not top_level(modules) & set(HEAVY)
    assert not [m for m in modules if m.startswith("daemon.commands.")]


def test_a_commands_help_imports_only_its_own_module():
    modules, done = imported_by("status", "--help")
    assert done.returncode == 0 and "--json" in done.stdout
    assert [m for m in modules if m.startswith("daemon.commands.")] == ["daemon.commands.service"]
    assert not top_level(modules) & set(HEAVY)


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"booth {version('booth')}\n"


def test_the_help_is_whole_and_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert cli.DESCRIPTION in out and cli.DESCRIPTION.endswith(".")
    for name, (_module, help_text) in cli.COMMANDS.items():
        assert f"{name} {help_text}" in out


class Recorder:
    def __init__(self) -> None:
        self.names: list[str] = []

    def add_parser(self, name, **kwargs):
        import argparse

        self.names.append(name)
        return argparse.ArgumentParser(prog=name)


@pytest.mark.parametrize("module", sorted({m for m, _ in cli.COMMANDS.values()}))
def test_the_table_names_each_command_its_module_registers(module):
    import importlib

    recorder = Recorder()
    importlib.import_module(f"daemon.commands.{module}").register(recorder)
    assert set(recorder.names) == {name for name, (m, _) in cli.COMMANDS.items() if m == module}


def test_a_command_its_module_does_not_provide_is_reported_without_breaking_the_rest(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "ghost", ("service", "a command not written yet"))
    monkeypatch.setitem(cli.COMMANDS, "phantom", ("no_such_module", "a module not written yet"))
    assert cli.main(["ghost", "--all"]) == 2
    assert "booth ghost: not available in this build" in capsys.readouterr().err
    assert cli.main(["phantom"]) == 2
    assert "booth phantom: cannot load its code" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["jobs", "--help"])
    assert "--state" in capsys.readouterr().out


def test_an_unknown_command_gets_a_suggestion(capsys):
    assert cli.main(["stauts"]) == 2
    assert "no command 'stauts' (did you mean 'status'?)" in capsys.readouterr().err
