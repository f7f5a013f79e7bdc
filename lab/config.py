"""Where the lab lives: state dir, ports, credentials and the runbook's resource names.

Everything here is derived from two environment variables so that several labs can run side by side:
``SRE_LAB_DIR`` (state dir, default ``<repo>/.lab``) and ``SRE_LAB_PORT_BASE`` (default 27100).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Below the kernel's ephemeral range (32768-60999 on Linux), where any outgoing connection may take a port.
DEFAULT_PORT_BASE = 27100
HOST = "127.0.0.1"

# AWS (moto) identity the lab answers for
AWS_REGION = "us-east-1"
AWS_ACCOUNT_ID = "123456789012"
AWS_ACCESS_KEY_ID = "testing"
AWS_SECRET_ACCESS_KEY = "testing"

# The runbook's Sample Service
ECS_CLUSTER = "sample-service-prod"
ECS_SERVICE = "sample-service"
TASK_FAMILY = "sample-service"
CONTAINER_NAME = "sample-service"
# the IAM roles every revision carries (a new revision passes them on: iam:PassRole)
TASK_ROLE_NAME = "sample-service-task"
EXECUTION_ROLE_NAME = "sample-service-task-execution"
TASK_REVISIONS = 5
BASELINE_REVISION = 5
BASELINE_DESIRED_COUNT = 4
LOG_GROUP = "/aws/ecs/sample-service-prod"
HEAPDUMP_BUCKET = "sample-service-heapdumps"
REPLICATION_GROUP_ID = "sample-service-redis-prod"
NODE_GROUP_ID = "0001"
REDIS_NODES = ("sample-service-redis-prod-001", "sample-service-redis-prod-002")
BASELINE_PRIMARY = REDIS_NODES[0]
PG_DATABASE = "sample"
PG_APP_ROLE = "sample_app"
PG_AUTOMATION_ROLE = "sre_automation"
PG_MAX_CONNECTIONS = 30
# sample_app's CONNECTION LIMIT: below max_connections (less the 3 superuser_reserved_connections), so an
# application that exhausts its share leaves slots for operators and automation (sre_automation)
PG_APP_CONNECTION_LIMIT = 24
PG_APP_APPLICATION_NAME = "sample-service"  # the application_name Sample Service's sessions carry
# SSM parameters the app reads: the new-checkout feature flag ("on"/"off") and its runtime configuration
FEATURE_FLAG_NEW_CHECKOUT = "/sample-service/prod/feature-flags/new-checkout"
RUNTIME_CONFIG_PARAMETER = "/sample-service/prod/runtime-config"
# external dependencies the runbook checks (served by the lab on the "dependencies" port)
DEPENDENCIES = {"stripe": "/stripe/v1/health", "sendgrid": "/sendgrid/v3/health"}

INCIDENTS = ("service_down", "db_pool_exhausted", "redis_down", "high_error_rate", "memory_leak")

INTERNAL = "-internal"
# port offsets from the base
PORT_OFFSETS = {
    "aws": 0,
    "datadog": 1,
    "health": 2,
    "slack": 3,
    "pagerduty": 4,
    "control": 5,
    "dependencies": 6,
    "redis_proxy": 10,
    REDIS_NODES[0]: 11,
    REDIS_NODES[1]: 12,
    "postgres": 20,
    # where the servers themselves listen, behind the lab's proxies on the ports above (faults, journal)
    REDIS_NODES[0] + INTERNAL: 13,
    REDIS_NODES[1] + INTERNAL: 14,
    "postgres" + INTERNAL: 21,
}


def deploy_seconds() -> float:
    """How long an ECS deployment stays IN_PROGRESS before the controller completes it."""
    try:
        return max(0.0, float(os.environ.get("SRE_LAB_DEPLOY_SECONDS", "1.5")))
    except ValueError:
        return 1.5


def query_seconds() -> float:
    """How long a Logs Insights query stays Running before its results are Complete."""
    try:
        return max(0.0, float(os.environ.get("SRE_LAB_QUERY_SECONDS", "0.5")))
    except ValueError:
        return 0.5


def iam_at_start() -> bool:
    """SRE_LAB_IAM=1: the AWS emulator enforces docs/iam-policy.json from the start (lab/iam.py)."""
    return os.environ.get("SRE_LAB_IAM", "") in ("1", "true", "yes")


def state_dir() -> Path:
    value = os.environ.get("SRE_LAB_DIR")
    return Path(value).expanduser().resolve() if value else REPO_ROOT / ".lab"


def port_base() -> int:
    value = os.environ.get("SRE_LAB_PORT_BASE")
    if not value:
        return DEFAULT_PORT_BASE
    try:
        base = int(value)
    except ValueError:
        raise ValueError(f"SRE_LAB_PORT_BASE must be an integer, got {value!r}") from None
    if not 1024 <= base <= 65535 - 30:
        raise ValueError(f"SRE_LAB_PORT_BASE must be between 1024 and 65505, got {base}")
    return base


@dataclass
class Secrets:
    redis_password: str
    datadog_api_key: str
    datadog_app_key: str
    pg_admin_password: str
    pg_app_password: str
    pg_automation_password: str
    slack_token: str
    pagerduty_routing_key: str

    @classmethod
    def generate(cls) -> "Secrets":
        return cls(
            redis_password=secrets.token_hex(16),
            datadog_api_key=secrets.token_hex(16),
            datadog_app_key=secrets.token_hex(20),
            pg_admin_password=secrets.token_hex(16),
            pg_app_password=secrets.token_hex(16),
            pg_automation_password=secrets.token_hex(16),
            slack_token="xoxb-lab-" + secrets.token_hex(12),
            pagerduty_routing_key=secrets.token_hex(16),
        )


@dataclass
class LabConfig:
    state_dir: Path
    port_base: int
    secrets: Secrets = field(repr=False)

    @classmethod
    def load(cls, create: bool = False) -> "LabConfig":
        """Read the config for the current environment; with create=True, make the state dir and secrets."""
        sdir = state_dir()
        base = port_base()
        secrets_file = sdir / "secrets.json"
        if secrets_file.exists():
            data = json.loads(secrets_file.read_text())
            known = Secrets.generate().__dict__.keys()
            sec = Secrets(**{**Secrets.generate().__dict__, **{k: v for k, v in data.items() if k in known}})
            if set(known) - set(data):
                _write_private(secrets_file, json.dumps(sec.__dict__, indent=2))
        elif create:
            sdir.mkdir(parents=True, exist_ok=True)
            os.chmod(sdir, 0o755)
            sec = Secrets.generate()
            _write_private(secrets_file, json.dumps(sec.__dict__, indent=2))
        else:
            sec = Secrets.generate()  # not persisted: the lab was never started here
        return cls(state_dir=sdir, port_base=base, secrets=sec)

    def port(self, name: str) -> int:
        return self.port_base + PORT_OFFSETS[name]

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port(name)}"

    # files in the state dir
    @property
    def pid_file(self) -> Path:
        return self.state_dir / "lab.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "lab.log"

    @property
    def status_file(self) -> Path:
        return self.state_dir / "status.json"

    @property
    def error_file(self) -> Path:
        return self.state_dir / "daemon.error"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.secrets.redis_password}@{HOST}:{self.port('redis_proxy')}/0"

    @property
    def redis_url_without_password(self) -> str:
        return f"redis://{HOST}:{self.port('redis_proxy')}/0"

    def pg_dsn(self, user: str, password: str, database: str = PG_DATABASE) -> str:
        return f"postgresql://{user}:{password}@{HOST}:{self.port('postgres')}/{database}"

    @property
    def admin_dsn(self) -> str:
        return self.pg_dsn("postgres", self.secrets.pg_admin_password)

    @property
    def app_dsn(self) -> str:
        return self.pg_dsn(PG_APP_ROLE, self.secrets.pg_app_password)

    @property
    def automation_dsn(self) -> str:
        return self.pg_dsn(PG_AUTOMATION_ROLE, self.secrets.pg_automation_password)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
