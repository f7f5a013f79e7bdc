"""CLI: python -m lab up | down | status [--json] | heal
       | break INCIDENT [--replica-down | --no-good-revision | --pool-only | --age SECONDS]

Exit codes: 0 ok; 1 error; 2 usage error / unknown or not implemented incident; 3 ``status`` when the lab
is not running. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import client, config
from .scenarios import LabError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"lab: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lab", description="Local lab for the sre.incident collection.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("up", help="start the lab (idempotent)")
    sub.add_parser("down", help="stop the lab (idempotent)")
    p_status = sub.add_parser("status", help="show endpoints, credentials and state")
    p_status.add_argument("--json", action="store_true", help="print the status as JSON")
    p_break = sub.add_parser("break", help=f"inject an incident: {', '.join(config.INCIDENTS)}")
    p_break.add_argument("incident", metavar="INCIDENT")
    p_break.add_argument("--replica-down", action="store_true",
                         help="redis_down: stop the replica too, so no failover is possible")
    p_break.add_argument("--no-good-revision", action="store_true",
                         help="service_down: every revision crashes (the runtime configuration is gone), "
                              "so no rollback can succeed")
    p_break.add_argument("--pool-only", action="store_true",
                         help="db_pool_exhausted: no leaked sessions; the app's connection demand (26) exceeds "
                              "its pool (MAX_DB_CONNECTIONS 20) while the database has room")
    p_break.add_argument("--age", type=float, metavar="SECONDS",
                         help="db_pool_exhausted: return once the leaked sessions are this old (default 4)")
    sub.add_parser("heal", help="undo every injected incident")
    return parser


def render(status: dict[str, Any]) -> str:
    if not status.get("running"):
        return f"lab is not running (state dir {status.get('state_dir')})"
    scenario = status["scenario"]["active"]
    redis = status["redis"]
    nodes = ", ".join(f"{name.rsplit('-', 1)[-1]}={n['role']}:{n['port']}{'' if n['up'] else ' (down)'}"
                      for name, n in redis["nodes"].items())
    lines = [
        f"lab running (pid {status['pid']}, state dir {status['state_dir']})",
        f"  scenario    {', '.join(scenario) if scenario else 'healthy'}",
        f"  aws         {status['aws']['endpoint_url']}  region {status['aws']['region']}",
        f"  ecs         cluster {status['ecs']['cluster']} service {status['ecs']['service']}",
        f"  redis       127.0.0.1:{redis['port']} ({'open' if redis['endpoint_open'] else 'REFUSING'}); {nodes}",
        (f"  postgres    127.0.0.1:{status['postgres']['port']} db {status['postgres']['database']} "
         f"({status['postgres'].get('app_user')} limit {status['postgres'].get('app_connection_limit')})"),
        f"  datadog     {status['datadog']['url']}",
        f"  health      {status['health']['url']}",
        f"  slack       {status['slack']['url']}",
        f"  pagerduty   {status['pagerduty']['url']}",
        "  deps        " + "  ".join(f"{name} {url} ({status.get('dependency_status', {}).get(name, '?')})"
                                     for name, url in status.get("dependencies", {}).items()),
        f"  details     python -m lab status --json  (also {status['state_dir']}/status.json)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_usage(sys.stderr)
        return 2
    try:
        if args.command == "up":
            status = client.up()
            already = status.pop("already_running", False)
            print("lab is already running" if already else "lab is up")
            print(render(status))
        elif args.command == "down":
            print("lab stopped" if client.down() else "lab is not running")
        elif args.command == "status":
            status = client.status()
            print(json.dumps(status, indent=2) if args.json else render(status))
            return 0 if status.get("running") else 3
        elif args.command == "break":
            options: dict[str, Any] = {}
            if args.replica_down:
                options["replica_down"] = True
            if args.no_good_revision:
                options["no_good_revision"] = True
            if args.pool_only:
                options["pool_only"] = True
            if args.age is not None:
                options["age"] = args.age
            result = client.break_incident(args.incident, **options)
            opts = ", ".join(f"{k}={v}" for k, v in result.get("options", {}).items() if not isinstance(v, dict))
            print(f"broke {result['incident']}" + (f" ({opts})" if opts else ""))
        elif args.command == "heal":
            result = client.heal()
            if result.get("changed"):
                print("healed: " + "; ".join(result.get("changes", [])))
            else:
                print("nothing to heal: the lab is at its baseline")
    except LabError as exc:
        sys.stderr.write(f"lab: {exc}\n")
        return exc.exit_code
    except BrokenPipeError:  # e.g. `python -m lab status | head -1`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("lab: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback
        sys.stderr.write(f"lab: {type(exc).__name__}: {' '.join(str(exc).split())}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
