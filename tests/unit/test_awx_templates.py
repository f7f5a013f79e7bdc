"""AWX as code (awx/): the job templates, surveys and workflows agree with the playbooks and roles that exist.

- every playbook in playbooks/ has job templates; no template points at a playbook that does not exist;
- an incident playbook has a diagnose (check), a fix (run) and a verify template and a diagnose -> approval ->
  fix -> verify workflow;
- every survey variable is one the playbook or the roles it imports read (play vars, roles/*/defaults,
  roles/*/meta/argument_specs.yml), with a survey type that fits the role's argument type and choices that the
  roles accept (argument_specs choices, or the role's own list of known options) and that the playbook documents;
- templates carry the credentials the playbook's module_defaults groups need;
- every awx.awx task argument is an option of the module (ansible-lint cannot check awx.awx's arguments), and
  `ansible-playbook --syntax-check` passes with awx.awx resolved offline (scripts/fetch_test_collections.sh).
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.sre.incident.plugins.filter.awx_objects import awx_objects
from ansible_collections.sre.incident.plugins.plugin_utils.incident_types import incident_types

REPO = Path(__file__).resolve().parents[2]
AWX = REPO / "awx"
AWX_COLLECTION = REPO / "collections" / "ansible_collections" / "awx" / "awx"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
ROLE_ACTIONS = {"import_role", "include_role", "ansible.builtin.import_role", "ansible.builtin.include_role"}
TASK_ACTIONS = {"import_tasks", "include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_tasks"}
# Credential (awx_credentials key) a template needs when its playbook sets module_defaults for this group.
GROUP_CREDENTIALS = {"group/sre.incident.aws": "aws", "group/sre.incident.datadog": "datadog",
                     "group/sre.incident.postgres": "postgres"}
NOTIFY_CREDENTIALS = {"group/sre.incident.slack": "slack", "group/sre.incident.pagerduty": "pagerduty"}


class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """YAML with Ansible's !unsafe and !vault tags (kept as plain strings)."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def load(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=Loader)  # nosec - SafeLoader subclass


def awx_data():
    """The vars files as configure_controller.yml sees them; the incident types' part built from the registry
    (test_the_vars_files_render_to_the_same_in_ansible checks that Ansible renders them alike)."""
    data = {}
    for name in ("controller", "surveys", "job_templates", "workflows"):
        data.update(load(AWX / "vars" / ("%s.yml" % name)))
    types = incident_types()
    others = data["awx_other_job_templates"]
    data["awx_job_templates"] = others[:2] + awx_objects(types, "job_templates") + others[2:]
    data["awx_surveys"] = dict(data["awx_other_surveys"], **awx_objects(types, "surveys"))
    data["awx_workflows"] = awx_objects(types, "workflows", organization=data["awx_organization"])
    return data


DATA = awx_data()
TEMPLATES = DATA["awx_job_templates"]
BY_NAME = {template["name"]: template for template in TEMPLATES}
SURVEYS = DATA["awx_surveys"]
WORKFLOWS = DATA["awx_workflows"]


# --- what the playbooks and roles read --------------------------------------------------------------------------

PLAYBOOK_ACTIONS = {"import_playbook", "ansible.builtin.import_playbook"}


def playbooks():
    """Top-level playbooks (lists of plays or imported playbooks); playbooks/tasks/ holds task files the playbooks
    import, playbooks/frame/ the incident frame they import."""
    found = []
    for path in sorted((REPO / "playbooks").glob("*.yml")):
        content = load(path)
        if isinstance(content, list) and all(isinstance(play, dict) and ("hosts" in play or PLAYBOOK_ACTIONS & set(play))
                                             for play in content):
            found.append(path.relative_to(REPO).as_posix())
    return found


def plays_of(path, outer_vars=None):
    """(play, its vars, its directory) of a playbook, following import_playbook: the import's vars win."""
    for entry in load(path):
        target = [entry[action] for action in PLAYBOOK_ACTIONS & set(entry)]
        if target:
            yield from plays_of(path.parent / target[0], dict(outer_vars or {}, **(entry.get("vars") or {})))
        else:
            yield entry, dict(entry.get("vars") or {}, **(outer_vars or {})), path.parent


def resolve(value, play_vars):
    """A role name or tasks_from as the frame templates it from the registry ({{ incident_roles.diagnose }})."""
    match = re.fullmatch(r"\{\{\s*incident_roles((?:\.\w+)+)\s*(\|\s*default\('(\w+)'\))?\s*\}\}", str(value))
    if not match:
        assert "{{" not in str(value), "cannot resolve %s" % value
        return value
    found = incident_types()[play_vars["incident_type"]]["roles"]
    for key in match.group(1).strip(".").split("."):
        found = found.get(key) if isinstance(found, dict) else None
    return found if found is not None else match.group(3)


def role_entry(name, entry):
    """(defaults, argument spec options of the entry point, role tasks) of roles/<name> (FQCN or short)."""
    role = REPO / "roles" / name.split(".")[-1]
    assert role.is_dir(), "role %s does not exist" % name
    defaults = load(role / "defaults" / "main.yml") if (role / "defaults" / "main.yml").exists() else {}
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"] if (role / "meta" / "argument_specs.yml").exists() else {}
    if specs and entry not in specs:
        # A task file the incident frame runs after the role's first entry point: that one validates its options.
        text = (role / "tasks" / ("%s.yml" % entry)).read_text()
        validated_by = re.search(r"validated by the (\w+) entry point", text)
        assert validated_by and validated_by.group(1) in specs, "role %s has no argument spec for entry point %s" % (name, entry)
        entry = validated_by.group(1)
    options = (specs.get(entry) or {}).get("options") or {}
    tasks = []
    for task_file in sorted((role / "tasks").glob("*.yml")):
        tasks.extend(load(task_file) or [])
    return defaults or {}, options, tasks


ACTION_GROUPS = {"group/sre.incident.%s" % group: set(actions)
                 for group, actions in load(REPO / "meta" / "runtime.yml")["action_groups"].items()}


def role_modules(name, entry):
    """The sre.incident modules an entry point of a role names: its task file and those it imports, and the
    role's vars and defaults (the read steps it runs)."""
    role = REPO / "roles" / name.split(".")[-1]
    files, seen = [role / "tasks" / ("%s.yml" % entry)], []
    while files:
        path = files.pop()
        seen.append(path)
        files += [role / "tasks" / target for target in re.findall(r"import_tasks: (\S+\.yml)", path.read_text())
                  if role / "tasks" / target not in seen]
    seen += [path for folder in ("vars", "defaults") for path in sorted((role / folder).glob("*.yml"))]
    return set(re.findall(r"sre\.incident\.(\w+)", "".join(path.read_text() for path in seen)))


def known_lists(tasks):
    """Lists of accepted options a role checks against itself (task-level vars named *_known)."""
    found = {}
    for task in walk(tasks):
        for key, value in (task.get("vars") or {}).items():
            if key.endswith("_known") and isinstance(value, list):
                found[key] = value
    return found


def walk(tasks):
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from walk(task[key])


def role_invocations(tasks, base, play_vars, within=None):
    """(role name, entry point, task vars) of every import/include_role, following imported task files and the
    roles' own imports."""
    for task in walk(tasks):
        for action in ROLE_ACTIONS & set(task):
            spec = task[action]
            name, entry = resolve(spec["name"], play_vars), resolve(spec.get("tasks_from", "main"), play_vars)
            if name is None or name.split(".")[-1] == within:
                continue  # a step the registry leaves out for this type; a role's own task files
            yield name, entry, task.get("vars") or {}
            role_tasks = REPO / "roles" / name.split(".")[-1] / "tasks"
            yield from role_invocations(load(role_tasks / ("%s.yml" % entry)), role_tasks, play_vars, name.split(".")[-1])
        for action in TASK_ACTIONS & set(task):
            target = task[action]
            target = target["file"] if isinstance(target, dict) else target
            # The frame's flow is named by a play variable; a role's option file is chosen at run time and imports no role.
            target = re.sub(r"\{\{\s*(\w+)\s*(?:\|\s*default\('(\w+)'\)\s*)?\}\}",
                            lambda match: str(play_vars.get(match.group(1), match.group(2) or match.group(0))), target)
            if "{{" in target:
                continue
            path = base / target
            yield from role_invocations(load(path), path.parent, play_vars, within)


class PlaybookVars:
    """The variables a playbook reads: its play vars and the defaults/argument specs of the roles it imports.

    specs[var]: the argument specs that apply to var - its own, and (for a play var handed to a role as
    role_var: "{{ var }}") those of the role variables it feeds. choices[var]: the options the roles accept."""

    def __init__(self, playbook):
        path = REPO / playbook
        self.comment = "".join(line for line in path.read_text().splitlines(True) if line.startswith("#"))
        self.play_vars = {}
        self.readable = set()
        self.specs = {}
        self.choices = {}
        self.groups = set()
        used = set()
        for play, play_vars, base in plays_of(path):
            self.play_vars.update(play_vars)
            defaults_groups = set((play.get("module_defaults") or {}).keys())
            tasks = (play.get("pre_tasks") or []) + (play.get("tasks") or []) + (play.get("post_tasks") or [])
            invocations = list(role_invocations(tasks, base, play_vars))
            invocations += [(role if isinstance(role, str) else role["role"], "main", {}) for role in play.get("roles") or []]
            for name, entry, task_vars in invocations:
                used |= role_modules(name, entry)
                defaults, options, role_tasks = role_entry(name, entry)
                self.readable.update(defaults)
                self.readable.update(options)
                known = known_lists(role_tasks)
                for var, spec in options.items():
                    self._add(var, spec, known)
                # A role variable fed by a play variable: role_var: "{{ var }}" in the task, or in the role's defaults.
                for role_var, value in list(task_vars.items()) + list(defaults.items()):
                    match = re.fullmatch(r"\{\{\s*(\w+)\s*(\|\s*default\([^)]*\)\s*)?(\|\s*bool\s*)?\}\}", str(value))
                    if match and role_var in options:
                        self._add(match.group(1), options[role_var], known, fed=role_var)
            # The frame sets every group's defaults; a template needs the credentials of the groups its roles use.
            self.groups |= {group for group in defaults_groups if group == "group/sre.incident.all" or used & set(ACTION_GROUPS.get(group, ()))}
        self.readable.update(self.play_vars)

    def _add(self, var, spec, known, fed=None):
        self.specs.setdefault(var, []).append(spec)
        accepted = [choice for choice in spec.get("choices") or [] if choice != ""]
        if not accepted:
            name = (fed or var).rsplit("_option", 1)[0] + "_known"
            accepted = known.get(name, [])
        if accepted:
            self.choices.setdefault(var, []).append(accepted)

    def documented_choices(self, var):
        """The options the playbook's header documents: `-e var=a|b|c`."""
        match = re.search(r"-e %s=([\w|]+)" % re.escape(var), self.comment)
        return match.group(1).split("|") if match else None


PLAYBOOKS = playbooks()
VARS = {playbook: PlaybookVars(playbook) for playbook in PLAYBOOKS}


def remediation_option(playbook):
    """The play variable that forces the runbook option (incident playbooks only)."""
    found = [var for var in VARS[playbook].play_vars if var.endswith("_remediation_option")]
    return found[0] if found else None


INCIDENT_PLAYBOOKS = [playbook for playbook in PLAYBOOKS if remediation_option(playbook)]


# --- job templates ------------------------------------------------------------------------------------------------

def test_the_data_names_every_playbook_and_only_existing_ones():
    assert len(PLAYBOOKS) >= 7 and "playbooks/triage.yml" in PLAYBOOKS and "playbooks/postmortem.yml" in PLAYBOOKS
    assert len(BY_NAME) == len(TEMPLATES), "job template names must be unique"
    for template in TEMPLATES:
        assert (REPO / template["playbook"]).is_file(), "%s points at a missing playbook %s" % (template["name"], template["playbook"])
        assert template["playbook"] in PLAYBOOKS, "%s: %s is not a playbook" % (template["name"], template["playbook"])
    missing = set(PLAYBOOKS) - {template["playbook"] for template in TEMPLATES}
    assert not missing, "playbooks without a job template: %s" % sorted(missing)


def test_each_incident_playbook_has_diagnose_fix_and_verify_templates():
    assert len(INCIDENT_PLAYBOOKS) >= 5
    for playbook in INCIDENT_PLAYBOOKS:
        kinds = {template["kind"]: template for template in TEMPLATES if template["playbook"] == playbook}
        assert {"diagnose", "fix", "verify"} <= set(kinds), "%s has templates %s" % (playbook, sorted(kinds))
        option = remediation_option(playbook)
        for kind in ("diagnose", "fix"):
            survey = SURVEYS[kinds[kind]["survey"]]
            assert option in [question["variable"] for question in survey["spec"]], \
                "%s's %s survey does not offer %s" % (playbook, kind, option)


def test_job_type_tags_and_limit_follow_the_kind():
    for template in TEMPLATES:
        assert template["kind"] in ("diagnose", "fix", "verify", "run"), template["name"]
        assert template["job_type"] == ("check" if template["kind"] == "diagnose" else "run"), template["name"]
        if template["kind"] == "verify":
            assert template.get("job_tags") == "verify", template["name"]
        else:
            assert "job_tags" not in template, template["name"]
        assert template["description"].strip(), template["name"]
    # The playbook asks AWX for the limit on every template, and guards the ones that change things.
    task = controller_task("awx.awx.job_template")
    assert task["ask_limit_on_launch"] is True
    assert "awx_limit_guard if item.kind in ['fix', 'verify']" in task["limit"]
    assert DATA["awx_limit_guard"] and DATA["awx_limit_guard"] != "all"


def test_templates_carry_the_credentials_their_playbook_needs():
    credentials = DATA["awx_credentials"]
    for template in TEMPLATES:
        assert set(template["credentials"]) <= set(credentials), template["name"]
        groups = VARS[template["playbook"]].groups
        needed = {credential for group, credential in GROUP_CREDENTIALS.items() if group in groups}
        if template["kind"] in ("fix", "run"):
            needed |= {credential for group, credential in NOTIFY_CREDENTIALS.items() if group in groups}
        if "redis_password" in VARS[template["playbook"]].readable:
            needed.add("redis")
        assert needed <= set(template["credentials"]), "%s lacks %s" % (template["name"], sorted(needed - set(template["credentials"])))
    types = {credential_type["name"] for credential_type in DATA["awx_credential_types"]}
    for credential in credentials.values():
        assert credential["credential_type"] in types | {"Amazon Web Services"}, credential["name"]


# --- surveys ------------------------------------------------------------------------------------------------------

def survey_users():
    """(survey name, playbook) for every template and workflow that uses a survey."""
    users = [(template["survey"], template["playbook"]) for template in TEMPLATES if "survey" in template]
    for workflow in WORKFLOWS:
        for node in workflow["workflow_nodes"]:
            ujt = node["unified_job_template"]
            if ujt["type"] == "job_template" and "survey" in workflow:
                users.append((workflow["survey"], BY_NAME[ujt["name"]]["playbook"]))
    return users


def test_every_survey_is_used_and_well_formed():
    assert {user[0] for user in survey_users()} == set(SURVEYS)
    for name, survey in SURVEYS.items():
        assert survey["name"] and survey["description"], name
        variables = [question["variable"] for question in survey["spec"]]
        assert len(variables) == len(set(variables)), "%s asks for a variable twice" % name
        for question in survey["spec"]:
            where = "%s/%s" % (name, question["variable"])
            assert question["type"] in SURVEY_TYPES, where
            assert question["question_name"] and question["question_description"], where
            # An answer nobody gave must not override the inventory: never required, never a default.
            assert question["required"] is False and "default" not in question, where
            if "min" in question or "max" in question:
                assert question["min"] <= question["max"], where
            if question["type"] in ("multiplechoice", "multiselect"):
                assert question["choices"] and all(isinstance(choice, str) and choice for choice in question["choices"]), where
            else:
                assert "choices" not in question, where


@pytest.mark.parametrize("survey,playbook", sorted(set(survey_users())))
def test_survey_variables_are_read_by_the_playbook_with_fitting_types_and_choices(survey, playbook):
    pvars = VARS[playbook]
    for question in SURVEYS[survey]["spec"]:
        var, kind = question["variable"], question["type"]
        where = "%s: survey %s asks for %s" % (playbook, survey, var)
        assert var in pvars.readable, "%s, which neither the playbook nor its roles read" % where
        types = {spec.get("type", "str") for spec in pvars.specs.get(var, [])}
        default = pvars.play_vars.get(var)
        if isinstance(default, bool):
            types.add("bool")
        if "bool" in types:
            # The answer is a string and "false" is true in a Jinja test: only "true", empty keeps false.
            assert kind == "multiplechoice" and question["choices"] == ["true"], where
            continue
        if kind == "integer":
            assert types <= {"int", "raw"}, "%s as integer but the role wants %s" % (where, types)
        elif kind == "float":
            assert types <= {"float", "raw"}, "%s as float but the role wants %s" % (where, types)
        elif kind == "multiselect":
            assert types <= {"list", "raw"} and types, "%s as a list but the role wants %s" % (where, types)
        else:
            assert types <= {"str", "raw"}, "%s as text but the role wants %s" % (where, types)
        if kind in ("multiplechoice", "multiselect"):
            accepted = pvars.choices.get(var)
            assert accepted, "%s with choices, but no role lists the options it accepts" % where
            for options in accepted:
                assert set(question["choices"]) <= set(options), \
                    "%s: %s not accepted by the role (%s)" % (where, sorted(set(question["choices"]) - set(options)), options)
            documented = pvars.documented_choices(var)
            assert documented, "%s, which the playbook's header does not document (-e %s=a|b)" % (where, var)
            assert question["choices"] == documented, "%s: %s, the playbook documents %s" % (where, question["choices"], documented)


# --- workflows ----------------------------------------------------------------------------------------------------

def test_each_incident_has_a_diagnose_approval_fix_verify_workflow():
    covered = set()
    for workflow in WORKFLOWS:
        nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
        assert len(nodes) == len(workflow["workflow_nodes"]), workflow["name"]
        targets = {node["identifier"] for node in workflow["workflow_nodes"]
                   for edge in node.get("related", {}).values() for node in edge}
        roots = [identifier for identifier in nodes if identifier not in targets]
        assert len(roots) == 1, "%s: one start node, not %s" % (workflow["name"], roots)
        chain = []
        current = roots[0]
        while current:
            node = nodes[current]
            chain.append(node)
            related = node.get("related", {})
            assert set(related) <= {"success_nodes"}, "%s: %s continues on failure" % (workflow["name"], current)
            following = related.get("success_nodes", [])
            assert len(following) <= 1, workflow["name"]
            current = following[0]["identifier"] if following else None
        assert len(chain) == len(nodes), "%s: nodes outside the chain" % workflow["name"]
        types = [node["unified_job_template"]["type"] for node in chain]
        assert types == ["job_template", "workflow_approval", "job_template", "job_template"], workflow["name"]
        approval = chain[1]["unified_job_template"]
        assert approval["name"] and approval["description"] and approval["timeout"] > 0, workflow["name"]
        templates = [BY_NAME.get(chain[i]["unified_job_template"]["name"]) for i in (0, 2, 3)]
        assert all(templates), "%s names a job template that is not in job_templates.yml" % workflow["name"]
        assert [template["kind"] for template in templates] == ["diagnose", "fix", "verify"], workflow["name"]
        assert [template["job_type"] for template in templates] == ["check", "run", "run"], workflow["name"]
        playbook = templates[0]["playbook"]
        assert {template["playbook"] for template in templates} == {playbook}, workflow["name"]
        assert workflow["survey"] == templates[1]["survey"], "%s: the workflow asks what its fix asks" % workflow["name"]
        covered.add(playbook)
    assert covered == set(INCIDENT_PLAYBOOKS)
    task = controller_task("awx.awx.workflow_job_template")
    assert task["ask_limit_on_launch"] is True and task["limit"] == "{{ awx_limit_guard }}"


# --- the playbook that applies it ---------------------------------------------------------------------------------

def controller_tasks():
    play = load(AWX / "configure_controller.yml")[0]
    return play, play["tasks"]


def controller_task(action):
    found = [task for task in controller_tasks()[1] if action in task]
    assert len(found) == 1, action
    return found[0][action]


def module_options(name):
    """Documented options (and aliases) of an awx.awx module, plus the controller auth options."""
    def options_of(path, attribute="DOCUMENTATION"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == attribute for target in node.targets):
                return yaml.safe_load(node.value.value)["options"]
        raise AssertionError("no %s in %s" % (attribute, path))

    names = set()
    for path in (AWX_COLLECTION / "plugins" / "modules" / ("%s.py" % name), AWX_COLLECTION / "plugins" / "doc_fragments" / "auth.py"):
        for option, spec in options_of(path).items():
            names.add(option)
            names.update(spec.get("aliases") or [])
    return names


@pytest.fixture(scope="module")
def awx_collection():
    if not (AWX_COLLECTION / "MANIFEST.json").is_file():
        subprocess.run(["bash", str(REPO / "scripts" / "fetch_test_collections.sh")], check=True, timeout=300)
    return AWX_COLLECTION


def test_every_awx_task_argument_is_a_module_option(awx_collection):  # pylint: disable=redefined-outer-name,unused-argument
    play, tasks = controller_tasks()
    assert play["hosts"] == "localhost" and play["gather_facts"] is False
    assert set(play["vars_files"]) == {"vars/%s.yml" % name for name in ("controller", "surveys", "job_templates", "workflows")}
    modules = set()
    for task in tasks:
        action = [key for key in task if key.startswith("awx.awx.")]
        if "ansible.builtin.assert" in task:
            continue
        assert len(action) == 1, task["name"]
        module = action[0].split(".")[-1]
        modules.add(module)
        unknown = set(task[action[0]]) - module_options(module)
        assert not unknown, "%s: %s has no option %s" % (task["name"], action[0], sorted(unknown))
    assert {"credential_type", "credential", "execution_environment", "project", "inventory", "inventory_source",
            "job_template", "workflow_job_template"} <= modules
    # Workflow nodes: only keys the module's workflow_nodes suboptions know.
    src = (awx_collection / "plugins" / "modules" / "workflow_job_template.py").read_text()
    doc = yaml.safe_load(re.search(r"DOCUMENTATION = '''(.*?)'''", src, re.S).group(1))
    node_options = doc["options"]["workflow_nodes"]["suboptions"]
    for workflow in WORKFLOWS:
        for node in workflow["workflow_nodes"]:
            assert set(node) <= set(node_options), node["identifier"]
            assert set(node["unified_job_template"]) <= set(node_options["unified_job_template"]["suboptions"])


def test_syntax_check_with_awx_awx_resolved_offline(awx_collection):  # pylint: disable=redefined-outer-name,unused-argument
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    result = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "awx/configure_controller.yml", "--syntax-check"],
                            cwd=str(REPO), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_vars_files_render_to_the_same_in_ansible(tmp_path):
    """What configure_controller.yml loops over, rendered by Ansible from awx/vars/*.yml and the registry."""
    out = tmp_path / "rendered.json"
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars_files": [str(AWX / "vars" / ("%s.yml" % name)) for name in ("controller", "surveys", "job_templates", "workflows")],
             "tasks": [{"ansible.builtin.copy": {"dest": str(out), "content": "{{ {'t': awx_job_templates, 's': awx_surveys, "
                                                                              "'w': awx_workflows} | to_json }}"}}]}]
    (tmp_path / "render.yml").write_text(yaml.safe_dump(play))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    result = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=%s" % sys.executable, str(tmp_path / "render.yml")],
                            cwd=str(REPO), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = json.loads(out.read_text())
    assert rendered == {"t": TEMPLATES, "s": SURVEYS, "w": WORKFLOWS}


def test_the_secret_variables_are_the_ones_the_credentials_use():
    """awx_secret_variables (checked before credentials are written) and secrets.example.yml name exactly the
    vaulted variables the credentials' inputs read; one with a default is optional."""
    referenced, optional = set(), set()
    for credential in DATA["awx_credentials"].values():
        for value in credential["inputs"].values():
            match = re.fullmatch(r"\{\{\s*(\w+)\s*(\|\s*default\(.*\))?\s*\}\}", value)
            assert match, "%s: inputs come from one variable each" % credential["name"]
            (optional if match.group(2) else referenced).add(match.group(1))
    assert set(DATA["awx_secret_variables"]) == referenced
    assert set(load(AWX / "vars" / "secrets.example.yml")) == referenced | optional


def test_awx_awx_stays_out_of_the_project_requirements():
    """AWX reads the root requirements.yml at every project sync; awx.awx is for the workstation only."""
    root = load(REPO / "requirements.yml") or {}
    assert all("awx" not in str(item) for item in root.get("collections") or []), "awx.awx must not be in requirements.yml"
    workstation = load(AWX / "requirements.yml")
    assert [item["name"] for item in workstation["collections"]] == ["awx.awx"]
