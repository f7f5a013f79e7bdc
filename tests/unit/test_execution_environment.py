"""The execution environment: `ansible-builder create` turns execution-environment.yml into a build context that
installs the modules' Python dependencies, and meta/execution-environment.yml gives the same dependencies to an
execution environment that installs sre.incident as a collection. No image is built (no registry here)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
BUILDER = Path(sys.executable).with_name("ansible-builder")
# What the modules import (plugins/module_utils, plugins/modules): the list plus slack_sdk.
MODULE_DEPS = {"boto3", "botocore", "psycopg", "redis", "datadog-api-client", "jmespath", "slack-sdk"}


def canonical(name):
    return name.lower().replace("_", "-")


def requirements(lines):
    """{canonical name: Requirement} of pip requirement lines (comments and blanks skipped)."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            found[canonical(req.name)] = req
    return found


def run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert result.returncode == 0, "%s failed (rc %s):\n%s\n%s" % (argv, result.returncode, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    if not BUILDER.exists():
        pytest.fail("%s is missing: ansible-builder belongs in requirements-dev.txt (make venv installs it)" % BUILDER)
    ctx = tmp_path_factory.mktemp("ee") / "context"
    run([str(BUILDER), "create", "--file", "execution-environment.yml", "--context", str(ctx),
         "--output-filename", "Containerfile"], cwd=str(REPO))
    return ctx


def test_definition_is_ansible_builder_v3_and_uses_the_project_files():
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    deps = definition["dependencies"]
    assert deps["python"] == "requirements.txt" and deps["system"] == "bindep.txt" and deps["galaxy"] == "requirements.yml"
    # The EE runs the ansible-core range the project tests.
    dev = requirements((REPO / "requirements-dev.txt").read_text().splitlines())
    assert Requirement(deps["ansible_core"]["package_pip"]).specifier == dev["ansible-core"].specifier
    assert canonical(Requirement(deps["ansible_runner"]["package_pip"]).name) == "ansible-runner"


def test_create_writes_a_context_with_the_modules_python_dependencies(context):
    assert (context / "Containerfile").is_file()
    build = context / "_build"
    reqs = requirements((build / "requirements.txt").read_text().splitlines())
    assert MODULE_DEPS <= set(reqs), "missing from the build context: %s" % sorted(MODULE_DEPS - set(reqs))
    assert "binary" in reqs["psycopg"].extras, "psycopg must come with its binary (bundled libpq) extra"
    assert "git-core [platform:rpm]" in (build / "bindep.txt").read_text()
    assert yaml.safe_load((build / "requirements.yml").read_text())["collections"] == []
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.22 ansible-runner>=2.4"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    assert "COPY _build/requirements.txt requirements.txt" in containerfile


def test_the_image_would_install_exactly_the_project_requirements(context, tmp_path):
    """The builder stage runs introspect.py over the collections the galaxy stage installed (none) plus the
    user's files; run that very script from the context."""
    empty = tmp_path / "collections"
    empty.mkdir()
    build = context / "_build"
    out = run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(empty),
               "--user-pip", str(build / "requirements.txt"), "--user-bindep", str(build / "bindep.txt"),
               "--write-pip", str(tmp_path / "pip.txt"), "--write-bindep", str(tmp_path / "bindep.txt")])
    assert "boto3" in out.stdout
    project = requirements((REPO / "requirements.txt").read_text().splitlines())
    assert set(requirements((tmp_path / "pip.txt").read_text().splitlines())) == set(project)


def test_installed_collection_declares_its_dependencies(context, tmp_path):
    """meta/execution-environment.yml: an EE that installs sre.incident gets its Python and system deps."""
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    tree = tmp_path / "ansible_collections" / "sre"
    tree.mkdir(parents=True)
    os.symlink(str(REPO), str(tree / "incident"))
    run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(tmp_path),
         "--write-pip", str(tmp_path / "pip.txt"), "--write-bindep", str(tmp_path / "bindep.txt")])
    pip_lines = (tmp_path / "pip.txt").read_text().splitlines()
    assert MODULE_DEPS <= set(requirements(pip_lines))
    assert all("from collection sre.incident" in line for line in pip_lines if line.strip())
    assert "git-core [platform:rpm]" in (tmp_path / "bindep.txt").read_text()
