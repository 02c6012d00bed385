"""Crashes that printed tracebacks: every one now ends in one clear line, and `--json` still gets a record."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hostile_kit import CALC, CALC_ISSUE, fixbot, one_line_error

from agent.cli import main
from agent.exceptions import WorkflowError
from agent.repair.report import RunnerOutputError
from agent.repair.validate import install_runner, run_mode
from agent.testrun import install_probe, run_tests
from sandbox import Sandbox, SandboxConfig

# A conftest that rewrites fixbot's result file after fixbot's code wrote it (atexit runs last): the probe's
# records (per-test outcomes of the user's command) or the runner's rows (candidate validation).
TAMPER = """\
import atexit, json, os

OUT = "{out}"


def _tamper():
    if not os.path.exists("{spec}"):
        return
{body}

atexit.register(_tamper)
"""
TARGETS = {"probe": ("/fixbot/probe/out.jsonl", "/fixbot/probe/spec.json"),
           "runner": ("/fixbot/out.json", "/fixbot/spec.json")}
TAMPERING = {
    "garbage": "    open(OUT, 'w').write('this is not JSON {')",
    "symlink": "    os.remove(OUT)\n    os.symlink('/etc/passwd', OUT)",
    "wrong shape": "    json.dump({'outcomes': {'t': 5}, 'durations': 'fast'}, open(OUT, 'w'))",
    "deep nesting": "    open(OUT, 'w').write('[' * 200000 + ']' * 200000)",
    "huge (sparse)": "    f = open(OUT, 'w')\n    f.truncate(60 * 1024 * 1024)\n    f.close()",
    "a folder": "    os.remove(OUT)\n    os.mkdir(OUT)",
}


@pytest.fixture(scope="module")
def tamper_box(sandbox_image):
    box = Sandbox.create("test-hostile-runner", SandboxConfig(image=sandbox_image, cpus=1.0, timeout=60))
    try:
        box.put_files(CALC)
        install_runner(box)
        install_probe(box)
        yield box
    finally:
        box.destroy()


@pytest.mark.docker
@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_a_tampered_runner_result_is_a_clear_error(tamper_box, kind, target):
    out, spec = TARGETS[target]
    tamper_box.put_files({"conftest.py": TAMPER.format(out=out, spec=spec, body=TAMPERING[kind])})
    with pytest.raises(RunnerOutputError) as info:
        if target == "probe":
            run_tests(tamper_box, "python -m pytest -q", timeout=60)
        else:
            run_mode(tamper_box, "validate", {"pytest_args": ["-q"], "tests": None, "timeout": 5,
                                              "candidates": [{"id": 1, "path": "calc.py", "source": "x = 1\n"}]},
                     timeout=60)
    message = str(info.value)
    assert "result file" in message and "\n" not in message
    assert isinstance(info.value, WorkflowError)


@pytest.mark.docker
def test_tampering_in_a_whole_fix_ends_in_one_line_and_a_record(hostile_repo, cli_env, tmp_path):
    out, spec = TARGETS["probe"]
    repo = hostile_repo({"conftest.py": TAMPER.format(out=out, spec=spec, body=TAMPERING["wrong shape"])})
    out = tmp_path / "result.json"
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, "--json", str(out), env=cli_env)
    assert proc.returncode == 1
    assert "result file could not be used" in one_line_error(proc)
    record = json.loads(out.read_text())
    assert record["status"] == "error" and "result file" in record["message"]
    assert not any((Path(cli_env["XDG_STATE_HOME"]) / "fixbot" / "work").glob("fx-*")), "the checkout is removed"


@pytest.mark.docker
@pytest.mark.parametrize(
    ("setting", "expected"),
    [({"SANDBOX_IMAGE": "fixbot-no-such-image:0"}, "sandbox image 'fixbot-no-such-image:0' is missing"),
     ({"DOCKER_HOST": "tcp://127.0.0.1:9"}, "cannot reach the Docker engine")],
)
def test_sandbox_errors_in_fix_end_in_one_line_and_a_record(hostile_repo, cli_env, tmp_path, setting, expected):
    out = tmp_path / "result.json"
    proc = fixbot("fix", "--repo", str(hostile_repo({})), "--issue", CALC_ISSUE, "--json", str(out),
                  env={**cli_env, **setting})
    assert proc.returncode == 2
    assert expected in one_line_error(proc)
    assert json.loads(out.read_text())["status"] == "error"


def test_an_unexpected_exception_is_one_line_a_record_and_a_crash_log(tmp_path, monkeypatch, capsys):
    import agent.workflow

    async def boom(*_args, **_kwargs):
        raise RuntimeError("boom \x1b]0;pwned\x07")

    monkeypatch.setattr(agent.workflow, "run_fix", boom)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("ALLOW_LOCAL_REPOS", "true")
    from agent.settings import get_settings

    get_settings.cache_clear()
    out = tmp_path / "out.json"
    try:
        code = main(["fix", "--repo", str(tmp_path), "--issue", "x", "--json", str(out)])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "internal error (RuntimeError: boom )" in err and "pwned" not in err
    assert "\x1b" not in err and "Traceback" not in err
    record = json.loads(out.read_text())
    assert record["status"] == "error" and "internal error" in record["message"]
    log = (tmp_path / "state" / "fixbot" / "crash.log").read_text()
    assert "Traceback" in log and "RuntimeError: boom" in log


@pytest.mark.docker
def test_markup_and_brackets_in_test_ids_are_shown_as_they_are(hostile_repo, cli_env):
    tests = ("import pytest\nfrom calc import calculate_total\n\n\n"
             "@pytest.mark.parametrize('items', [[1, -2, 3]], ids=['[/x]'])\n"
             "def test_negative(items):\n    assert calculate_total(items) == 2\n\n\n"
             "@pytest.mark.parametrize('items', [[1, 2]], ids=['[bold red]'])\n"
             "def test_positive(items):\n    assert calculate_total(items) == 3\n")
    repo = hostile_repo({"tests/test_calc.py": tests})
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, env=cli_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tests/test_calc.py::test_negative[[/x]]" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.docker
def test_a_file_name_that_is_not_utf8_does_not_crash_a_fix(hostile_repo, cli_env, tmp_path):
    repo = hostile_repo({})
    for name in (b"data-\xff\xfe.bin", b"notes-\xe9.py", b"pkg-\xff"):
        path = os.path.join(os.fsencode(repo), name)
        if name.endswith(b".bin") or name.endswith(b".py"):
            with open(path, "wb") as fh:
                fh.write(b"x = 1\n")
        else:
            os.mkdir(path)
            with open(os.path.join(path, b"inner.py"), "wb") as fh:
                fh.write(b"y = 2\n")
    out = tmp_path / "result.json"
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, "--json", str(out), env=cli_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(out.read_text())["status"] == "fixed"


@pytest.fixture
def deep_trees():
    """Removes the deep trees a test made (shutil.rmtree, and so pytest's own clean-up, recurses per level)."""
    made: list[Path] = []
    yield made
    for root in made:
        subprocess.run(["rm", "-rf", "--", str(root)], check=False)


def _deep_tree(root: Path, depth: int) -> Path:
    root.mkdir(exist_ok=True)
    path = os.fspath(root)
    for _ in range(depth):  # one level at a time: os.makedirs itself recurses per level
        path = os.path.join(path, "d")
        os.mkdir(path)
    with open(os.path.join(path, "deep.py"), "w") as fh:
        fh.write("x = 1\n")
    return root


@pytest.mark.docker
def test_a_tree_nested_a_thousand_folders_deep_is_refused_clearly(hostile_repo, cli_env, tmp_path, deep_trees):
    repo = _deep_tree(hostile_repo({}), 1000)
    deep_trees.append(repo)
    out = tmp_path / "result.json"
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, "--json", str(out), env=cli_env)
    assert proc.returncode == 1
    assert "nests folders more than 100 levels deep" in one_line_error(proc)
    assert json.loads(out.read_text())["status"] == "error"
    assert not any((Path(cli_env["XDG_STATE_HOME"]) / "fixbot" / "work").glob("fx-*"))
    proc = fixbot("sandbox", "run", "--workspace", str(repo), "--", "true", env=cli_env)
    assert proc.returncode == 1 and "nests folders more than 100 levels deep" in one_line_error(proc)


def test_a_deep_tree_committed_to_git_is_refused_before_checkout(tmp_path, deep_trees):
    from agent.clone import fetch_repository
    from agent.exceptions import CloneError
    from agent.request import FixRequest

    repo = _deep_tree(tmp_path / "src", 150)
    deep_trees.append(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "deep"],
                   check=True)
    with pytest.raises(CloneError, match="more than 100 levels deep"):
        fetch_repository(FixRequest(repo=str(repo), issue="x", branch="main"), tmp_path / "dest", timeout=60,
                         max_mb=10)
    assert not (tmp_path / "dest").exists()


@pytest.mark.docker
async def test_a_dangling_link_where_the_reproduction_test_goes_is_never_written_through(
        make_repo, tmp_path, workflow_settings):
    from llm_fakes import ScriptedChat

    from agent.request import FixRequest
    from agent.workflow import run_fix

    green = {**CALC, "tests/test_calc.py": "from calc import calculate_total\n\n\ndef test_positive():\n"
                                           "    assert calculate_total([1, 2, 3]) == 6\n"}
    repo = make_repo(tmp_path / "r", green)
    os.symlink("../../outside/test_fixbot_repro.py", repo / "tests" / "test_fixbot_repro.py")
    repro = ("DESCRIPTION: negative items are summed\n```python\nfrom calc import calculate_total\n\n\n"
             "def test_negative_items_count():\n    assert calculate_total([1, -2, 3]) == 2\n```\n")
    fix = ("DESCRIPTION: add every item\nEXPLANATION: The guard skipped negative items.\n\ncalc.py\n"
           "<<<<<<< SEARCH\n        if x > 0:\n            total += x\n=======\n        total += x\n"
           ">>>>>>> REPLACE\n")
    chat = ScriptedChat([repro, "ROOT CAUSE: the guard.\nFILES: calc.py", fix, '{"approve": true}'])
    record = await run_fix(FixRequest(repo=str(repo), issue="calculate_total ignores negative numbers"),
                           workflow_settings, engine="llm", llm=chat)
    assert record["status"] == "fixed", record["message"]
    assert "tests/test_fixbot_repro_2.py" in record["final_patch"]["files"]
    assert not (tmp_path / "outside").exists()


def test_writing_the_reproduction_test_onto_a_link_is_a_clear_error(tmp_path):
    from agent.graph.nodes.llm_reprotest import _write_new, new_test_path

    (tmp_path / "tests").mkdir()
    os.symlink("nowhere.py", tmp_path / "tests" / "test_fixbot_repro.py")
    assert new_test_path(str(tmp_path)) == "tests/test_fixbot_repro_2.py"
    with pytest.raises(WorkflowError, match="could not create the reproduction test"):
        _write_new(str(tmp_path), "tests/test_fixbot_repro.py", "x = 1\n")
    assert not (tmp_path / "tests" / "nowhere.py").exists()


@pytest.mark.parametrize("source", ["x = " + "1+" * 100_000 + "1\n", "x = " + "-" * 200_000 + "1\n", "x = '\0'\n",
                                    "x = '\\d'  # a SyntaxWarning on Python 3.12+\n"])
def test_sources_that_break_the_parser_are_syntax_errors_never_crashes(source):
    from agent.localize import fallback_rank, function_spans
    from agent.pyparse import parse_python
    from agent.review import review_change

    try:
        parse_python(source)
    except SyntaxError:
        pass
    assert isinstance(function_spans(source), list)
    assert fallback_rank({"big.py": source}, ["x"]) == []
    verdict = review_change("big.py", "x = 1\n", source)
    assert verdict.ok or "no longer parses" in verdict.reason


def test_an_unreadable_folder_is_one_clear_error(tmp_path, make_repo, monkeypatch):
    from agent.clone import fetch_repository
    from agent.exceptions import CloneError
    from agent.request import FixRequest
    from sandbox import UnreadableTree
    from sandbox.walk import measure

    repo = make_repo(tmp_path / "r", {"calc.py": "x = 1\n", "secret/keys.py": "k = 1\n"})
    real_scandir = os.scandir

    def scandir(path):  # root reads everything, so the refusal a normal user meets is simulated here
        if os.fspath(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UnreadableTree, match="cannot read the folder secret: Permission denied"):
        measure(repo)
    with pytest.raises(CloneError, match="cannot read the folder secret"):
        fetch_repository(FixRequest(repo=str(repo), issue="x"), tmp_path / "d", timeout=30, max_mb=10)
    assert not (tmp_path / "d").exists()


async def test_an_existing_task_directory_is_never_removed(tmp_path, workflow_settings, make_repo):
    from agent.request import FixRequest
    from agent.workflow import run_fix

    keep = Path(workflow_settings.work_dir) / "fx-keepme" / "repo" / "calc.py"
    keep.parent.mkdir(parents=True)
    keep.write_text("mine\n")
    with pytest.raises(WorkflowError, match="already has a work directory"):
        await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", CALC)), issue="x"), workflow_settings,
                      task_id="fx-keepme")
    assert keep.read_text() == "mine\n"


def test_an_unwritable_result_file_or_state_folder_is_said_before_the_run(tmp_path, hostile_repo, cli_env):
    repo = hostile_repo({})
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, "--json", str(tmp_path / "no" / "r.json"),
                  env=cli_env)
    assert proc.returncode == 2 and "cannot write the result" in one_line_error(proc)
    blocked = tmp_path / "state-is-a-file"
    blocked.write_text("")
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE, env={**cli_env, "XDG_STATE_HOME": str(blocked)})
    assert proc.returncode == 2 and "set WORK_DIR (or XDG_STATE_HOME)" in one_line_error(proc)


def test_a_local_path_with_spaces_is_a_path(tmp_path, make_repo):
    from agent.request import FixRequest, validate_request
    from agent.settings import load_settings

    repo = make_repo(tmp_path / "my project", {"calc.py": "x = 1\n"})
    request = validate_request(FixRequest(repo=str(repo), issue="x"), load_settings(allow_local_repos=True))
    assert request.repo == str(repo)
