"""CLI: python -m lab up [--iam] | down | status [--json] | heal | iam on|off
       | break INCIDENT [--replica-down | --no-good-revision | --pool-only | --age SECONDS]
       | fleet N [--broken K] [--inventory PATH] | fleet-inventory PATH
       | fault [status | clear | BACKEND MODE [--operation NAME] [--seconds N]] [--json]
       | journal [--since T] [--json] [--clear]

Exit codes: 0 ok; 1 error; 2 usage error / unknown or not implemented incident; 3 ``status`` when the lab
is not running. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from . import client, config
from .scenarios import LabError

# lab/fleet.py's SYMPTOMS (not imported: it pulls in the simulator)
FLEET_SYMPTOMS = ("service_down", "redis_down", "db_pool_exhausted", "memory_leak", "high_error_rate")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"lab: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lab", description="Local lab for the sre.incident collection.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p_up = sub.add_parser("up", help="start the lab (idempotent)")
    p_up.add_argument("--iam", action="store_true", help="enforce docs/iam-policy.json on the automation's AWS calls")
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
    sub.add_parser("heal", help="undo every injected incident (and remove the fleet)")
    p_fleet = sub.add_parser("fleet", help="seed N simulated services svc-001... (0 removes them)")
    p_fleet.add_argument("count", metavar="N", type=int, help="how many services (0 to 200)")
    p_fleet.add_argument("--broken", type=int, default=0, metavar="K",
                         help="break K of them (every (N//K)-th), cycling through " + ", ".join(FLEET_SYMPTOMS))
    p_fleet.add_argument("--inventory", metavar="PATH", help="also write an Ansible inventory directory at PATH")
    p_iam = sub.add_parser("iam", help="enforce docs/iam-policy.json on the automation's AWS calls, or stop")
    p_iam.add_argument("switch", choices=("on", "off"))
    p_inv = sub.add_parser("fleet-inventory", help="write the seeded fleet's Ansible inventory directory at PATH")
    p_inv.add_argument("path", metavar="PATH")
    p_fault = sub.add_parser("fault", help="inject a backend fault (BACKEND MODE), list them (status) or clear them")
    p_fault.add_argument("words", nargs="*", metavar="BACKEND MODE | status | clear")
    p_fault.add_argument("--operation", metavar="NAME", help="aws: one AWS operation (UpdateService); slack: one "
                                                             "Web API method (chat.postMessage)")
    p_fault.add_argument("--seconds", type=float, metavar="N", help="slow: answer after N seconds (default 30)")
    p_fault.add_argument("--json", action="store_true", help="print the active faults as JSON")
    p_journal = sub.add_parser("journal", help="list every mutating call the backends received from clients")
    p_journal.add_argument("--since", metavar="T", help="only entries at or after T (epoch seconds or ISO 8601)")
    p_journal.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    p_journal.add_argument("--clear", action="store_true", help="empty the journal")
    return parser


def render_fault(fault: dict[str, Any]) -> str:
    text = f"{fault['backend']} {fault['mode']}"
    if fault.get("operation"):
        text += f" --operation {fault['operation']}"
    if fault.get("seconds") is not None:
        text += f" --seconds {fault['seconds']:g}"
    return text


def render_entry(entry: dict[str, Any]) -> str:
    params = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in entry.get("params", {}).items()
                      if k != "aws_service")
    return f"{entry['seq']:>4} {entry['time']} {entry['backend']:<9} {entry['operation']} {entry['target']}" + (
        f"  {params}" if params else "")


def fault_command(args: argparse.Namespace) -> int:
    words = args.words
    if not words or words == ["status"]:
        if args.operation is not None or args.seconds is not None:
            raise LabError("--operation and --seconds go with BACKEND MODE", exit_code=2)
        active = client.faults()
        if args.json:
            print(json.dumps(active, indent=2))
        else:
            print("\n".join(f"fault: {render_fault(f)}" for f in active) if active else "no faults")
        return 0
    if words == ["clear"]:
        if args.operation is not None or args.seconds is not None:
            raise LabError("fault clear takes no options", exit_code=2)
        cleared = client.clear_faults()["cleared"]
        print("cleared: " + ", ".join(render_fault(f) for f in cleared) if cleared else "no faults to clear")
        return 0
    if len(words) != 2:
        raise LabError("fault takes BACKEND MODE, status or clear (e.g. fault aws throttling --operation "
                       "UpdateService)", exit_code=2)
    result = client.fault(words[0], words[1], operation=args.operation, seconds=args.seconds)
    print(json.dumps(result["fault"]) if args.json else f"fault: {render_fault(result['fault'])}")
    return 0


def journal_command(args: argparse.Namespace) -> int:
    if args.clear:
        if args.since is not None:
            raise LabError("journal --clear takes no --since", exit_code=2)
        print(f"journal cleared ({client.clear_journal()} entries)")
        return 0
    entries = client.journal(since=args.since)
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        print("\n".join(render_entry(e) for e in entries) if entries else "journal: no changes")
    return 0


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
        f"  aws         {status['aws']['endpoint_url']}  region {status['aws']['region']}"
        + ("  (IAM enforced: docs/iam-policy.json)" if status.get("iam", {}).get("enforced") else ""),
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
    if status.get("faults"):
        lines.insert(-1, "  faults      " + "; ".join(render_fault(f) for f in status["faults"]))
    fleet = status.get("fleet") or {}
    if fleet.get("count"):
        lines.insert(-1, f"  fleet       {describe_fleet(fleet)}")
    return "\n".join(lines)


def describe_fleet(fleet: dict[str, Any]) -> str:
    names = [s["name"] for s in fleet.get("services", [])]
    span = f"{names[0]} .. {names[-1]}" if len(names) > 1 else names[0]
    broken = ", ".join(f"{name} {incident}" for name, incident in fleet.get("broken", {}).items())
    return f"{len(names)} simulated services ({span}); broken: {broken or 'none'}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_usage(sys.stderr)
        return 2
    try:
        if args.command == "up":
            if args.iam:
                os.environ["SRE_LAB_IAM"] = "1"
            status = client.up()
            if args.iam and status.get("already_running"):
                client.iam(enforce=True)
                status = {**client.status(), "already_running": True}
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
        elif args.command == "fleet":
            result = client.fleet(args.count, args.broken, inventory=args.inventory)
            fleet = result["fleet"]
            if fleet["count"]:
                print(f"fleet: {describe_fleet(fleet)}")
            else:
                print(f"fleet removed ({result['removed']} services)" if result.get("removed") else "no fleet")
            if "inventory" in result:
                print(f"inventory: {result['inventory']['path']} ({result['inventory']['hosts']} hosts in group "
                      f"services; ansible-playbook -i {result['inventory']['path']} ...)")
        elif args.command == "iam":
            result = client.iam(enforce=args.switch == "on")
            print(f"IAM enforced: {result['enforced']} (policy user {result['policy_user']['name']})")
        elif args.command == "fleet-inventory":
            written = client.fleet_inventory(args.path)
            print(f"inventory: {written['path']} ({written['hosts']} hosts in group services)")
        elif args.command == "fault":
            return fault_command(args)
        elif args.command == "journal":
            return journal_command(args)
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
