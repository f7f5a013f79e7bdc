"""The built collection, installed elsewhere, runs the Redis playbook by FQCN against the lab."""

import os
import subprocess

from helpers import BIN, REPO, output, snapshot


def run(command, cwd, env):
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_tarball_installed_in_a_temp_path_runs_redis_down_by_fqcn(tmp_path, healed_lab, lab_control):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_HOME=str(tmp_path / "home"))
    built = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist"), REPO],
                cwd=str(tmp_path), env=env)
    assert built.returncode == 0, output(built)
    tarball = next((tmp_path / "dist").glob("sre-incident-*.tar.gz"))
    installed = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p",
                     str(tmp_path / "collections"), str(tarball)], cwd=str(tmp_path), env=env)
    assert installed.returncode == 0, output(installed)
    assert (tmp_path / "collections" / "ansible_collections" / "sre" / "incident" / "playbooks" / "redis_down.yml").is_file()

    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(REPO, "inventories", "lab"),
                  "sre.incident.redis_down", "--check"], cwd=str(workdir), env=env)

    text = output(result)
    assert result.returncode == 0, text
    listed = run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "sre.incident"], cwd=str(workdir), env=env)
    assert str(tmp_path / "collections") in listed.stdout and REPO not in listed.stdout, output(listed)
    assert "Would take option failover" in text
    assert snapshot(healed_lab) == before
