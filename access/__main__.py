"""Command line for the IT team: `python -m access check-serve|secrets|roles|audit`.

    python -m access check-serve -- [streamlit arguments]   # prints the --server.address to add, or refuses
    python -m access secrets --redirect-uri URL --metadata-url URL --client-id ID --out .streamlit/secrets.toml
    python -m access roles [--file config/roles.toml] [--claims '{"groups": ["..."]}']
    python -m access audit verify [--log PATH] [--head SEQ:HASH]
    python -m access audit export [--log PATH] [--user U] [--event E] [--out audit.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from access import audit, roles, serve

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _cmd_check_serve(args: argparse.Namespace) -> int:
    streamlit_args = [a for a in args.streamlit_args if a != "--"]
    env = dict(os.environ)
    cwd = Path.cwd()
    secrets_files = serve.requested_secrets_files(streamlit_args, env) or serve.secrets_paths(cwd, PROJECT_ROOT)
    try:
        auth = serve.read_auth_section(secrets_files)
    except ValueError as error:
        print(f"check-serve: {error}", file=sys.stderr)
        return 2
    config_files = [Path.home() / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml"]
    address = serve.requested_address(streamlit_args, env, config_files)
    decision = serve.serve_decision(address, serve.auth_state(auth), serve.allow_unauthenticated(env))
    for problem in serve.auth_problems(auth):
        print(f"check-serve: {problem}", file=sys.stderr)
    print(f"check-serve: {decision.message}", file=sys.stderr)
    if not decision.ok:
        return 2
    print(decision.address)
    return 0


def _cmd_secrets(args: argparse.Namespace) -> int:
    client_secret = os.environ.get(args.client_secret_env, "") if args.client_secret_env else args.client_secret
    if not client_secret:
        print("secrets: give the client secret with --client-secret-env VARIABLE (kept out of shell history)",
              file=sys.stderr)
        return 2
    text = serve.secrets_toml(redirect_uri=args.redirect_uri, server_metadata_url=args.metadata_url,
                              client_id=args.client_id, client_secret=client_secret, scope=args.scope)
    problems = serve.auth_problems(serve.read_auth_section_from_text(text))
    if problems:
        print("secrets: " + "; ".join(problems), file=sys.stderr)
        return 2
    try:
        serve.write_secrets(Path(args.out), text)
    except FileExistsError:
        print(f"secrets: {args.out} exists; move it away first", file=sys.stderr)
        return 2
    print(f"wrote {args.out} (mode 0600)")
    return 0


def _cmd_roles(args: argparse.Namespace) -> int:
    try:
        mapping = roles.load_role_mapping(args.file)
    except roles.RoleMappingError as error:
        print(f"roles: {error}", file=sys.stderr)
        return 2
    print(f"{mapping.source}: claim {mapping.claim!r}, precedence {' > '.join(mapping.order)}")
    for role in mapping.order:
        caps = roles.capabilities_for(role)
        print(f"  {role}: {', '.join(sorted(mapping.values.get(role, ()))) or '(no groups)'} -> views "
              f"{', '.join(sorted(caps.views))}")
    if args.claims:
        try:
            claims = json.loads(args.claims)
        except ValueError as error:
            print(f"roles: --claims is not JSON: {error}", file=sys.stderr)
            return 2
        print(f"role for {args.claims}: {roles.role_for(claims, mapping) or 'none (signed in, not authorised)'}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    if args.action == "verify":
        head = None
        if args.head:
            seq, _, digest = args.head.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                print("audit: --head must be SEQ:HASH as in the server log's 'audit head' lines", file=sys.stderr)
                return 2
            head = (int(seq), digest)
        result = audit.verify_log(args.log, expected_head=head)
        for problem in result.problems:
            print(problem, file=sys.stderr)
        where = audit.audit_log_path(args.log)
        if result.ok:
            seq, digest = result.head if result.head else (0, audit.GENESIS)
            print(f"{where}: {result.entries} entries, chain intact; head {seq}:{digest}")
            return 0
        print(f"{where}: {len(result.problems)} problem(s) in {result.entries} entries", file=sys.stderr)
        return 1
    entries = audit.filter_entries(audit.read_entries(args.log), user=args.user, event=args.event)
    data = audit.entries_csv(entries)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {len(entries)} entries to {args.out}")
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m access", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-serve", help="apply the serve-address rule to streamlit's arguments")
    check.add_argument("streamlit_args", nargs=argparse.REMAINDER)
    check.set_defaults(run=_cmd_check_serve)
    make = commands.add_parser("secrets", help="write a secrets.toml with an [auth] section")
    make.add_argument("--redirect-uri", required=True, help="https://HOST/oauth2callback")
    make.add_argument("--metadata-url", required=True, help="the provider's .well-known/openid-configuration")
    make.add_argument("--client-id", required=True)
    make.add_argument("--client-secret-env", help="environment variable holding the client secret")
    make.add_argument("--client-secret", help=argparse.SUPPRESS)
    make.add_argument("--scope", default="openid profile email")
    make.add_argument("--out", required=True)
    make.set_defaults(run=_cmd_secrets)
    show = commands.add_parser("roles", help="check the role-mapping file; optionally map some claims")
    show.add_argument("--file")
    show.add_argument("--claims", help='ID-token claims as JSON, e.g. {"groups": ["crime-monitor-panel"]}')
    show.set_defaults(run=_cmd_roles)
    log = commands.add_parser("audit", help="verify or export the audit log")
    log.add_argument("action", choices=("verify", "export"))
    log.add_argument("--log", help="the audit log (default $CRIME_MONITOR_AUDIT_LOG or data/audit/audit.jsonl)")
    log.add_argument("--head", help="SEQ:HASH recorded elsewhere (server log) to check the newest entries")
    log.add_argument("--user")
    log.add_argument("--event", choices=audit.EVENTS)
    log.add_argument("--out")
    log.set_defaults(run=_cmd_audit)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
