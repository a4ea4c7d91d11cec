"""The ready-made CI integrations, run as their hosts would run them.

- `.pre-commit-hooks.yaml`: the real pre-commit, `try-repo` against this repository.
- `action.yml`: its composite steps run in order by bash as the Actions runner runs them
  (`bash --noprofile --norc -eo pipefail`), with `${{ … }}` expressions filled in and the
  runner's files (GITHUB_OUTPUT, GITHUB_PATH); the install and upload steps, which need
  the runner, are checked for what they call.
- `integrations/gitlab-ci.yml`: the job's script lines run in order, its artifacts read.

Each runs on a copy of the example ruleset, clean and then broken.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALLOT = os.environ.get("ALLOT", str(ROOT / "target/debug/allot"))


@pytest.fixture
def project(tmp_path):
    """A merchant's repository: the example ruleset, its tests and data, under git."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "rulesets/example", project / "rulesets/example")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(git + ["-C", str(project), "add", "-A"], check=True)
    subprocess.run(git + ["-C", str(project), "commit", "-qm", "rules"], check=True)
    return project


def break_types(project):
    policies = project / "rulesets/example/policies.allot"
    # `300` without its unit, in the formatter's layout (the `because` stays aligned).
    text = policies.read_text().replace("d > store_radius", "d > 300         ", 1)
    policies.write_text(text)


def environment(tmp_path):
    env = dict(os.environ, NO_COLOR="1", PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    env["PATH"] = f"{Path(ALLOT).parent}{os.pathsep}{env['PATH']}"
    return env


# pre-commit


def pre_commit(project, tmp_path, hook):
    env = environment(tmp_path)
    env["ALLOT"] = ALLOT
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


def test_pre_commit_hooks_pass_on_a_clean_repository(project, tmp_path):
    for hook in ("allot-check", "allot-fmt", "allot-test"):
        run = pre_commit(project, tmp_path, hook)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Passed" in run.stdout, run.stdout


def test_pre_commit_check_sees_each_ruleset_whole_and_reports_errors(project, tmp_path):
    # Files checked alone would not see each other's declarations (`store_radius` is in
    # rates.allot): passing means the hook checked the directory as one ruleset.
    run = pre_commit(project, tmp_path, "allot-check")
    assert run.returncode == 0, run.stdout
    break_types(project)
    run = pre_commit(project, tmp_path, "allot-check")
    assert run.returncode != 0
    assert "E0204" in run.stdout and "policies.allot" in run.stdout, run.stdout


def test_pre_commit_fmt_rewrites_a_file_out_of_layout(project, tmp_path):
    rates = project / "rulesets/example/rates.allot"
    canonical = rates.read_text()
    rates.write_text(canonical.replace("const store_radius: distance = 300 km",
                                       "const   store_radius :distance=300 km"))
    run = pre_commit(project, tmp_path, "allot-fmt")
    assert run.returncode != 0, run.stdout
    assert "files were modified by this hook" in run.stdout, run.stdout
    assert rates.read_text() == canonical


# GitHub Actions

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


def evaluate(expression, inputs, outputs):
    """The few expressions the action uses: inputs, step outputs, `== 'x'`, `&&`, always()."""
    if " && " in expression:
        return all(evaluate(part, inputs, outputs) in (True, "true")
                   for part in expression.split(" && "))
    if expression == "always()":
        return True
    match = re.fullmatch(r"(.+?) == '(.*)'", expression)
    if match:
        return evaluate(match.group(1), inputs, outputs) == match.group(2)
    match = re.fullmatch(r"inputs\.([\w-]+)", expression)
    if match:
        return inputs[match.group(1)]
    match = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", expression)
    if match:
        return outputs.get(match.group(1), {}).get(match.group(2), "")
    raise AssertionError(f"an expression the test does not know: {expression}")


def fill(text, inputs, outputs):
    return EXPRESSION.sub(lambda m: str(evaluate(m.group(1), inputs, outputs)), text)


def run_action(project, tmp_path, **given):
    """Runs the action's steps in the project; returns (ran step ids, outputs, logs)."""
    definition = action()
    inputs = {name: spec.get("default", "") for name, spec in definition["inputs"].items()}
    inputs.update(given)
    outputs, logs, ran = {}, {}, []
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    for step in definition["runs"]["steps"]:
        condition = step.get("if")
        if condition and not evaluate(EXPRESSION.fullmatch(condition).group(1), inputs, outputs):
            continue
        if "uses" in step:
            assert step["uses"] == "github/codeql-action/upload-sarif@v3"
            assert fill(step["with"]["sarif_file"], inputs, outputs) == inputs["sarif-file"]
            ran.append("upload")
            continue
        if step["id"] == "install":
            # Needs a Rust toolchain's `cargo install`; here the binary is on PATH.
            assert '--path "$GITHUB_ACTION_PATH/crates/allot-cli"' in step["run"]
            assert (ROOT / "crates/allot-cli/Cargo.toml").exists()
            continue
        output_file = runner / f"{step['id']}.output"
        output_file.write_text("")
        env = environment(tmp_path)
        env.update({name: fill(str(value), inputs, outputs)
                    for name, value in step.get("env", {}).items()})
        env.update(GITHUB_ACTION_PATH=str(ROOT), GITHUB_OUTPUT=str(output_file),
                   GITHUB_PATH=str(runner / "path"), RUNNER_TEMP=str(runner))
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach scripts through env, not the text"
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=project, env=env, capture_output=True, text=True, timeout=300,
        )
        logs[step["id"]] = result.stdout + result.stderr
        outputs[step["id"]] = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        ran.append(step["id"])
        if result.returncode != 0:
            return ran, outputs, logs, step["id"]
    return ran, outputs, logs, None


def test_the_action_checks_formats_and_tests_a_clean_repository(project, tmp_path):
    ran, outputs, logs, failed = run_action(project, tmp_path, paths="rulesets",
                                            network="rulesets/example/network.json")
    assert failed is None, logs
    assert ran == ["check", "upload", "format", "test", "verdict"]
    assert outputs["check"]["status"] == "0"
    log = json.loads((project / "allot.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []
    assert "passed, 0 failed" in logs["test"]


def test_the_action_uploads_findings_and_then_fails(project, tmp_path):
    break_types(project)
    ran, outputs, logs, failed = run_action(project, tmp_path, paths="rulesets", test="false")
    assert failed == "verdict", logs
    assert ran == ["check", "upload", "format", "verdict"]
    assert outputs["check"]["status"] == "1"
    assert "::error file=rulesets/example/policies.allot" in logs["check"], logs["check"]
    log = json.loads((project / "allot.sarif").read_text())
    assert "E0204" in [r["ruleId"] for r in log["runs"][0]["results"]]


def test_every_input_the_action_reads_is_declared():
    definition = action()
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == set(definition["inputs"]), used ^ set(definition["inputs"])


# GitLab CI


def test_the_gitlab_job_runs_and_leaves_its_reports(project, tmp_path):
    job = yaml.safe_load((ROOT / "integrations/gitlab-ci.yml").read_text())["allot"]
    assert any("cargo install" in line and "allot-cli" in line for line in job["before_script"])
    env = environment(tmp_path)
    env.update(job["variables"])

    def run_script():
        for line in job["script"]:
            result = subprocess.run(["bash", "-eo", "pipefail", "-c", line], cwd=project,
                                    env=env, capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                return line
        return None

    assert run_script() is None
    for artifact in job["artifacts"]["paths"] + [job["artifacts"]["reports"]["junit"]]:
        assert (project / artifact).exists(), artifact
    suites = ElementTree.parse(project / job["artifacts"]["reports"]["junit"]).getroot()
    assert suites.tag == "testsuites" and int(suites.get("tests")) > 0
    assert int(suites.get("failures")) == 0
    break_types(project)
    assert run_script() == "allot check --deny-warnings $ALLOT_PATHS"
    log = json.loads((project / "gl-allot.sarif").read_text())
    assert "E0204" in [r["ruleId"] for r in log["runs"][0]["results"]]
